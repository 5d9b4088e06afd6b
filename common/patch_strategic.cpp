// Applying a strategic merge patch, following the behaviour of Kubernetes'
// strategicpatch package (merge by key, set-union of primitive lists, the
// $patch / $retainKeys / $deleteFromPrimitiveList / $setElementOrder
// directives, and its element-ordering rules).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "common/errors.h"
#include "common/patch_internal.h"

namespace k1s::smp {

// ---------------------------------------------------------------- basics

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

Schema Schema::child(const std::string& key) const {
  Schema s{lookup, path};
  s.path.push_back(key);
  return s;
}

FieldMeta Schema::meta(const std::string& key) const {
  FieldMeta m;
  if (!lookup || !*lookup) return m;
  auto p = path;
  p.push_back(key);
  auto ls = (*lookup)(p);
  if (!ls) return m;
  m.mergeKey = ls->mergeKey;
  m.retainKeys = ls->retainKeys;
  // The strategy string may combine "retainKeys" with one other strategy.
  std::string s = ls->strategy;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string tok = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (tok == "retainKeys") m.retainKeys = true;
    else if (!tok.empty()) m.strategy = tok;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return m;
}

Kind kindOf(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return Kind::Null;
    case Json::value_t::boolean: return Kind::Bool;
    case Json::value_t::string: return Kind::String;
    case Json::value_t::object: return Kind::Object;
    case Json::value_t::array: return Kind::Array;
    default: return Kind::Number;
  }
}

static std::string goFloat(double d) {
  // Go's %v for float64 is strconv 'g' with the shortest representation and
  // exponents from 1e21 up / below 1e-4.
  if (d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) return buf;
  }
  return std::to_string(d);
}

std::string goString(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "<nil>";
    case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case Json::value_t::string: return v.get<std::string>();
    case Json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float: return goFloat(v.get<double>());
    case Json::value_t::array: {
      std::string s = "[";
      bool first = true;
      for (const auto& e : v) {
        if (!first) s += " ";
        first = false;
        s += goString(e);
      }
      return s + "]";
    }
    case Json::value_t::object: {
      std::string s = "map[";
      bool first = true;
      for (const auto& [k, e] : v.items()) {  // nlohmann keeps keys sorted, as Go prints them
        if (!first) s += " ";
        first = false;
        s += k + ":" + goString(e);
      }
      return s + "]";
    }
    default: return "";
  }
}

void failBadRequest(const std::string& msg) { throw badRequest(msg); }
void failInvalid() {
  throw ApiError(422, "Invalid", "the server rejected our request due to an error in our request", Json::object());
}
// Errors strategicpatch returns that kube-apiserver does not classify (a missing merge key, list
// elements of mixed types, a non-map where a map belongs, an unknown $patch directive): kube answers
// them with a bare 500 and no reason. They are all faults of the patch, so k1s answers 400
// BadRequest with kube's message (DESIGN rule 8: bad input is never a 500).
void failMalformed(const std::string& msg) { throw badRequest(msg); }

static const std::string kErrPrimitiveList = "invalid patch format of primitive list";
static const std::string kErrRetainKeys = "invalid patch format of retainKeys";
static const std::string kErrSetOrder = "invalid patch format of setElementOrder list";

[[noreturn]] static void failNoMergeKey(const Json& m, const std::string& key) {
  failMalformed("map: " + goString(m) + " does not contain declared merge key: " + key);
}

static const char* goTypeName(const Json& v) {
  switch (kindOf(v)) {
    case Kind::Object: return "map[string]interface {}";
    case Kind::Array: return "[]interface {}";
    case Kind::String: return "string";
    case Kind::Bool: return "bool";
    case Kind::Number: return v.is_number_float() ? "float64" : "int64";
    default: return "<nil>";
  }
}
[[noreturn]] static void failBadArgType(const char* expected, const Json& actual) {
  failMalformed(std::string("expected a ") + expected + ", but received a " + goTypeName(actual));
}

