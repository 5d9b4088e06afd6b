// YAML in and out, as kubectl reads and prints it.
#pragma once
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

// Parses one or more '---'-separated documents into JSON (ints, floats, bools,
// null and strings typed as YAML 1.1 / sigs.k8s.io/yaml would). Empty
// documents are skipped. Throws std::runtime_error with line:col on bad YAML.
std::vector<Json> parseYamlDocuments(const std::string& text);
// One document (a JSON document is valid YAML).
Json parseYaml(const std::string& text);
// Prints JSON as kubectl -o yaml does: sorted keys, 2-space indent, list items
// at the parent's indent, strings quoted only when needed.
std::string toYaml(const Json& value);

}  // namespace k1s
