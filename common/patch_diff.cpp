// The three-way strategic merge patch kubectl apply computes: deletions from
// last-applied to the new config, plus changes from the live object to the new
// config, combined the way strategicpatch.CreateThreeWayMergePatch does.
#include <algorithm>

#include "common/errors.h"
#include "common/patch_internal.h"

namespace k1s::smp {
namespace {

struct DiffOptions {
  bool setElementOrder = true;
  bool ignoreChangesAndAdditions = false;
  bool ignoreDeletions = false;
  bool buildRetainKeys = false;
};

Json diffMaps(const Json& original, const Json& modified, const Schema& schema, DiffOptions opts);

const Json& mergeKeyOf(const Json& item, const std::string& mergeKey) {
  if (!item.is_object()) failMalformed("expected a map[string]interface {}, but received a " + goString(item));
  auto it = item.find(mergeKey);
  if (it == item.end()) {
    failMalformed("map: " + goString(item) + " does not contain declared merge key: " + mergeKey);
  }
  return *it;
}

// Additions/changes and deletions between two lists of maps merged by key,
// walking both sorted by the string form of the key as kube does.
void diffListsOfMaps(const Json& original, const Json& modified, const Schema& schema, const std::string& mergeKey,
                     const DiffOptions& opts, std::vector<Json>& patch, std::vector<Json>& deletions) {
  auto sorted = [&](const Json& l) {
    std::vector<Json> v(l.begin(), l.end());
    for (const auto& e : v) mergeKeyOf(e, mergeKey);
    std::stable_sort(v.begin(), v.end(), [&](const Json& a, const Json& b) {
      return goString(a[mergeKey]) < goString(b[mergeKey]);
    });
    return v;
  };
  auto os = sorted(original), ms = sorted(modified);
  size_t oi = 0, mi = 0;
  while (oi < os.size() || mi < ms.size()) {
    bool oin = oi < os.size(), min = mi < ms.size();
    std::string ok = oin ? goString(os[oi][mergeKey]) : "", mk = min ? goString(ms[mi][mergeKey]) : "";
    if (oin && min && ok == mk) {
      Json p = diffMaps(os[oi], ms[mi], schema, opts);
      if (!p.empty()) {
        p[mergeKey] = ms[mi][mergeKey];
        patch.push_back(std::move(p));
      }
      ++oi;
      ++mi;
    } else if (!oin || (min && ok > mk)) {
      if (!opts.ignoreChangesAndAdditions) patch.push_back(ms[mi]);
      ++mi;
    } else {
      if (!opts.ignoreDeletions) {
        deletions.push_back(Json{{mergeKey, os[oi][mergeKey]}, {kPatchMarker, "delete"}});
      }
      ++oi;
    }
  }
}

void diffListsOfScalars(const Json& original, const Json& modified, const DiffOptions& opts,
                        std::vector<Json>& additions, std::vector<Json>& deletions) {
  auto os = sortScalars(std::vector<Json>(original.begin(), original.end()));
  auto ms = sortScalars(std::vector<Json>(modified.begin(), modified.end()));
  size_t oi = 0, mi = 0;
  while (oi < os.size() || mi < ms.size()) {
    bool oin = oi < os.size(), min = mi < ms.size();
    std::string o = oin ? goString(os[oi]) : "", m = min ? goString(ms[mi]) : "";
    if (oin && min && o == m) {
      ++oi;
      ++mi;
    } else if (!oin || (min && o > m)) {
      if (!opts.ignoreChangesAndAdditions) additions.push_back(ms[mi]);
      ++mi;
    } else {
      if (!opts.ignoreDeletions && std::find(deletions.begin(), deletions.end(), os[oi]) == deletions.end()) {
        deletions.push_back(os[oi]);
      }
      ++oi;
    }
  }
}

bool isOrderSame(const Json& original, const Json& modified, const std::string& mergeKey) {
  if (original.size() != modified.size()) return false;
  for (size_t i = 0; i < modified.size(); ++i) {
    if (mergeKeyOf(original[i], mergeKey) != mergeKeyOf(modified[i], mergeKey)) return false;
  }
  return true;
}

// A merge list's diff: the patch list (deletion directives for maps appended),
// the parallel deletion list for primitives, and the $setElementOrder list.
void diffLists(const Json& original, const Json& modified, const Schema& schema, const std::string& mergeKey,
               const DiffOptions& opts, Json& patchList, Json& deleteList, Json& orderList) {
  patchList = deleteList = orderList = Json::array();
  if (original.empty()) {
    if (!modified.empty() && !opts.ignoreChangesAndAdditions) patchList = modified;
    return;
  }
  Kind kind = sliceElementKind({&original, &modified});
  std::vector<Json> patch, deletions;
  std::vector<Json> modVec(modified.begin(), modified.end());
  if (kind == Kind::Object) {
    diffListsOfMaps(original, modified, schema, mergeKey, opts, patch, deletions);
    patch = normalizeSliceOrder(std::move(patch), modVec, mergeKey, kind);
    bool orderSame = isOrderSame(original, modified, mergeKey);
    for (auto& d : deletions) patch.push_back(std::move(d));
    bool changed = !patch.empty();
    if (opts.setElementOrder &&
        ((!opts.ignoreChangesAndAdditions && (changed || !orderSame)) || (!opts.ignoreDeletions && changed))) {
      for (const auto& m : modified) orderList.push_back(Json{{mergeKey, m[mergeKey]}});
    }
  } else {
    diffListsOfScalars(original, modified, opts, patch, deletions);
    patch = normalizeSliceOrder(std::move(patch), modVec, mergeKey, kind);
    for (auto& d : deletions) deleteList.push_back(std::move(d));
    if (opts.setElementOrder && ((!opts.ignoreDeletions && !deleteList.empty()) ||
                                 (!opts.ignoreChangesAndAdditions && original != modified))) {
      orderList = modified;
    }
  }
  for (auto& p : patch) patchList.push_back(std::move(p));
}

void handleSliceDiff(const std::string& key, const Json& original, const Json& modified, Json& patch,
                     const Schema& schema, DiffOptions opts) {
  FieldMeta meta = schema.meta(key);
  if (meta.strategy != "merge") {
    if (!opts.ignoreChangesAndAdditions && original != modified) patch[key] = modified;
    return;
  }
  opts.buildRetainKeys = meta.retainKeys;
  Json add, del, order;
  diffLists(original, modified, schema.child(key), meta.mergeKey, opts, add, del, order);
  if (!add.empty()) patch[key] = add;
  if (!del.empty()) patch[std::string(kDeletePrefix) + "/" + key] = del;
  if (!order.empty()) patch[std::string(kOrderPrefix) + "/" + key] = order;
}

void handleMapDiff(const std::string& key, const Json& original, const Json& modified, Json& patch,
                   const Schema& schema, DiffOptions opts) {
  FieldMeta meta = schema.meta(key);
  opts.buildRetainKeys = meta.retainKeys;
  if (meta.strategy == "replace") {
    if (!opts.ignoreChangesAndAdditions) patch[key] = modified;
    return;
  }
  Json p = diffMaps(original, modified, schema.child(key), opts);
  if (!p.empty()) patch[key] = std::move(p);
}

Json diffMaps(const Json& original, const Json& modified, const Schema& schema, DiffOptions opts) {
  Json patch = Json::object();
  Json retainKeys = Json::array();
  for (auto& [key, mod] : modified.items()) {
    if (opts.buildRetainKeys && !mod.is_null()) retainKeys.push_back(key);
    auto it = original.find(key);
    if (it == original.end()) {
      if (!opts.ignoreChangesAndAdditions) patch[key] = mod;
      continue;
    }
    if (key == kPatchMarker) {
      if (!it->is_string() || !mod.is_string()) failMalformed("invalid value for special key: $patch");
      if (*it != mod) patch[key] = mod;
      continue;
    }
    if (kindOf(*it) != kindOf(mod)) {
      if (!opts.ignoreChangesAndAdditions) patch[key] = mod;
      continue;
    }
    if (mod.is_object()) {
      handleMapDiff(key, *it, mod, patch, schema, opts);
    } else if (mod.is_array()) {
      handleSliceDiff(key, *it, mod, patch, schema, opts);
    } else if (!opts.ignoreChangesAndAdditions && *it != mod) {
      patch[key] = mod;
    }
  }
  if (!opts.ignoreDeletions) {
    for (auto& [key, v] : original.items()) {
      if (!modified.contains(key)) patch[key] = nullptr;
    }
  }
  if (!retainKeys.empty()) {
    bool extra = false;  // original has a non-null field the new config drops
    for (auto& [key, v] : original.items()) {
      if (!v.is_null() && !modified.contains(key)) extra = true;
    }
    if (!patch.empty() || extra) patch[kRetainKeys] = retainKeys;  // keys come sorted
  }
  return patch;
}

}  // namespace
}  // namespace k1s::smp

namespace k1s {

Json createThreeWayMergePatch(const Json& lastApplied, const Json& modified, const Json& current,
                              const ListStrategyLookup& lookup) {
  using namespace smp;
  Schema root{&lookup, {}};
  const Json empty = Json::object();
  const Json& o = lastApplied.is_object() ? lastApplied : empty;
  const Json& m = modified.is_object() ? modified : empty;
  const Json& c = current.is_object() ? current : empty;
  // Changes and additions from the live object, never deleting what others set...
  DiffOptions deltaOpts;
  deltaOpts.ignoreDeletions = true;
  Json delta = diffMaps(c, m, root, deltaOpts);
  // ...plus deletions of what the last apply set and the new config drops.
  DiffOptions delOpts;
  delOpts.ignoreChangesAndAdditions = true;
  Json deletions = diffMaps(o, m, root, delOpts);
  // Merged as two patches: nulls and parallel lists are carried, not applied.
  MergeOptions mergeOpts{false, false};
  return mergeMap(std::move(deletions), std::move(delta), root, mergeOpts);
}

}  // namespace k1s