static std::vector<Json> toVec(const Json& arr) {
  std::vector<Json> v;
  if (arr.is_array()) v.assign(arr.begin(), arr.end());
  return v;
}
static Json toArr(std::vector<Json> v) {
  Json a = Json::array();
  for (auto& e : v) a.push_back(std::move(e));
  return a;
}

Kind sliceElementKind(const std::vector<const Json*>& lists) {
  bool have = false;
  Kind prev = Kind::Null;
  for (const Json* l : lists) {
    if (!l || !l->is_array()) continue;
    for (const auto& e : *l) {
      Kind k = kindOf(e);
      if (!have) {
        if (k == Kind::Array) failInvalid();  // lists of lists are not supported
        prev = k;
        have = true;
      } else if (k != prev) {
        std::string all = "[";
        for (size_t i = 0; i < lists.size(); ++i) all += (i ? " " : "") + (lists[i] ? goString(*lists[i]) : "[]");
        failMalformed("list element types are not identical: " + all + "]");
      }
    }
  }
  if (!have) failMalformed("no elements in any of the given slices");
  return prev;
}

// ---------------------------------------------------------------- ordering

// The merge-key value of a map item, or the item itself for primitives.
static const Json* orderValue(const Json& item, const std::string& mergeKey, Kind kind) {
  if (kind != Kind::Object) return &item;
  if (!item.is_object()) return nullptr;
  auto it = item.find(mergeKey);
  return it == item.end() ? nullptr : &*it;
}

static int indexOf(const std::vector<Json>& list, const Json& item, const std::string& mergeKey, Kind kind) {
  static const Json kNull;
  const Json* want = orderValue(item, mergeKey, kind);
  if (!want) want = &kNull;
  for (size_t i = 0; i < list.size(); ++i) {
    const Json* have = orderValue(list[i], mergeKey, kind);
    if (*(have ? have : &kNull) == *want) return (int)i;
  }
  return -1;
}

std::vector<Json> sortScalars(std::vector<Json> s) {
  std::stable_sort(s.begin(), s.end(), [](const Json& a, const Json& b) { return goString(a) < goString(b); });
  return s;
}

static bool isDeleteItem(const Json& v) {
  auto it = v.find(kPatchMarker);
  return it != v.end() && *it == "delete";
}

std::vector<Json> normalizeSliceOrder(std::vector<Json> toSort, const std::vector<Json>& order,
                                      const std::string& mergeKey, Kind kind) {
  std::vector<Json> toDelete;
  if (kind == Kind::Object) {
    for (const std::vector<Json>* l : {(const std::vector<Json>*)&toSort, &order}) {
      for (const auto& item : *l) {
        if (!item.is_object()) failBadArgType("map[string]interface {}", item);
        if (!item.contains(mergeKey)) failNoMergeKey(item, mergeKey);
      }
    }
    std::vector<Json> keep;
    for (auto& v : toSort) (isDeleteItem(v) ? toDelete : keep).push_back(std::move(v));
    toSort = std::move(keep);
  }
  // Insertion sort with kube's comparator: an item missing from `order` is
  // "less" than anything, which a strict-weak-order sort would not allow.
  auto less = [&](const Json& a, const Json& b) {
    int ia = indexOf(order, a, mergeKey, kind);
    if (ia < 0) return true;
    int ib = indexOf(order, b, mergeKey, kind);
    if (ib < 0) return true;
    return ia < ib;
  };
  for (size_t i = 1; i < toSort.size(); ++i) {
    for (size_t j = i; j > 0 && less(toSort[j], toSort[j - 1]); --j) std::swap(toSort[j], toSort[j - 1]);
  }
  for (auto& d : toDelete) toSort.push_back(std::move(d));
  return toSort;
}

