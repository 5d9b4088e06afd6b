// The scheduler: binds Pending pods (schedulerName default-scheduler, no
// spec.nodeName) to a node that fits, through the pods/binding subresource.
// A pod that fits nowhere keeps PodScheduled=False (reason Unschedulable) and
// gets a FailedScheduling event; it is retried whenever nodes or pods change.
#include <set>

#include "common/controller_runner.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/scheduler_fit.h"

namespace k1s {

namespace {

const char* kComponent = "default-scheduler";

bool isTerminal(const Json& pod) {
  std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
  return phase == "Succeeded" || phase == "Failed";
}

std::string nodeOf(const Json& pod) { return pod.contains("spec") ? pod["spec"].value("nodeName", "") : ""; }

bool wantsScheduling(const Json& pod) {
  if (!nodeOf(pod).empty() || metaOf(pod).contains("deletionTimestamp") || isTerminal(pod)) return false;
  std::string scheduler = pod["spec"].value("schedulerName", "");
  return scheduler.empty() || scheduler == kComponent;
}

class Scheduler : public Controller {
 public:
  Scheduler(Client& c, const ControllerOptions& o)
      : client_(c),
        podRes_(*findResource("", "pods")),
        // One worker: decisions use the committed usage of the previous one.
        runner_(c, kComponent, [this](const std::string& k) { sync(k); }, 1, o.clockOrReal()),
        pods_(runner_.use(podRes_)),
        nodes_(runner_.use(*findResource("", "nodes"))),
        events_(c, kComponent) {
    runner_.on(pods_, {[this](const Json& p) { onPod(nullptr, p); },
                       [this](const Json& a, const Json& b) { onPod(&a, b); },
                       [this](const Json& p) { onPodGone(p); }});
    auto nodeChanged = [this](const Json&) { retryUnschedulable(); };
    runner_.on(nodes_, {nodeChanged, [nodeChanged](const Json&, const Json& n) { nodeChanged(n); }, nullptr});
  }
  ~Scheduler() override { stop(); }

  const char* name() const override { return kComponent; }
  void start() override { runner_.start(); }
  void stop() override { runner_.stop(); }
  ControllerRunner* runner() override { return &runner_; }

 private:
  void onPod(const Json* old, const Json& pod) {
    std::string key = objectKey(pod);
    if (wantsScheduling(pod)) {
      runner_.queue().add(key);
      return;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!nodeOf(pod).empty()) assumed_.erase(key);  // the cache shows the binding now
      unschedulable_.erase(key);
    }
    // A pod that stopped holding resources (finished, deleting) may make room.
    if (old && !nodeOf(pod).empty() &&
        ((isTerminal(pod) && !isTerminal(*old)) ||
         (metaOf(pod).contains("deletionTimestamp") && !metaOf(*old).contains("deletionTimestamp"))))
      retryUnschedulable();
  }

  void onPodGone(const Json& pod) {
    {
      std::lock_guard<std::mutex> l(mu_);
      assumed_.erase(objectKey(pod));
      unschedulable_.erase(objectKey(pod));
    }
    if (!nodeOf(pod).empty()) retryUnschedulable();
  }

  void retryUnschedulable() {
    std::set<std::string> keys;
    {
      std::lock_guard<std::mutex> l(mu_);
      keys = unschedulable_;
    }
    for (auto& k : keys) runner_.queue().add(k);
  }

  NodeUsage usageOf(const std::string& node, const std::string& exceptKey) {
    NodeUsage u;
    std::set<std::string> counted;
    for (auto& p : pods_.list()) {
      if (nodeOf(*p) != node || isTerminal(*p)) continue;
      std::string key = objectKey(*p);
      if (key == exceptKey) continue;
      addPodToUsage(u, *p);
      counted.insert(key);
    }
    // Pods bound by us that the cache has not caught up with yet.
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [key, a] : assumed_)
      if (a.first == node && !counted.count(key) && key != exceptKey) addPodToUsage(u, a.second);
    return u;
  }

  void sync(const std::string& key) {
    std::string ns, name;
    splitKey(key, ns, name);
    auto cached = pods_.get(ns, name);
    if (!cached || !wantsScheduling(*cached)) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (assumed_.count(key)) return;  // bound already; the cache is behind
    }
    const Json& pod = *cached;
    auto nodes = nodes_.list();
    std::vector<std::vector<std::string>> reasons;
    std::string chosen;
    for (auto& n : nodes) {
      auto r = unfitReasons(pod, *n, usageOf(nameOf(*n), key));
      if (r.empty() && chosen.empty()) chosen = nameOf(*n);
      reasons.push_back(std::move(r));
    }
    if (!chosen.empty()) return bind(key, pod, chosen);
    markUnschedulable(key, pod, unschedulableMessage(nodes.size(), reasons));
  }

  void bind(const std::string& key, const Json& pod, const std::string& node) {
    Json binding = {{"apiVersion", "v1"},
                    {"kind", "Binding"},
                    {"metadata", {{"name", nameOf(pod)}, {"namespace", namespaceOf(pod)}}},
                    {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
    try {
      client_.update(podRes_, namespaceOf(pod), binding, "binding");
    } catch (const ApiError& e) {
      if (e.code == 404) return;  // deleted meanwhile
      if (e.code == 409) return;  // bound by someone else, or being deleted
      throw;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      assumed_[key] = {node, pod};
      unschedulable_.erase(key);
    }
    LOGV(1, kComponent, "bound pod=" << key << " node=" << node);
    events_.record(pod, "Normal", "Scheduled", "Successfully assigned " + key + " to " + node);
  }

  void markUnschedulable(const std::string& key, const Json& cached, const std::string& message) {
    {
      std::lock_guard<std::mutex> l(mu_);
      unschedulable_.insert(key);
    }
    LOGV(2, kComponent, "unschedulable pod=" << key << " msg=" << message);
    events_.record(cached, "Warning", "FailedScheduling", message);
    Json pod = client_.get(podRes_, namespaceOf(cached), nameOf(cached));
    Json& conds = pod["status"]["conditions"];
    if (!conds.is_array()) conds = Json::array();
    Json cond = {{"type", "PodScheduled"}, {"status", "False"}, {"lastProbeTime", nullptr},
                 {"lastTransitionTime", nowRfc3339()}, {"reason", "Unschedulable"}, {"message", message}};
    for (auto& c : conds) {
      if (c.value("type", "") != "PodScheduled") continue;
      if (c.value("status", "") == "False" && c.value("reason", "") == "Unschedulable" &&
          c.value("message", "") == message)
        return;  // already says so
      if (c.value("status", "") == "False") cond["lastTransitionTime"] = c.value("lastTransitionTime", nowRfc3339());
      c = cond;
      return void(client_.update(podRes_, namespaceOf(pod), pod, "status"));
    }
    conds.push_back(cond);
    client_.update(podRes_, namespaceOf(pod), pod, "status");
  }

  Client& client_;
  const ResourceInfo& podRes_;
  ControllerRunner runner_;  // before the informer references into it
  Informer &pods_, &nodes_;
  EventRecorder events_;
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, Json>> assumed_;  // pod key -> (node, pod)
  std::set<std::string> unschedulable_;
};

}  // namespace

std::unique_ptr<Controller> makeScheduler(Client& c, const ControllerOptions& o) {
  return std::make_unique<Scheduler>(c, o);
}

}  // namespace k1s
