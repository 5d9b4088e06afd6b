// The garbage collector: deletes objects whose owners (ownerReferences) are
// gone, and carries out the two deletion modes that wait for dependents:
// foreground (owner has the `foregroundDeletion` finalizer: delete dependents,
// then let the owner go) and orphan (`orphan` finalizer: cut dependents loose,
// then let the owner go). Background deletion needs nothing but the first rule.
//
// An index from owner uid to dependents, kept from informers on every served
// kind, says whom to look at; every decision re-reads the objects through the
// Client, so a stale cache can delay but never mislead it.
#include <map>
#include <set>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "controller/controller.h"

namespace k1s {

namespace {

const char* kComponent = "garbage-collector";
const char* kOrphan = "orphan";
const char* kForeground = "foregroundDeletion";

bool hasFinalizer(const Json& o, const std::string& f) {
  auto& m = metaOf(o);
  auto it = m.find("finalizers");
  if (it == m.end() || !it->is_array()) return false;
  for (auto& x : *it)
    if (x == f) return true;
  return false;
}

Json withoutFinalizer(Json o, const std::string& f) {
  Json kept = Json::array();
  for (auto& x : o["metadata"].value("finalizers", Json::array()))
    if (x != f) kept.push_back(x);
  if (kept.empty()) o["metadata"].erase("finalizers");
  else o["metadata"]["finalizers"] = kept;
  return o;
}

Json ownerRefsOf(const Json& o) {
  auto& m = metaOf(o);
  auto it = m.find("ownerReferences");
  return it != m.end() && it->is_array() ? *it : Json::array();
}

bool beingDeleted(const Json& o) { return metaOf(o).contains("deletionTimestamp"); }

// Work-queue item: "<mode>|<group>|<plural>|<ns>|<name>"; mode d = check a
// dependent's owners, o = finish an owner's foreground/orphan deletion.
struct Item {
  char mode;
  const ResourceInfo* res;
  std::string ns, name;
};

std::string itemKey(char mode, const ResourceInfo& r, const std::string& ns, const std::string& name) {
  return std::string(1, mode) + "|" + r.group + "|" + r.plural + "|" + ns + "|" + name;
}

Item parseItem(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t bar = key.find('|', start);
    parts.push_back(key.substr(start, bar - start));
    start = bar + 1;
  }
  parts.push_back(key.substr(start));
  return {parts[0][0], findResource(parts[1], parts[2]), parts[3], parts[4]};
}

class GarbageCollector : public Controller {
 public:
  GarbageCollector(Client& c, const ControllerOptions& o)
      : client_(c), runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()) {
    // Every change of every kind reaches the collector, through the informers every other
    // component shares.
    for (auto& r : allResources()) {
      const ResourceInfo* res = &r;
      runner_.on(runner_.use(r), {[this, res](const Json& obj) { observe(*res, nullptr, obj); },
                                  [this, res](const Json& old, const Json& obj) { observe(*res, &old, obj); },
                                  [this, res](const Json& obj) { forget(*res, obj); }});
    }
  }

  ~GarbageCollector() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override { runner_.start(); }

  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  // --- the owner -> dependents index, fed by the informers ---

  void observe(const ResourceInfo& r, const Json* old, const Json& obj) {
    std::string key = itemKey('d', r, namespaceOf(obj), nameOf(obj));
    Json refs = ownerRefsOf(obj);
    {
      std::lock_guard<std::mutex> l(mu_);
      std::string uid = metaOf(obj).value("uid", "");
      if (!uid.empty()) uidToItem_[uid] = {&r, namespaceOf(obj), nameOf(obj)};
      unindexLocked(key);
      for (auto& ref : refs) {
        std::string ownerUid = ref.value("uid", "");
        dependents_[ownerUid].insert(key);
        ownersOf_[key].push_back(ownerUid);
      }
    }
    if (!refs.empty() && (!old || ownerRefsOf(*old) != refs)) runner_.queue().add(key);
    if (beingDeleted(obj) && (hasFinalizer(obj, kOrphan) || hasFinalizer(obj, kForeground)))
      runner_.queue().add(itemKey('o', r, namespaceOf(obj), nameOf(obj)));
  }

