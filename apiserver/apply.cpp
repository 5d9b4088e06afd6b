#include "apiserver/apply.h"

#include "common/errors.h"

namespace k1s {
namespace {

void collect(const Json& value, const ListStrategyLookup& lookup, std::vector<std::string>& path, Json& out);

// A list's members: keyed items by their merge key, set members by value; an atomic
// list is a leaf.
Json listSet(const Json& list, const ListStrategyLookup& lookup, std::vector<std::string>& path) {
  auto ls = lookup(path);
  if (!ls || ls->strategy.find("merge") == std::string::npos) return Json::object();
  Json out = Json::object();
  for (auto& item : list) {
    if (!ls->mergeKey.empty()) {
      if (!item.is_object() || !item.contains(ls->mergeKey)) return Json::object();
      Json key = Json::object();
      key[ls->mergeKey] = item[ls->mergeKey];
      Json children = Json::object();
      collect(item, lookup, path, children);
      children["."] = Json::object();
      out["k:" + key.dump()] = std::move(children);
    } else if (!item.is_object() && !item.is_array()) {
      out["v:" + item.dump()] = Json::object();
    } else {
      return Json::object();
    }
  }
  return out;
}

void collect(const Json& value, const ListStrategyLookup& lookup, std::vector<std::string>& path, Json& out) {
  if (!value.is_object()) return;
  for (auto& [key, child] : value.items()) {
    if (key.empty() || key[0] == '$') continue;  // patch directives are not fields
    path.push_back(key);
    Json node = Json::object();
    if (child.is_object()) collect(child, lookup, path, node);
    else if (child.is_array()) node = listSet(child, lookup, path);
    out["f:" + key] = std::move(node);
    path.pop_back();
  }
}

}  // namespace

Json appliedFieldSet(const Json& applied, const ListStrategyLookup& lookup) {
  Json cfg = applied;
  if (!cfg.is_object()) return Json::object();
  for (const char* f : {"apiVersion", "kind", "status"}) cfg.erase(f);
  if (cfg.contains("metadata") && cfg["metadata"].is_object()) {
    auto& m = cfg["metadata"];
    for (const char* f : {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                          "selfLink", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"})
      m.erase(f);
    if (m.empty()) cfg.erase("metadata");
  }
  std::vector<std::string> path;
  Json out = Json::object();
  collect(cfg, lookup, path, out);
  return out;
}

Json fieldSetSkeleton(const Json& fieldsV1) {
  Json obj = Json::object();
  if (!fieldsV1.is_object()) return obj;
  for (auto& [key, child] : fieldsV1.items()) {
    if (key.rfind("f:", 0) != 0) continue;
    std::string name = key.substr(2);
    bool keyed = false, members = false, fields = false;
    if (child.is_object())
      for (auto& [k, v] : child.items()) {
        (void)v;
        keyed |= k.rfind("k:", 0) == 0;
        members |= k.rfind("v:", 0) == 0;
        fields |= k.rfind("f:", 0) == 0;
      }
    if (keyed || members) {
      Json list = Json::array();
      for (auto& [k, v] : child.items()) {
        try {
          if (k.rfind("k:", 0) == 0) {
            Json item = fieldSetSkeleton(v);
            Json key = Json::parse(k.substr(2));
            if (key.is_object())
              for (auto& [kk, kv] : key.items()) item[kk] = kv;
            list.push_back(std::move(item));
          } else if (k.rfind("v:", 0) == 0) {
            list.push_back(Json::parse(k.substr(2)));
          }
        } catch (const Json::exception&) {
          // A member we cannot read (hand-written managedFields) is left out.
        }
      }
      obj[name] = std::move(list);
    } else if (fields) {
      obj[name] = fieldSetSkeleton(child);
    } else {
      obj[name] = "";  // a leaf: its value does not matter to the deletions
    }
  }
  return obj;
}

Json applyEntry(const std::string& manager, const std::string& apiVersion, const Json& fieldsV1,
                const std::string& now) {
  return {{"manager", manager}, {"operation", "Apply"}, {"apiVersion", apiVersion},
          {"time", now},        {"fieldsType", "FieldsV1"}, {"fieldsV1", fieldsV1}};
}

Json serverSideApply(const Json& live, const Json& applied, const std::string& manager,
                     const std::string& apiVersion, const ListStrategyLookup& lookup, const std::string& now) {
  Json previous = Json::object();
  Json entries = Json::array();
  if (live.contains("metadata") && live["metadata"].is_object()) {
    auto it = live["metadata"].find("managedFields");
    if (it != live["metadata"].end() && it->is_array()) entries = *it;
  }
  size_t mine = entries.size();  // the manager's Apply entry, replaced where it is
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    if (e.is_object() && e.value("manager", "") == manager && e.value("operation", "") == "Apply") {
      previous = e.value("fieldsV1", Json::object());
      mine = i;
      break;
    }
  }
  Json patch = createThreeWayMergePatch(fieldSetSkeleton(previous), applied, live, lookup);
  Json out = strategicMergePatch(live, patch, lookup);
  if (!out.is_object()) return out;
  Json entry = applyEntry(manager, apiVersion, appliedFieldSet(applied, lookup), now);
  if (mine < entries.size()) entries[mine] = std::move(entry);
  else entries.push_back(std::move(entry));
  out["metadata"]["managedFields"] = std::move(entries);
  return out;
}

}  // namespace k1s
