// The ReplicaSet controller, after kube's pkg/controller/replicaset: keeps
// spec.replicas active pods that match the selector, adopting orphans and
// releasing pods whose labels stopped matching, and reports status.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>
#include <optional>
#include <set>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "common/selector.h"
#include "controller/controller.h"
#include "controller/podutil.h"

namespace k1s {

namespace {

constexpr const char* kComponent = "replicaset-controller";
// At most this many pods created or deleted per sync (kube's burstReplicas).
constexpr int kBurstReplicas = 500;
// Expectations that were never observed (a missed watch event) stop blocking after this.
constexpr auto kExpectationsTTL = std::chrono::seconds(30);

// kube's (UID-tracking) controller expectations: after creating N pods or
// deleting some, a ReplicaSet is not managed again until the informer has
// shown those creations and deletions, so a stale cache never over-creates
// or over-deletes.
class PodExpectations {
 public:
  void expectCreations(const std::string& key, int n) {
    std::lock_guard<std::mutex> l(mu_);
    auto& e = m_[key];
    e.adds = n;
    e.dels.clear();
    e.at = Clock::now();
  }
  void expectDeletions(const std::string& key, std::set<std::string> podKeys) {
    std::lock_guard<std::mutex> l(mu_);
    auto& e = m_[key];
    e.adds = 0;
    e.dels = std::move(podKeys);
    e.at = Clock::now();
  }
  void creationObserved(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(key);
    if (it != m_.end() && it->second.adds > 0) --it->second.adds;
  }
  void deletionObserved(const std::string& key, const std::string& podKey) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(key);
    if (it != m_.end()) it->second.dels.erase(podKey);
  }
  bool satisfied(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(key);
    if (it == m_.end()) return true;
    auto& e = it->second;
    return (e.adds <= 0 && e.dels.empty()) || Clock::now() - e.at > kExpectationsTTL;
  }
  void forget(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    m_.erase(key);
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int adds = 0;
    std::set<std::string> dels;
    Clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, Entry> m_;
};

Json podFromTemplate(const Json& rs) {
  const Json& tmpl = rs["spec"]["template"];
  Json meta = tmpl.value("metadata", Json::object());
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  Json m = Json::object();
  for (const char* f : {"labels", "annotations", "finalizers"})
    if (meta.contains(f) && !meta[f].is_null()) m[f] = meta[f];
  m["generateName"] = nameOf(rs) + "-";
  m["namespace"] = namespaceOf(rs);
  m["ownerReferences"] = Json::array({makeControllerRef(rs)});
  pod["metadata"] = m;
  pod["spec"] = tmpl.value("spec", Json::object());
  return pod;
}

Json& setOrErase(Json& status, const char* f, int64_t v) {
  if (v) status[f] = v;
  else status.erase(f);
  return status;
}

class ReplicaSetController : public Controller {
 public:
  ReplicaSetController(Client& c, const ControllerOptions& o)
      : c_(c),
        rsRes_(*findResource("apps", "replicasets")),
        podRes_(*findResource("", "pods")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        rsInf_(runner_.use(rsRes_)),
        podInf_(runner_.use(podRes_)),
        rec_(c, kComponent) {
    runner_.on(rsInf_, {[this](const Json& rs) { enqueue(rs); },
                        [this](const Json&, const Json& rs) { enqueue(rs); },
                        [this](const Json& rs) { exp_.forget(objectKey(rs)); }});
    runner_.on(podInf_, {[this](const Json& p) { podAdded(p); },
                         [this](const Json& o, const Json& n) { podUpdated(o, n); },
                         [this](const Json& p) { podDeleted(p); }});
  }
  ~ReplicaSetController() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override { runner_.start(); }

  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  void enqueue(const Json& rs) { runner_.queue().add(objectKey(rs)); }

  // The ReplicaSet that controls the pod, if it exists with the referenced uid.
  CachedObject owningReplicaSet(const Json& pod) {
    Json ref = controllerRef(pod);
    if (!ref.is_object() || ref.value("kind", "") != "ReplicaSet") return nullptr;
    auto rs = rsInf_.get(namespaceOf(pod), ref.value("name", ""));
    if (!rs || metaOf(*rs).value("uid", "") != ref.value("uid", "")) return nullptr;
    return rs;
  }

  // An orphan pod may be adopted by any ReplicaSet whose selector matches it.
  void enqueueMatching(const Json& pod) {
    Json labels = labelsOf(pod);
    for (auto& rs : rsInf_.list(namespaceOf(pod))) {
      try {
        if (LabelSelector::fromObject((*rs)["spec"].value("selector", Json())).matches(labels)) enqueue(*rs);
      } catch (const std::exception&) {
      }
    }
  }

  void podAdded(const Json& pod) {
    if (isDeleting(pod)) {
      // Already on its way out (seen first after a restart): not a creation.
      podDeleted(pod);
      return;
    }
    if (controllerRef(pod).is_object()) {
      if (auto rs = owningReplicaSet(pod)) {
        exp_.creationObserved(objectKey(*rs));
        enqueue(*rs);
      }
      return;
    }
    enqueueMatching(pod);
  }

  void podUpdated(const Json& oldPod, const Json& pod) {
    if (metaOf(oldPod).value("resourceVersion", "") == metaOf(pod).value("resourceVersion", "")) return;
    bool labelsChanged = labelsOf(oldPod) != labelsOf(pod);
    if (isDeleting(pod)) {
      // A graceful delete shows as an update first; count it as the deletion.
      podDeleted(pod);
      if (labelsChanged) podDeleted(oldPod);
      return;
    }
    Json oldRef = controllerRef(oldPod), ref = controllerRef(pod);
    if (oldRef != ref && oldRef.is_object())
      if (auto rs = owningReplicaSet(oldPod)) enqueue(*rs);
    if (ref.is_object()) {
      if (auto rs = owningReplicaSet(pod)) enqueue(*rs);
      return;
    }
    if (labelsChanged || oldRef != ref) enqueueMatching(pod);
  }

  void podDeleted(const Json& pod) {
    if (auto rs = owningReplicaSet(pod)) {
      exp_.deletionObserved(objectKey(*rs), objectKey(pod));
      enqueue(*rs);
    }
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    auto cached = rsInf_.get(ns, name);
    if (!cached) {
      exp_.forget(key);
      return;
    }
    Json rs = *cached;  // our own copy: the cache is shared and immutable
    bool needsSync = exp_.satisfied(key);
    auto selector = LabelSelector::fromObject(rs["spec"].value("selector", Json()));

    std::vector<Json> active;
    for (auto& p : podInf_.list(ns))
      if (isPodActive(*p)) active.push_back(*p);
    std::vector<Json> pods = claimPods(rs, selector, active);

    std::string manageError;
    std::exception_ptr manageFailure;
    try {
      if (needsSync && !isDeleting(rs)) manageReplicas(rs, pods, key);
    } catch (const std::exception& e) {
      manageError = e.what();
      manageFailure = std::current_exception();
    }
    updateStatus(rs, pods, manageError);
    if (manageFailure) std::rethrow_exception(manageFailure);
  }

  // kube's ClaimPods: keep our matching pods, adopt matching orphans, release
  // ours that stopped matching.
  std::vector<Json> claimPods(const Json& rs, const LabelSelector& sel, const std::vector<Json>& pods) {
    std::vector<Json> claimed;
    std::string uid = metaOf(rs).value("uid", "");
    bool rsDeleting = isDeleting(rs);
    bool adoptionChecked = false;
    std::optional<ApiError> firstError;  // rethrown as is, so conflicts stay quiet
    for (auto& pod : pods) {
      std::string owner = controllerUid(pod);
      bool matches = sel.matches(labelsOf(pod));
      try {
        if (!owner.empty()) {
          if (owner != uid) continue;
          if (matches) claimed.push_back(pod);
          else if (!rsDeleting) releaseObject(c_, podRes_, pod, uid);
          continue;
        }
        if (rsDeleting || !matches) continue;
        if (!adoptionChecked) {
          // Adopt only for a ReplicaSet that still exists as we know it (kube's canAdopt).
          Json fresh = c_.get(rsRes_, namespaceOf(rs), nameOf(rs));
          if (metaOf(fresh).value("uid", "") != uid || isDeleting(fresh))
            throw std::runtime_error("original ReplicaSet " + objectKey(rs) + " is gone or being deleted");
          adoptionChecked = true;
        }
        claimed.push_back(adoptObject(c_, podRes_, pod, rs));
      } catch (const ApiError& e) {
        if (e.code == 404) continue;
        if (!firstError) firstError = e;
      }
    }
    if (firstError) throw *firstError;
    return claimed;
  }

  void manageReplicas(const Json& rs, const std::vector<Json>& pods, const std::string& key) {
    int64_t diff = int64_t(pods.size()) - specReplicas(rs);
    if (diff < 0) createPods(rs, int(std::min<int64_t>(-diff, kBurstReplicas)), key);
    else if (diff > 0) deletePods(rs, pods, int(std::min<int64_t>(diff, kBurstReplicas)), key);
  }

  // Slow start (1, 2, 4, ...): a template that cannot be created fails once,
  // not hundreds of times.
  void createPods(const Json& rs, int n, const std::string& key) {
    const Json& tmplMeta = rs["spec"]["template"].value("metadata", Json::object());
    if (!tmplMeta.contains("labels") || !tmplMeta["labels"].is_object() || tmplMeta["labels"].empty())
      throw std::runtime_error("unable to create pods, no labels");
    exp_.expectCreations(key, n);
    Json pod = podFromTemplate(rs);
    int successes = 0, batch = 1, remaining = n;
    std::string error;
    while (remaining > 0 && error.empty()) {
      int b = std::min(batch, remaining);
      for (int i = 0; i < b; ++i) {
        try {
          Json created = c_.create(podRes_, namespaceOf(rs), pod);
          ++successes;
          rec_.record(rs, "Normal", "SuccessfulCreate", "Created pod: " + nameOf(created));
        } catch (const ApiError& e) {
          if (e.code == 403 && std::string(e.what()).find("being terminated") != std::string::npos) {
            ++successes;  // kube ignores creates refused by a terminating namespace
            continue;
          }
          if (error.empty()) error = e.what();
          rec_.record(rs, "Warning", "FailedCreate", std::string("Error creating: ") + e.what());
        }
      }
      remaining -= b;
      batch *= 2;
    }
    // Pods never created will never be observed.
    for (int i = successes; i < n; ++i) exp_.creationObserved(key);
    if (!error.empty()) throw std::runtime_error(error);
  }

  void deletePods(const Json& rs, const std::vector<Json>& pods, int n, const std::string& key) {
    // Rank: how many pods related to this one (same controller chain) share its node.
    std::set<std::string> relatedOwners{metaOf(rs).value("uid", "")};
    std::string rsOwner = controllerUid(rs);
    if (!rsOwner.empty())
      for (auto& other : rsInf_.list(namespaceOf(rs)))
        if (controllerUid(*other) == rsOwner) relatedOwners.insert(metaOf(*other).value("uid", ""));
    std::map<std::string, int> onNode;
    for (auto& p : podInf_.list(namespaceOf(rs)))
      if (isPodActive(*p) && relatedOwners.count(controllerUid(*p)))
        ++onNode[(*p)["spec"].value("nodeName", "")];
    std::vector<std::pair<const Json*, int>> ranked;
    for (auto& p : pods) ranked.emplace_back(&p, onNode[p["spec"].value("nodeName", "")]);
    std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) {
      return podDeletesBefore(*a.first, a.second, *b.first, b.second);
    });
    ranked.resize(std::min<size_t>(ranked.size(), size_t(n)));

