// Private helpers shared by the apiserver/validation_*.cpp files: kube's
// field.ErrorList builders (same reasons and message bodies), Go-style value
// printing (kube prints bad values with %q / %#v), the syntax checks of
// k8s.io/apimachinery/pkg/util/validation, and the per-kind validators.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/json.h"

namespace k1s::vi {

// ---- field paths, as field.Path prints them: a.b[0].c, data[key] ----
inline std::string child(const std::string& p, const std::string& name) { return p.empty() ? name : p + "." + name; }
inline std::string index(const std::string& p, size_t i) { return p + "[" + std::to_string(i) + "]"; }
inline std::string key(const std::string& p, const std::string& k) { return p + "[" + k + "]"; }

// ---- Go-style printing of bad values ----
// goQuote (%q) is k1s::goQuote, common/errors.h
std::string goValue(const Json& v);                   // number as is, string %q, null "null"
std::string goStringMap(const Json& m);               // map[string]string{"a":"b"} (%#v, keys sorted)
std::string goStringSlice(const Json& a);             // []string{"a", "b"} / []string(nil)
std::string goLabelSelector(const Json& sel);         // v1.LabelSelector{MatchLabels:..., MatchExpressions:...}

// ---- kube's field.Error constructors; message = ErrorBody() ----
class Errs {
 public:
  void invalid(const std::string& path, const std::string& goVal, const std::string& detail);
  void required(const std::string& path, const std::string& detail = "");
  void duplicate(const std::string& path, const std::string& goVal);
  void notSupported(const std::string& path, const std::string& goVal, const std::vector<std::string>& valid);
  void forbidden(const std::string& path, const std::string& detail);
  void tooLong(const std::string& path, long long maxBytes);
  void notFound(const std::string& path, const std::string& goVal);
  void add(const std::vector<StatusCause>& more) { list.insert(list.end(), more.begin(), more.end()); }
  // Invalid once per message, as kube loops over the messages of a syntax check.
  void invalidEach(const std::string& path, const std::string& goVal, const std::vector<std::string>& msgs) {
    for (auto& m : msgs) invalid(path, goVal, m);
  }
  std::vector<StatusCause> list;
};

// ---- JSON access that tolerates absent / null / wrong-typed fields ----
const Json* field(const Json& o, const char* name);  // nullptr unless o is an object holding a non-null name
std::string str(const Json& o, const char* name);    // "" unless a string
bool isInt(const Json* v);
long long num(const Json& o, const char* name, long long dflt);
const Json& arr(const Json& o, const char* name);    // empty array unless an array
const Json& obj(const Json& o, const char* name);    // empty object unless an object

// ---- syntax checks: each returns kube's messages (empty = valid) ----
std::vector<std::string> dns1123LabelMsgs(const std::string& s);
std::vector<std::string> dns1123SubdomainMsgs(const std::string& s);
std::vector<std::string> dns1035LabelMsgs(const std::string& s);
std::vector<std::string> qualifiedNameMsgs(const std::string& s);
std::vector<std::string> labelValueMsgs(const std::string& s);
std::vector<std::string> portNameMsgs(const std::string& s);  // IANA_SVC_NAME
std::vector<std::string> portNumMsgs(long long port);         // 1..65535
std::vector<std::string> configMapKeyMsgs(const std::string& s);
std::vector<std::string> envVarNameMsgs(const std::string& s);
std::vector<std::string> ipMsgs(const std::string& s);         // IPv4 or IPv6
std::vector<std::string> percentMsgs(const std::string& s);    // "25%"
std::string inclusiveRange(long long lo, long long hi);        // "must be between 1 and 65535, inclusive"
inline const char* kNegative = "must be greater than or equal to 0";
inline const char* kImmutable = "field is immutable";
bool isIPv4(const std::string& s);
bool isIPv6(const std::string& s);

// Resource quantities ("500m", "1Gi", "2e3"); nullopt when malformed.
std::optional<long double> parseQuantity(const std::string& s);
extern const char* kQuantityRegexMsg;

// A metav1.LabelSelector object matches labels (matchLabels AND matchExpressions).
bool selectorMatches(const Json& selector, const Json& labels);

// ---- object metadata ----
using NameFn = std::vector<std::string> (*)(const std::string& name, bool prefix);
std::vector<std::string> nameIsDnsSubdomain(const std::string& name, bool prefix);
std::vector<std::string> nameIsDnsLabel(const std::string& name, bool prefix);
std::vector<std::string> nameIsDns1035Label(const std::string& name, bool prefix);
void validateObjectMeta(Errs& e, const Json& meta, bool namespaced, NameFn nameFn, const std::string& path);
void validateObjectMetaUpdate(Errs& e, const Json& meta, const Json& oldMeta, const std::string& path);
void validateLabels(Errs& e, const Json& labels, const std::string& path);
void validateAnnotations(Errs& e, const Json& annotations, const std::string& path);
void validateLabelSelector(Errs& e, const Json& sel, const std::string& path);

// ---- per kind (validation_pod.cpp, validation_apps.cpp, validation_service.cpp, validation.cpp) ----
void validatePodSpec(Errs& e, const Json& spec, const std::string& path);
void validatePodTemplate(Errs& e, const Json& tmpl, const std::string& path);
void validatePodUpdate(Errs& e, const Json& pod, const Json& old);
void validateDeployment(Errs& e, const Json& d);
void validateReplicaSet(Errs& e, const Json& rs);
void validateSelectorImmutable(Errs& e, const Json& obj, const Json& old);
void validateService(Errs& e, const Json& svc);
void validateServiceUpdate(Errs& e, const Json& svc, const Json& old);
void validateEndpoints(Errs& e, const Json& ep);
void validateEndpointSlice(Errs& e, const Json& es);

}  // namespace k1s::vi
