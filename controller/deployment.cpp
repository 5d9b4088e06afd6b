// The Deployment controller, after kube's pkg/controller/deployment: watches
// Deployments, ReplicaSets and pods, claims the ReplicaSets a Deployment
// selects, and runs one DeploymentSync per key (deployment_sync.cpp).
#include <chrono>
#include <mutex>
#include <set>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "common/selector.h"
#include "controller/controller.h"
#include "controller/deployment_internal.h"
#include "controller/podutil.h"

namespace k1s {

namespace {

constexpr const char* kComponent = "deployment-controller";
// A write whose result the informer never showed stops blocking after this.
constexpr auto kWriteTTL = std::chrono::seconds(10);

int64_t rvOf(const Json& obj) {
  try {
    return std::stoll(metaOf(obj).value("resourceVersion", "0"));
  } catch (...) {
    return 0;
  }
}

// The controller's own writes, until its informers show them. A sync acting
// on a cache that does not yet contain its last writes could scale by stale
// numbers (and break the surge/unavailable bounds), so such a sync waits:
// the watch event that brings the write re-queues the deployment.
class WriteTracker {
 public:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    std::string deployment;  // whose sync made the write
    int64_t rv = 0;          // the cache must reach this revision; 0: the object must be gone
    Clock::time_point at;
  };
  void wrote(const std::string& deployment, const std::string& obj, int64_t rv) {
    std::lock_guard<std::mutex> l(mu_);
    m_[obj] = {deployment, rv, Clock::now()};
  }
  // Called from informer handlers and by the checks below.
  void seen(const std::string& obj, int64_t rv) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = m_.find(obj);
    if (it != m_.end() && it->second.rv != 0 && rv >= it->second.rv) m_.erase(it);
  }
  void gone(const std::string& obj) {
    std::lock_guard<std::mutex> l(mu_);
    m_.erase(obj);
  }
  void forget(const std::string& deployment) {
    std::lock_guard<std::mutex> l(mu_);
    std::erase_if(m_, [&](auto& e) { return e.second.deployment == deployment; });
  }
  // Objects written for `deployment` still awaited; `cached(obj)` returns the
  // cache's revision of an object (-1 when absent).
  template <class Lookup>
  bool pending(const std::string& deployment, Lookup cached) {
    std::lock_guard<std::mutex> l(mu_);
    bool waiting = false;
    for (auto it = m_.begin(); it != m_.end();) {
      auto& p = it->second;
      if (p.deployment != deployment) {
        ++it;
        continue;
      }
      int64_t have = cached(it->first);
      bool done = p.rv == 0 ? have < 0 : have >= p.rv;
      if (done || Clock::now() - p.at > kWriteTTL) {
        it = m_.erase(it);
      } else {
        waiting = true;
        ++it;
      }
    }
    return waiting;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Pending> m_;  // "Kind ns/name" -> pending write
};

std::string trackKey(const std::string& kind, const std::string& key) { return kind + " " + key; }

class DeploymentController : public Controller {
 public:
  DeploymentController(Client& c, const ControllerOptions& o)
      : c_(c),
        dRes_(*findResource("apps", "deployments")),
        rsRes_(*findResource("apps", "replicasets")),
        podRes_(*findResource("", "pods")),
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, o.workers, o.clockOrReal()),
        dInf_(runner_.use(dRes_)),
        rsInf_(runner_.use(rsRes_)),
        podInf_(runner_.use(podRes_)),
        rec_(c, kComponent) {
    runner_.on(dInf_, {[this](const Json& d) { enqueue(d); },
                       [this](const Json&, const Json& d) {
                         tracker_.seen(trackKey("Deployment", objectKey(d)), rvOf(d));
                         enqueue(d);
                       },
                       [this](const Json& d) {
                         tracker_.forget(objectKey(d));
                         enqueue(d);
                       }});
    runner_.on(rsInf_, {[this](const Json& rs) { rsChanged(nullptr, rs); },
                        [this](const Json& o, const Json& rs) { rsChanged(&o, rs); },
                        [this](const Json& rs) {
                          tracker_.gone(trackKey("ReplicaSet", objectKey(rs)));
                          if (auto d = owningDeployment(rs)) enqueue(*d);
                        }});
    runner_.on(podInf_, {nullptr, nullptr, [this](const Json& pod) { podDeleted(pod); }});
  }
  ~DeploymentController() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override { runner_.start(); }

  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  void enqueue(const Json& d) { runner_.queue().add(objectKey(d)); }

  CachedObject owningDeployment(const Json& rs) {
    Json ref = controllerRef(rs);
    if (!ref.is_object() || ref.value("kind", "") != "Deployment") return nullptr;
    auto d = dInf_.get(namespaceOf(rs), ref.value("name", ""));
    if (!d || metaOf(*d).value("uid", "") != ref.value("uid", "")) return nullptr;
    return d;
  }

  void enqueueMatching(const Json& rs) {
    Json labels = labelsOf(rs);
    for (auto& d : dInf_.list(namespaceOf(rs))) {
      try {
        if (LabelSelector::fromObject((*d)["spec"].value("selector", Json())).matches(labels)) enqueue(*d);
      } catch (const std::exception&) {
      }
    }
  }

