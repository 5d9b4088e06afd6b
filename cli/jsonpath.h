// kubectl's JSONPath dialect (client-go util/jsonpath) for -o jsonpath and
// -o custom-columns: a template of text and {actions}; actions are paths
// (.a.b, ['a.b'], [0], [1:3], [*], .., [?(@.x=="y")], [a,b], @, $), quoted
// literals ({"\n"}), and {range EXPR}...{end} blocks.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s::cli {

// Parse or evaluation failure; what() is client-go's wording
// ("unclosed action", "status is not found", ...).
class JsonPathError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JsonPathNode;

// Bounds on one evaluation: values its steps may select and JSON nodes its results may hold
// (repeated recursive descent or nested ranges grow exponentially in the template's length);
// beyond either it fails with JsonPathError. Process-wide; the fuzz target lowers them.
struct JsonPathLimits {
  size_t maxValues = size_t(1) << 20;
  size_t maxCopied = size_t(1) << 21;
};
extern JsonPathLimits jsonPathLimits;

class JsonPath {
 public:
  // Throws JsonPathError on a syntax error.
  explicit JsonPath(const std::string& tmpl);
  ~JsonPath();
  JsonPath(JsonPath&&) noexcept;

  // kubectl's --allow-missing-template-keys (true for -o jsonpath by default):
  // a missing field yields nothing instead of an error.
  void allowMissingKeys(bool allow) { allowMissing_ = allow; }

  // The template rendered over `data`: text as written, each action's results
  // separated by spaces, strings raw, objects/arrays as compact JSON.
  std::string execute(const Json& data) const;

  // Each action's results without printing (custom-columns).
  std::vector<std::vector<Json>> findResults(const Json& data) const;

 private:
  std::vector<std::shared_ptr<JsonPathNode>> nodes_;
  bool allowMissing_ = false;
};

// custom-columns' relaxed form: "metadata.name", ".metadata.name" and
// "{.metadata.name}" all mean "{.metadata.name}".
std::string relaxedJsonPath(const std::string& expr);

// A value as Go's fmt "%v" prints a decoded JSON value ("map[a:1]", "[x y]",
// "<nil>"): what custom-columns cells show.
std::string goValueText(const Json& v);

// A custom-columns spec: "NAME:.metadata.name,PHASE:.status.phase" (or the
// two-line file form: headers, then paths). Throws JsonPathError.
struct CustomColumn {
  std::string header;
  std::string path;  // already in {...} form
};
std::vector<CustomColumn> parseCustomColumns(const std::string& spec);
std::vector<CustomColumn> parseCustomColumnsFile(const std::string& text);
// One row of cells for `obj` ("<none>" for a missing value, several values
// joined by ",").
std::vector<std::string> customColumnCells(const std::vector<CustomColumn>& cols, const Json& obj);

}  // namespace k1s::cli
