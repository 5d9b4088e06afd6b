// Internals shared by the strategic-merge-patch apply side (patch_strategic.cpp)
// and the three-way diff side (patch_diff.cpp). Not part of the public contract.
#pragma once
#include <string>
#include <vector>

#include "common/patch.h"

namespace k1s::smp {

inline constexpr const char* kPatchMarker = "$patch";
inline constexpr const char* kRetainKeys = "$retainKeys";
inline constexpr const char* kDeletePrefix = "$deleteFromPrimitiveList";
inline constexpr const char* kOrderPrefix = "$setElementOrder";

// How the field `key` below the current path patches.
struct FieldMeta {
  std::string strategy;  // "merge", "replace" or "" (lists: replace, maps: merge)
  std::string mergeKey;
  bool retainKeys = false;
};

// The schema position of a map being merged or diffed: its path of field
// names from the object root plus the caller's lookup.
struct Schema {
  const ListStrategyLookup* lookup = nullptr;
  std::vector<std::string> path;

  Schema child(const std::string& key) const;
  FieldMeta meta(const std::string& key) const;
  std::string name() const { return path.empty() ? "" : path.back(); }
};

struct MergeOptions {
  bool mergeParallelList = true;     // apply $deleteFromPrimitiveList instead of carrying it
  bool ignoreUnmatchedNulls = true;  // drop nulls for absent keys instead of carrying them
};

// Coarse JSON type, as Go's reflect.TypeOf distinguishes decoded values
// (all numbers are one type).
enum class Kind { Null, Bool, Number, String, Object, Array };
Kind kindOf(const Json& v);

// Go's fmt "%v" rendering of a decoded JSON value (used in kube's messages
// and for the string ordering of scalars and merge keys).
std::string goString(const Json& v);

// Kube's error classes for a failed strategic merge patch.
[[noreturn]] void failBadRequest(const std::string& msg);   // 400
[[noreturn]] void failInvalid();                            // 422 generic
[[noreturn]] void failMalformed(const std::string& msg);    // 400 (kube: a bare 500)

bool startsWith(const std::string& s, const std::string& prefix);

Json mergeMap(Json original, Json patch, const Schema& schema, const MergeOptions& opts);

// Ordering helpers used by both merge and diff.
std::vector<Json> normalizeSliceOrder(std::vector<Json> toSort, const std::vector<Json>& order,
                                      const std::string& mergeKey, Kind kind);
Kind sliceElementKind(const std::vector<const Json*>& lists);
std::vector<Json> sortScalars(std::vector<Json> s);

}  // namespace k1s::smp