  void rsChanged(const Json* old, const Json& rs) {
    tracker_.seen(trackKey("ReplicaSet", objectKey(rs)), rvOf(rs));
    if (old && metaOf(*old).value("resourceVersion", "") == metaOf(rs).value("resourceVersion", "")) return;
    Json oldRef = old ? controllerRef(*old) : Json();
    Json ref = controllerRef(rs);
    if (old && oldRef != ref && oldRef.is_object())
      if (auto d = owningDeployment(*old)) enqueue(*d);
    if (ref.is_object()) {
      if (auto d = owningDeployment(rs)) enqueue(*d);
      return;
    }
    if (!old || labelsOf(*old) != labelsOf(rs) || oldRef != ref) enqueueMatching(rs);
  }

  // Recreate waits for old pods to be gone; their deletions wake it.
  void podDeleted(const Json& pod) {
    Json ref = controllerRef(pod);
    if (!ref.is_object() || ref.value("kind", "") != "ReplicaSet") return;
    auto rs = rsInf_.get(namespaceOf(pod), ref.value("name", ""));
    if (!rs) return;
    if (auto d = owningDeployment(*rs))
      if ((*d)["spec"].value("strategy", Json::object()).value("type", "") == "Recreate") enqueue(*d);
  }

  // kube's ClaimReplicaSets: ours that match, matching orphans adopted, ours
  // that stopped matching released.
  deploy::RSList claimReplicaSets(const Json& d, const LabelSelector& sel) {
    deploy::RSList claimed;
    std::string uid = metaOf(d).value("uid", "");
    bool adoptionChecked = false;
    for (auto& cached : rsInf_.list(namespaceOf(d))) {
      const Json& rs = *cached;
      std::string owner = controllerUid(rs);
      bool matches = sel.matches(labelsOf(rs));
      try {
        if (!owner.empty()) {
          if (owner != uid) continue;
          if (matches) claimed.push_back(rs);
          else if (!isDeleting(d)) releaseObject(c_, rsRes_, rs, uid);
          continue;
        }
        if (isDeleting(d) || !matches || isDeleting(rs)) continue;
        if (!adoptionChecked) {
          deploy::requireLiveDeployment(c_, dRes_, d);
          adoptionChecked = true;
        }
        Json adopted = adoptObject(c_, rsRes_, rs, d);
        tracker_.wrote(objectKey(d), trackKey("ReplicaSet", objectKey(adopted)), rvOf(adopted));
        claimed.push_back(adopted);
      } catch (const ApiError& e) {
        if (e.code != 404) throw;
      }
    }
    return claimed;
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    auto cached = dInf_.get(ns, name);
    if (!cached) {
      tracker_.forget(key);
      return;
    }
    auto cachedRv = [&](const std::string& tk) -> int64_t {
      auto space = tk.find(' ');
      std::string kind = tk.substr(0, space), objNs, objName;
      splitKey(tk.substr(space + 1), objNs, objName);
      auto obj = kind == "Deployment" ? dInf_.get(objNs, objName) : rsInf_.get(objNs, objName);
      return obj ? rvOf(*obj) : -1;
    };
    if (tracker_.pending(key, cachedRv)) {
      // The informer will bring the write (and this key) back; this is the fallback.
      runner_.queue().addAfter(key, std::chrono::duration_cast<std::chrono::milliseconds>(kWriteTTL) +
                                         std::chrono::milliseconds(100));
      return;
    }
    Json d = *cached;  // our own copy: the cache is shared and immutable
    auto sel = LabelSelector::fromObject(d["spec"].value("selector", Json()));
    deploy::RSList rsList = claimReplicaSets(d, sel);

    std::set<std::string> rsUids;
    for (auto& rs : rsList) rsUids.insert(deploy::uidOf(rs));
    std::map<std::string, std::vector<Json>> podsByRs;
    for (auto& p : podInf_.list(ns)) {
      std::string owner = controllerUid(*p);
      if (rsUids.count(owner) && sel.matches(labelsOf(*p))) podsByRs[owner].push_back(*p);
    }

    deploy::SyncEnv env{
        c_,
        rec_,
        dRes_,
        rsRes_,
        [&](const Json& obj) { tracker_.wrote(key, trackKey(obj.value("kind", ""), objectKey(obj)), rvOf(obj)); },
        [&](const std::string& rsKey) { tracker_.wrote(key, trackKey("ReplicaSet", rsKey), 0); },
        [&](std::chrono::milliseconds after) { runner_.queue().addAfter(key, after); },
        runner_.clock()};
    deploy::DeploymentSync(env, std::move(d), std::move(rsList), std::move(podsByRs)).run();
  }

  Client& c_;
  const ResourceInfo& dRes_;
  const ResourceInfo& rsRes_;
  const ResourceInfo& podRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &dInf_, &rsInf_, &podInf_;
  WriteTracker tracker_;
  EventRecorder rec_;
};

}  // namespace

std::unique_ptr<Controller> makeDeploymentController(Client& c, const ControllerOptions& o) {
  return std::make_unique<DeploymentController>(c, o);
}

}  // namespace k1s
