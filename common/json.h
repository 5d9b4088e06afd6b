// The one JSON type of k1s. Objects are plain JSON, as on the wire.
#pragma once
#include <nlohmann/json.hpp>

namespace k1s {
using Json = nlohmann::json;

// The word Go's encoding/json uses for a JSON value's type in "cannot unmarshal X into ...".
inline const char* goJsonTypeWord(const Json& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  return "null";
}
}  // namespace k1s