    std::set<std::string> keys;
    for (auto& [p, rank] : ranked) keys.insert(objectKey(*p));
    exp_.expectDeletions(key, keys);
    std::string error;
    for (auto& [p, rank] : ranked) {
      try {
        c_.remove(podRes_, namespaceOf(*p), nameOf(*p));
        rec_.record(rs, "Normal", "SuccessfulDelete", "Deleted pod: " + nameOf(*p));
      } catch (const ApiError& e) {
        exp_.deletionObserved(key, objectKey(*p));
        if (e.code == 404) continue;
        if (error.empty()) error = e.what();
        rec_.record(rs, "Warning", "FailedDelete", std::string("Error deleting: ") + e.what());
      }
    }
    if (!error.empty()) throw std::runtime_error(error);
  }

  void updateStatus(Json rs, const std::vector<Json>& pods, const std::string& manageError) {
    const Json& tmplLabels = rs["spec"]["template"]["metadata"].value("labels", Json::object());
    long long now = runner_.clock().wallSeconds();
    int64_t minReady = rs["spec"].value("minReadySeconds", 0);
    int64_t fully = 0, ready = 0, available = 0;
    long long nextAvailable = -1;  // when a ready pod becomes available
    for (auto& p : pods) {
      Json labels = labelsOf(p);
      bool all = true;
      for (auto& [k, v] : tmplLabels.items()) all &= labels.contains(k) && labels[k] == v;
      fully += all;
      if (!isPodReady(p)) continue;
      ++ready;
      if (isPodAvailable(p, minReady, now)) {
        ++available;
      } else {
        long long at = podReadySince(p) + minReady;
        if (nextAvailable < 0 || at < nextAvailable) nextAvailable = at;
      }
    }

    Json status = rs.value("status", Json::object());
    if (!status.is_object()) status = Json::object();
    Json conds = status.value("conditions", Json::array());
    Json kept = Json::array();
    bool hadFailure = false;
    for (auto& c : conds) {
      if (c.value("type", "") == "ReplicaFailure") hadFailure = true;
      else kept.push_back(c);
    }
    if (!manageError.empty() && !hadFailure) {
      int64_t diff = int64_t(pods.size()) - specReplicas(rs);
      std::string reason = diff < 0 ? "FailedCreate" : diff > 0 ? "FailedDelete" : "";
      conds.push_back({{"type", "ReplicaFailure"}, {"status", "True"}, {"lastTransitionTime", nowRfc3339()},
                       {"reason", reason}, {"message", manageError}});
    } else if (manageError.empty() && hadFailure) {
      conds = kept;
    }
    if (conds.empty()) status.erase("conditions");
    else status["conditions"] = conds;
    status["replicas"] = int64_t(pods.size());
    setOrErase(status, "fullyLabeledReplicas", fully);
    setOrErase(status, "readyReplicas", ready);
    setOrErase(status, "availableReplicas", available);
    setOrErase(status, "observedGeneration", metaOf(rs).value("generation", int64_t(0)));

    if (status != rs.value("status", Json::object())) {
      rs["status"] = status;
      c_.update(rsRes_, namespaceOf(rs), rs, "status");
    }
    // Pods that are ready but not yet available for minReadySeconds: look again then.
    if (nextAvailable >= 0)
      runner_.queue().addAfter(objectKey(rs), std::chrono::seconds(std::max(1LL, nextAvailable - now + 1)));
  }

  Client& c_;
  const ResourceInfo& rsRes_;
  const ResourceInfo& podRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &rsInf_, &podInf_;
  PodExpectations exp_;
  EventRecorder rec_;
};

}  // namespace

std::unique_ptr<Controller> makeReplicaSetController(Client& c, const ControllerOptions& o) {
  return std::make_unique<ReplicaSetController>(c, o);
}

}  // namespace k1s