// Interleaves server-only items (left) into patch items (right), keeping the
// relative order of both; a left item goes first only when both are found
// in the live order and it precedes.
static std::vector<Json> mergeSortedSlice(std::vector<Json> left, std::vector<Json> right,
                                          const std::vector<Json>& serverOrder, const std::string& mergeKey,
                                          Kind kind) {
  std::vector<Json> out;
  size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    if (i >= left.size()) {
      out.push_back(std::move(right[j++]));
    } else if (j >= right.size()) {
      out.push_back(std::move(left[i++]));
    } else {
      int li = indexOf(serverOrder, left[i], mergeKey, kind);
      int ri = indexOf(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push_back(std::move(left[i++]));
      else out.push_back(std::move(right[j++]));
    }
  }
  return out;
}

static std::vector<Json> normalizeElementOrder(std::vector<Json> patch, std::vector<Json> serverOnly,
                                               const std::vector<Json>& patchOrder,
                                               const std::vector<Json>& serverOrder, const std::string& mergeKey,
                                               Kind kind) {
  patch = normalizeSliceOrder(std::move(patch), patchOrder, mergeKey, kind);
  serverOnly = normalizeSliceOrder(std::move(serverOnly), serverOrder, mergeKey, kind);
  return mergeSortedSlice(std::move(serverOnly), std::move(patch), serverOrder, mergeKey, kind);
}

// Splits `items` into those present in `by` (by value or merge key) and the rest.
static void partition(const std::vector<Json>& items, const std::vector<Json>& by, const std::string& mergeKey,
                      std::vector<Json>& inBy, std::vector<Json>& rest) {
  bool maps = !mergeKey.empty();
  if (maps) {
    for (const auto& b : by) {
      if (!b.is_object()) failMalformed("value for key is not a map");
    }
  }
  for (const auto& v : items) {
    if (maps) {
      if (!v.is_object()) failBadArgType("map[string]interface {}", v);
      if (!v.contains(mergeKey)) failNoMergeKey(v, mergeKey);
    }
    bool found = indexOf(by, v, mergeKey, maps ? Kind::Object : Kind::String) >= 0;
    (found ? inBy : rest).push_back(v);
  }
}

// ---------------------------------------------------------------- cleaning

static void discardNulls(Json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (it->is_null()) it = v.erase(it);
      else discardNulls(*it++);
    }
  } else if (v.is_array()) {
    for (auto& e : v) discardNulls(e);
  }
}

// Drops maps carrying $patch (kube's removeDirectives). With `strip`, also
// drops the other directive keys, which kube loses when it decodes the result
// into a typed object and we would otherwise store.
static bool removeDirectives(Json& v, bool strip) {
  if (v.is_object()) {
    if (v.contains(kPatchMarker)) return false;
    for (auto it = v.begin(); it != v.end();) {
      bool directive = strip && (it.key() == kRetainKeys || startsWith(it.key(), kDeletePrefix) ||
                                 startsWith(it.key(), kOrderPrefix));
      if (directive || !removeDirectives(*it, strip)) it = v.erase(it);
      else ++it;
    }
  } else if (v.is_array()) {
    Json out = Json::array();
    for (auto& e : v) {
      if (removeDirectives(e, strip)) out.push_back(std::move(e));
    }
    v = std::move(out);
  }
  return true;
}

// Sets original[key] to a patch value that has nothing to merge with.
static void takePatchValue(Json& original, const std::string& key, Json value, const MergeOptions& opts) {
  if (opts.ignoreUnmatchedNulls) discardNulls(value);
  if (removeDirectives(value, opts.mergeParallelList)) original[key] = std::move(value);
  else original.erase(key);
}

// ---------------------------------------------------------------- merging

static std::string extractKey(const std::string& key, const std::string& prefix) {
  auto slash = key.find('/');
  if (slash == std::string::npos || key.substr(0, slash) != prefix) {
    failBadRequest(prefix == kDeletePrefix ? kErrPrimitiveList : kErrSetOrder);
  }
  return key.substr(slash + 1);
}

