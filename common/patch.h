// The three patch kinds kubectl and controllers send.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

// RFC 7386 JSON merge patch. Never throws.
Json mergePatch(const Json& original, const Json& patch);

// RFC 6902 JSON patch (add, remove, replace, move, copy, test). Throws
// ApiError 422/400 as kube does when an operation cannot be applied.
Json jsonPatch(const Json& original, const Json& ops);

// How a list field merges, looked up in the schema by its path of field names
// from the object root (array indices are not part of the path), e.g.
// {"spec","template","spec","containers"} -> {mergeKey "name", strategy "merge"}.
struct ListStrategy {
  std::string strategy;  // "merge", "replace" (atomic), "merge,retainKeys"
  std::string mergeKey;  // empty for primitive lists
  bool retainKeys = false;
};
using ListStrategyLookup = std::function<std::optional<ListStrategy>(const std::vector<std::string>& path)>;

// Strategic merge patch with kube's directives ($patch: replace|delete|merge,
// $retainKeys, $deleteFromPrimitiveList/<field>, $setElementOrder/<field>).
// Lists without a strategy in the schema are replaced. Throws ApiError 400 on
// malformed directives.
Json strategicMergePatch(const Json& original, const Json& patch, const ListStrategyLookup& lookup);

// The three-way strategic patch kubectl apply computes from
// last-applied, the new file and the live object (for our CLI's apply).
Json createThreeWayMergePatch(const Json& lastApplied, const Json& modified, const Json& current,
                              const ListStrategyLookup& lookup);

}  // namespace k1s
