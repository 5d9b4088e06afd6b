// Small helpers over object metadata and time.
#pragma once
#include <string>

#include "common/json.h"

namespace k1s {

std::string nowRfc3339();                // "2026-11-25T19:10:12Z"
std::string nowRfc3339Micro();           // "2026-11-25T19:10:12.123456Z" (MicroTime)
long long parseRfc3339(const std::string& s);  // seconds since epoch; -1 if malformed
std::string newUid();                    // random RFC 4122 v4
std::string randomSuffix(size_t n = 5);  // kube's generateName alphabet "bcdfghjklmnpqrstvwxz2456789"

inline const Json& metaOf(const Json& o) {
  static const Json empty = Json::object();
  auto it = o.find("metadata");
  return it != o.end() && it->is_object() ? *it : empty;
}
inline std::string nameOf(const Json& o) { return metaOf(o).value("name", ""); }
inline std::string namespaceOf(const Json& o) { return metaOf(o).value("namespace", ""); }
inline Json labelsOf(const Json& o) {
  auto& m = metaOf(o);
  auto it = m.find("labels");
  return it != m.end() && it->is_object() ? *it : Json::object();
}
// Returns the controller ownerReference (controller: true) or null.
Json controllerRef(const Json& o);

}  // namespace k1s