static Json mergeSlice(std::vector<Json> original, std::vector<Json> patch, const Schema& schema,
                       const std::string& mergeKey, const MergeOptions& opts, bool isDeleteList);

static Json mergeSliceHandler(const Json& original, const Json& patch, const Schema& schema, const FieldMeta& meta,
                              bool isDeleteList, const MergeOptions& opts) {
  if (!original.is_array()) failBadArgType("[]interface {}", original);
  if (!patch.is_array()) failBadArgType("[]interface {}", patch);
  // Delete lists apply whatever the field's strategy is.
  if (meta.strategy == "merge" || isDeleteList) {
    return mergeSlice(toVec(original), toVec(patch), schema, meta.mergeKey, opts, isDeleteList);
  }
  return patch;
}

static Json mergeSlice(std::vector<Json> original, std::vector<Json> patch, const Schema& schema,
                       const std::string& mergeKey, const MergeOptions& opts, bool isDeleteList) {
  if (original.empty() && patch.empty()) return Json::array();
  Json oa = toArr(original), pa = toArr(patch);
  Kind kind = sliceElementKind({&oa, &pa});

  std::vector<Json> merged;
  if (kind != Kind::Object) {
    if (opts.mergeParallelList && isDeleteList) {
      Json out = Json::array();
      for (auto& v : original) {
        if (std::find(patch.begin(), patch.end(), v) == patch.end()) out.push_back(v);
      }
      return out;
    }
    for (const auto* l : {&original, &patch}) {
      for (const auto& v : *l) {
        if (std::find(merged.begin(), merged.end(), v) == merged.end()) merged.push_back(v);
      }
    }
  } else {
    if (mergeKey.empty()) failMalformed("cannot merge lists without merge key for " + schema.name());
    // Special elements first: `$patch: delete` items remove by key,
    // `$patch: replace` makes the rest of the patch the whole list.
    std::vector<Json> plain;
    bool replace = false;
    for (const auto& v : patch) {
      auto marker = v.find(kPatchMarker);
      if (marker == v.end()) {
        plain.push_back(v);
      } else if (*marker == "delete") {
        auto mk = v.find(mergeKey);
        if (mk == v.end()) failNoMergeKey(v, mergeKey);
        std::erase_if(original, [&](const Json& o) {
          if (!o.is_object()) failMalformed("value for key is not a map");
          auto ok = o.find(mergeKey);
          return ok != o.end() && *ok == *mk;
        });
      } else if (*marker == "replace") {
        replace = true;
      } else if (*marker == "merge") {
        failMalformed("merging lists cannot yet be specified in the patch");
      } else {
        failMalformed("unknown patch type: " + goString(*marker) + " in map: " + goString(v));
      }
    }
    if (replace) {
      original = std::move(plain);
      patch.clear();
    } else {
      patch = std::move(plain);
    }
    merged = original;
    for (const auto& v : patch) {
      if (!v.contains(mergeKey)) failNoMergeKey(v, mergeKey);
      const Json& key = v[mergeKey];
      auto it = std::find_if(merged.begin(), merged.end(), [&](const Json& o) {
        if (!o.is_object()) failMalformed("value for key is not a map");
        auto ok = o.find(mergeKey);
        return ok != o.end() && *ok == key;
      });
      if (it != merged.end()) {
        *it = mergeMap(*it, v, schema, opts);
      } else {
        Json item = v;
        if (opts.ignoreUnmatchedNulls) discardNulls(item);
        removeDirectives(item, opts.mergeParallelList);
        merged.push_back(std::move(item));
      }
    }
  }

  std::vector<Json> patchItems, serverOnly;
  partition(merged, patch, kind == Kind::Object ? mergeKey : "", patchItems, serverOnly);
  return toArr(normalizeElementOrder(std::move(patchItems), std::move(serverOnly), patch, original,
                                     kind == Kind::Object ? mergeKey : "", kind));
}