  void forget(const ResourceInfo& r, const Json& obj) {
    std::string key = itemKey('d', r, namespaceOf(obj), nameOf(obj));
    std::string uid = metaOf(obj).value("uid", "");
    std::vector<std::string> wake;
    {
      std::lock_guard<std::mutex> l(mu_);
      // Owners waiting in foreground deletion for this dependent may go on now.
      for (auto& ownerUid : ownersOf_[key]) {
        auto it = uidToItem_.find(ownerUid);
        if (it != uidToItem_.end())
          wake.push_back(itemKey('o', *it->second.res, it->second.ns, it->second.name));
      }
      unindexLocked(key);
      uidToItem_.erase(uid);
      // Its dependents may have lost their last owner.
      auto deps = dependents_.find(uid);
      if (deps != dependents_.end())
        for (auto& d : deps->second) wake.push_back(d);
    }
    for (auto& k : wake) runner_.queue().add(k);
  }

  void unindexLocked(const std::string& key) {
    auto it = ownersOf_.find(key);
    if (it == ownersOf_.end()) return;
    for (auto& ownerUid : it->second) {
      auto d = dependents_.find(ownerUid);
      if (d == dependents_.end()) continue;
      d->second.erase(key);
      if (d->second.empty()) dependents_.erase(d);
    }
    ownersOf_.erase(it);
  }

