// Label and field selectors, as kube-apiserver parses and matches them.
#pragma once
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

// A parsed label selector: "a=b,c!=d,e in (f,g),h notin (i),j,!k".
// Parse errors throw ApiError 400 (BadRequest) with kube's message.
class LabelSelector {
 public:
  struct Requirement {
    std::string key;
    std::string op;  // "=", "!=", "in", "notin", "exists", "!"
    std::vector<std::string> values;
  };
  LabelSelector() = default;
  static LabelSelector parse(const std::string& text);
  // From a metav1.LabelSelector object {matchLabels, matchExpressions};
  // a null/absent selector matches nothing, an empty object matches everything.
  static LabelSelector fromObject(const Json& sel);
  bool matches(const Json& labels) const;  // labels: JSON object of string->string (or null)
  bool empty() const { return reqs_.empty() && !nothing_; }
  std::string toString() const;
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
  bool nothing_ = false;
};

// A parsed field selector: "metadata.name=x,status.phase!=Running".
// Only the fields a kind supports are allowed; an unsupported field throws
// ApiError 400 ('field label not supported: X').
class FieldSelector {
 public:
  struct Requirement {
    std::string field;
    std::string op;  // "=", "!="
    std::string value;
  };
  FieldSelector() = default;
  static FieldSelector parse(const std::string& text, const std::string& kind);
  bool matches(const Json& obj) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

// The value of a field-selector field on an object ("metadata.name", "spec.nodeName", ...).
std::string fieldValue(const Json& obj, const std::string& field);

}  // namespace k1s