// Kube checks that the patch list's items appear in $setElementOrder in the same relative order.
static void validatePatchWithSetOrderList(const Json& patchList, const Json& order, const std::string& mergeKey) {
  if (!order.is_array()) failBadRequest(kErrSetOrder);
  if (!patchList.is_null() && !patchList.is_array()) failBadRequest(kErrSetOrder);
  if (order.empty() || patchList.is_null() || patchList.empty()) return;
  std::vector<Json> items;
  for (const auto& v : patchList) {
    if (!mergeKey.empty()) {
      if (!v.is_object()) failBadArgType("map[string]interface {}", v);
      if (isDeleteItem(v)) continue;
    }
    items.push_back(v);
  }
  size_t pi = 0, oi = 0;
  auto keyOf = [&](const Json& v) -> const Json& {
    if (mergeKey.empty()) return v;
    if (!v.is_object()) failBadArgType("map[string]interface {}", v);
    auto it = v.find(mergeKey);
    if (it == v.end()) failNoMergeKey(v, mergeKey);
    return *it;
  };
  while (pi < items.size() && oi < order.size()) {
    if (items[pi].is_object() && items[pi].contains(kPatchMarker)) {
      ++pi;
      continue;
    }
    if (keyOf(items[pi]) == keyOf(order[oi])) ++pi;
    ++oi;
  }
  if (pi < items.size() && oi >= order.size()) {
    failMalformed("The order in patch list:\n" + goString(patchList) + "\n doesn't match " + kOrderPrefix +
                 " list:\n" + goString(order) + "\n");
  }
}

// Handles every $setElementOrder/<field> of `patch`: merges that field's list
// and orders the result; the list is then removed from the patch.
static void mergePatchIntoOriginal(Json& original, Json& patch, const Schema& schema, const MergeOptions& opts) {
  std::vector<std::string> keys;
  for (auto& [k, v] : patch.items()) {
    if (startsWith(k, kOrderPrefix)) keys.push_back(k);
  }
  for (const auto& key : keys) {
    Json order = patch[key];
    if (!opts.mergeParallelList) {
      auto it = original.find(key);
      if (it != original.end()) {
        if (*it != order) failBadRequest(kErrSetOrder);
      } else {
        original[key] = order;
      }
    }
    patch.erase(key);
    if (!order.is_array()) failBadArgType("[]interface {}", order);
    std::string field = extractKey(key, kOrderPrefix);
    bool foundOriginal = original.contains(field), foundPatch = patch.contains(field);
    Json originalList = foundOriginal ? original[field] : Json();
    Json patchList = foundPatch ? patch[field] : Json();
    if (foundOriginal && !originalList.is_array()) failBadArgType("[]interface {}", originalList);
    if (foundPatch && !patchList.is_array()) failBadArgType("[]interface {}", patchList);
    FieldMeta meta = schema.meta(field);
    validatePatchWithSetOrderList(patchList, order, meta.mergeKey);

    Json merged;
    if (foundOriginal && !foundPatch) {
      merged = originalList;
    } else if (!foundOriginal && foundPatch) {
      merged = patchList;
      removeDirectives(merged, opts.mergeParallelList);
    } else if (foundOriginal && foundPatch) {
      merged = mergeSliceHandler(originalList, patchList, schema.child(field), meta, false, opts);
    } else {
      continue;
    }
    // With nothing in any list there is nothing to order.
    if ((originalList.is_null() || originalList.empty()) && (patchList.is_null() || patchList.empty())) {
      original[field] = merged;
      patch.erase(field);
      continue;
    }
    Kind kind = sliceElementKind({&originalList, &patchList});
    std::vector<Json> patchItems, serverOnly;
    auto orderVec = toVec(order);
    partition(toVec(merged), orderVec, meta.mergeKey, patchItems, serverOnly);
    original[field] = toArr(normalizeElementOrder(std::move(patchItems), std::move(serverOnly), orderVec,
                                                  toVec(originalList), meta.mergeKey, kind));
    patch.erase(field);
  }
}