  std::vector<Item> dependentsOf(const std::string& uid) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<Item> out;
    auto it = dependents_.find(uid);
    if (it != dependents_.end())
      for (auto& k : it->second) out.push_back(parseItem(k));
    return out;
  }

  // The index plus a fresh list of the owner's namespace: an owner's deletion
  // must not finish before a dependent created a moment ago reaches the informers.
  std::vector<Item> freshDependentsOf(const std::string& uid, const std::string& ns) {
    auto out = dependentsOf(uid);
    std::set<std::string> seen;
    for (auto& d : out) seen.insert(itemKey('d', *d.res, d.ns, d.name));
    for (auto& r : allResources()) {
      if (r.namespaced != !ns.empty()) continue;
      Json l = client_.list(r, ns);
      for (auto& o : l["items"]) {
        bool owned = false;
        for (auto& ref : ownerRefsOf(o)) owned |= ref.value("uid", "") == uid;
        if (owned && seen.insert(itemKey('d', r, namespaceOf(o), nameOf(o))).second)
          out.push_back({'d', &r, namespaceOf(o), nameOf(o)});
      }
    }
    return out;
  }

  bool hasDependents(const std::string& uid) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = dependents_.find(uid);
    return it != dependents_.end() && !it->second.empty();
  }

  // --- decisions, always on fresh reads ---

  std::optional<Json> fetch(const ResourceInfo& r, const std::string& ns, const std::string& name) {
    try {
      return client_.get(r, r.namespaced ? ns : "", name);
    } catch (const ApiError& e) {
      if (e.code == 404) return std::nullopt;
      throw;
    }
  }

  void sync(const std::string& key) {
    Item it = parseItem(key);
    if (!it.res) return;
    if (it.mode == 'd') syncDependent(it);
    else syncOwner(it);
  }

  // A dependent: delete it when no owner remains, cut references to owners that are gone.
  void syncDependent(const Item& it) {
    auto obj = fetch(*it.res, it.ns, it.name);
    if (!obj || beingDeleted(*obj)) return;
    Json refs = ownerRefsOf(*obj);
    if (refs.empty()) return;
    std::set<std::string> dangling, waiting;
    bool solid = false;
    for (auto& ref : refs) {
      const ResourceInfo* ownerRes = findKind(ref.value("apiVersion", ""), ref.value("kind", ""));
      if (!ownerRes) {
        solid = true;  // a kind we do not serve cannot be checked: keep the dependent
        continue;
      }
      auto owner = fetch(*ownerRes, it.ns, ref.value("name", ""));
      std::string uid = ref.value("uid", "");
      if (!owner || metaOf(*owner).value("uid", "") != uid) dangling.insert(uid);
      else if (beingDeleted(*owner) && hasFinalizer(*owner, kForeground)) waiting.insert(uid);
      else solid = true;
    }
    const std::string& uid = metaOf(*obj).value("uid", "");
    if (solid) {
      if (dangling.empty() && waiting.empty()) return;
      Json next = *obj;
      Json kept = Json::array();
      for (auto& ref : refs)
        if (!dangling.count(ref.value("uid", "")) && !waiting.count(ref.value("uid", ""))) kept.push_back(ref);
      next["metadata"]["ownerReferences"] = kept;
      client_.update(*it.res, it.ns, next);
      return;
    }
    DeleteOptions d;
    d.preconditionUid = uid;
    // Under a foreground owner the chain below must go first too.
    d.propagationPolicy = !waiting.empty() && hasDependents(uid) ? "Foreground" : "Background";
    LOGV(1, kComponent, "deleting " << it.res->kind << " " << it.ns << "/" << it.name
                                    << " policy=" << d.propagationPolicy);
    try {
      client_.remove(*it.res, it.ns, it.name, d);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
  }

  // An owner being deleted with the orphan or foregroundDeletion finalizer.
  void syncOwner(const Item& it) {
    auto obj = fetch(*it.res, it.ns, it.name);
    if (!obj || !beingDeleted(*obj)) return;
    std::string uid = metaOf(*obj).value("uid", "");
    if (hasFinalizer(*obj, kOrphan)) {
      for (auto& dep : freshDependentsOf(uid, it.ns)) {
        if (!dep.res) continue;
        auto d = fetch(*dep.res, dep.ns, dep.name);
        if (!d) continue;
        Json kept = Json::array();
        for (auto& ref : ownerRefsOf(*d))
          if (ref.value("uid", "") != uid) kept.push_back(ref);
        if (kept.size() == ownerRefsOf(*d).size()) continue;
        Json next = *d;
        if (kept.empty()) next["metadata"].erase("ownerReferences");
        else next["metadata"]["ownerReferences"] = kept;
        client_.update(*dep.res, dep.ns, next);
      }
      client_.update(*it.res, it.ns, withoutFinalizer(*obj, kOrphan));
      return;
    }
    if (!hasFinalizer(*obj, kForeground)) return;
    int blocking = 0;
    for (auto& dep : freshDependentsOf(uid, it.ns)) {
      if (!dep.res) continue;
      auto d = fetch(*dep.res, dep.ns, dep.name);
      if (!d) continue;
      Json ref;
      for (auto& r : ownerRefsOf(*d))
        if (r.value("uid", "") == uid) ref = r;
      if (ref.is_null()) continue;
      if (ref.value("blockOwnerDeletion", false)) ++blocking;
      if (beingDeleted(*d)) continue;
      DeleteOptions opt;
      opt.preconditionUid = metaOf(*d).value("uid", "");
      opt.propagationPolicy = hasDependents(*opt.preconditionUid) ? "Foreground" : "Background";
      try {
        client_.remove(*dep.res, dep.ns, dep.name, opt);
      } catch (const ApiError& e) {
        if (e.code != 404) throw;
      }
    }
    if (blocking > 0) {
      // Dependent deletions wake us; the timer covers a missed event.
      runner_.queue().addAfter(itemKey('o', *it.res, it.ns, it.name), std::chrono::seconds(2));
      return;
    }
    client_.update(*it.res, it.ns, withoutFinalizer(*obj, kForeground));
  }

  struct Where {
    const ResourceInfo* res;
    std::string ns, name;
  };

  Client& client_;
  ControllerRunner runner_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> dependents_;     // owner uid -> dependent item keys
  std::map<std::string, std::vector<std::string>> ownersOf_;  // dependent item key -> owner uids
  std::map<std::string, Where> uidToItem_;                     // every object's uid -> where it is
};

}  // namespace

std::unique_ptr<Controller> makeGarbageCollector(Client& c, const ControllerOptions& o) {
  return std::make_unique<GarbageCollector>(c, o);
}

}  // namespace k1s