// $retainKeys: with the parallel lists applied, clears keys of the original
// not listed; otherwise (merging two patches) carries the directive along.
static void applyRetainKeys(Json& original, Json& patch, const MergeOptions& opts) {
  auto it = patch.find(kRetainKeys);
  if (it == patch.end()) return;
  Json retain = std::move(*it);
  patch.erase(it);
  if (!opts.mergeParallelList) {
    auto o = original.find(kRetainKeys);
    if (o != original.end()) {
      if (*o != retain) {
        failMalformed(goString(*o) + " and " + goString(retain) +
                     " are not deep equal: this may happen when calculating the 3-way diff patch");
      }
    } else {
      original[kRetainKeys] = retain;
    }
    return;
  }
  if (!retain.is_array()) failBadRequest(kErrRetainKeys);
  auto listed = [&](const std::string& k) {
    return std::find(retain.begin(), retain.end(), Json(k)) != retain.end();
  };
  for (auto& [k, v] : patch.items()) {
    if (v.is_null() || startsWith(k, kDeletePrefix) || startsWith(k, kOrderPrefix)) continue;
    if (!listed(k)) failBadRequest(kErrRetainKeys);
  }
  for (auto o = original.begin(); o != original.end();) {
    if (!listed(o.key())) o = original.erase(o);
    else ++o;
  }
}

Json mergeMap(Json original, Json patch, const Schema& schema, const MergeOptions& opts) {
  if (auto d = patch.find(kPatchMarker); d != patch.end()) {
    if (*d == "replace") {
      patch.erase(d);
      return patch;
    }
    if (*d == "delete") return Json::object();
    failMalformed("unknown patch type: " + goString(*d) + " in map: " + goString(patch));
  }
  if (!original.is_object()) original = Json::object();

  applyRetainKeys(original, patch, opts);
  mergePatchIntoOriginal(original, patch, schema, opts);

  for (auto& [k0, patchV] : patch.items()) {
    std::string k = k0;
    bool isDeleteList = false;
    if (startsWith(k, kDeletePrefix)) {
      if (!opts.mergeParallelList) {
        original[k] = patchV;
        continue;
      }
      k = extractKey(k, kDeletePrefix);
      isDeleteList = true;
    }
    if (patchV.is_null()) {
      original.erase(k);
      if (opts.ignoreUnmatchedNulls) continue;
    }
    auto it = original.find(k);
    if (it == original.end()) {
      if (!isDeleteList) takePatchValue(original, k, patchV, opts);
      continue;
    }
    if (kindOf(*it) != kindOf(patchV)) {
      if (!isDeleteList) takePatchValue(original, k, patchV, opts);
      continue;
    }
    if (it->is_object()) {
      FieldMeta meta = schema.meta(k);
      if (meta.strategy == "replace") *it = patchV;
      else *it = mergeMap(std::move(*it), patchV, schema.child(k), opts);
    } else if (it->is_array()) {
      *it = mergeSliceHandler(*it, patchV, schema.child(k), schema.meta(k), isDeleteList, opts);
    } else {
      *it = patchV;
    }
  }
  return original;
}

}  // namespace k1s::smp

namespace k1s {

Json strategicMergePatch(const Json& original, const Json& patch, const ListStrategyLookup& lookup) {
  if (!patch.is_object()) {
    const char* what = patch.is_array() ? "array" : patch.is_string() ? "string" : patch.is_number() ? "number"
                       : patch.is_boolean() ? "bool" : "null";
    if (patch.is_null()) return original;  // "null" decodes into an empty map in Go
    throw badRequest(std::string("json: cannot unmarshal ") + what +
                     " into Go value of type map[string]interface {}");
  }
  smp::Schema root{&lookup, {}};
  return smp::mergeMap(original.is_object() ? original : Json::object(), patch, root, smp::MergeOptions{});
}

}  // namespace k1s
