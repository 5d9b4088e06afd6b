// Pod status as the kubelet computes it: phase per restart policy, conditions,
// container statuses.
#include <doctest/doctest.h>

#include "kubelet/pod_status.h"

using namespace k1s;

namespace {
ContainerView running(const std::string& n, bool ready = true) {
  ContainerView c;
  c.name = n;
  c.state = ContainerView::State::Running;
  c.startedAt = "2026-01-01T00:00:00Z";
  c.ready = ready;
  c.started = true;
  c.containerID = "k1s://id-" + n;
  return c;
}
ContainerView exited(const std::string& n, int code) {
  ContainerView c;
  c.name = n;
  c.state = ContainerView::State::Terminated;
  c.exitCode = code;
  c.reason = code == 0 ? "Completed" : "Error";
  c.startedAt = "2026-01-01T00:00:00Z";
  c.finishedAt = "2026-01-01T00:00:05Z";
  return c;
}
ContainerView waiting(const std::string& n, const std::string& reason, bool restarted = false) {
  ContainerView c;
  c.name = n;
  c.reason = reason;
  if (restarted) c.lastTerminated = {{"exitCode", 1}, {"reason", "Error"}};
  return c;
}
Json spec(const std::string& policy) { return {{"restartPolicy", policy}}; }
Json cond(const Json& st, const std::string& type) {
  for (auto& c : st["conditions"])
    if (c["type"] == type) return c;
  return nullptr;
}
}  // namespace

TEST_CASE("kubelet pod phase follows kubelet's getPhase") {
  CHECK(podPhase(spec("Always"), {}, {waiting("a", "ContainerCreating")}) == "Pending");
  CHECK(podPhase(spec("Always"), {}, {running("a"), waiting("b", "ErrImagePull")}) == "Pending");
  CHECK(podPhase(spec("Always"), {}, {running("a")}) == "Running");
  CHECK(podPhase(spec("Always"), {}, {waiting("a", "CrashLoopBackOff", true)}) == "Running");
  CHECK(podPhase(spec("Never"), {}, {exited("a", 0)}) == "Succeeded");
  CHECK(podPhase(spec("Never"), {}, {exited("a", 0), exited("b", 2)}) == "Failed");
  CHECK(podPhase(spec("OnFailure"), {}, {exited("a", 0)}) == "Succeeded");
  CHECK(podPhase(spec("OnFailure"), {}, {waiting("a", "CrashLoopBackOff", true)}) == "Running");
  CHECK(podPhase(spec("Always"), {running("init")}, {waiting("a", "PodInitializing")}) == "Pending");
  CHECK(podPhase(spec("Always"), {exited("init", 0)}, {running("a")}) == "Running");
  CHECK(podPhase(spec("Never"), {exited("init", 1)}, {waiting("a", "PodInitializing")}) == "Failed");
  CHECK(podPhase(spec("Always"), {waiting("init", "CrashLoopBackOff", true)}, {waiting("a", "PodInitializing")}) ==
        "Pending");
}

TEST_CASE("kubelet pod status: conditions, IPs, container statuses") {
  Json pod = {{"spec", spec("Always")},
              {"status",
               {{"phase", "Pending"},
                {"qosClass", "BestEffort"},
                {"conditions",
                 {{{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", "2026-01-01T00:00:00Z"}},
                  {{"type", "Ready"}, {"status", "False"}, {"lastTransitionTime", "2026-01-01T00:00:01Z"}}}}}}};
  PodView v;
  v.podIP = "10.244.0.5";
  v.hostIP = "10.244.0.1";
  v.startTime = "2026-01-01T00:00:00Z";
  v.sandboxReady = true;
  v.app = {running("web", false), running("side")};
  Json st = computePodStatus(pod, v, "2026-01-01T00:01:00Z");
  CHECK(st["phase"] == "Running");
  CHECK(st["qosClass"] == "BestEffort");
  CHECK(st["podIP"] == "10.244.0.5");
  CHECK(st["podIPs"] == Json::array({{{"ip", "10.244.0.5"}}}));
  CHECK(st["hostIP"] == "10.244.0.1");
  CHECK(st["startTime"] == "2026-01-01T00:00:00Z");
  std::vector<std::string> order;
  for (auto& c : st["conditions"]) order.push_back(c["type"]);
  CHECK(order == std::vector<std::string>{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                          "PodScheduled"});
  Json ready = cond(st, "Ready");
  CHECK(ready["status"] == "False");
  CHECK(ready["reason"] == "ContainersNotReady");
  CHECK(ready["message"] == "containers with unready status: [web]");
  CHECK(ready["lastTransitionTime"] == "2026-01-01T00:00:01Z");  // unchanged status keeps its time
  CHECK(cond(st, "Initialized")["status"] == "True");
  CHECK(cond(st, "PodScheduled")["lastTransitionTime"] == "2026-01-01T00:00:00Z");

  // Becoming ready stamps a new transition time.
  v.app[0].ready = true;
  pod["status"] = st;
  Json st2 = computePodStatus(pod, v, "2026-01-01T00:02:00Z");
  CHECK(cond(st2, "Ready")["status"] == "True");
  CHECK(cond(st2, "Ready")["lastTransitionTime"] == "2026-01-01T00:02:00Z");
  CHECK_FALSE(cond(st2, "Ready").contains("reason"));
  CHECK(statusChanged(st, st2));
  CHECK_FALSE(statusChanged(st2, computePodStatus(Json{{"spec", spec("Always")}, {"status", st2}}, v, "later")));

  Json cs = st2["containerStatuses"][0];
  CHECK(cs["name"] == "web");
  CHECK(cs["state"]["running"]["startedAt"] == "2026-01-01T00:00:00Z");
  CHECK(cs["lastState"] == Json::object());
  CHECK(cs["containerID"] == "k1s://id-web");
  CHECK(cs["started"] == true);
}

TEST_CASE("kubelet container status JSON for waiting, terminated and restarted containers") {
  ContainerView w = waiting("api", "CrashLoopBackOff", true);
  w.message = "back-off 10s restarting failed container=api pod=p_default(u)";
  w.restartCount = 1;
  Json j = containerStatusJson(w);
  CHECK(j["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(j["state"]["waiting"]["message"] == w.message);
  CHECK(j["lastState"]["terminated"]["exitCode"] == 1);
  CHECK(j["restartCount"] == 1);
  CHECK(j["ready"] == false);
  CHECK_FALSE(j.contains("containerID"));

  Json t = containerStatusJson(exited("job", 0));
  CHECK(t["state"]["terminated"]["reason"] == "Completed");
  CHECK(t["state"]["terminated"]["exitCode"] == 0);
  CHECK(t["state"]["terminated"]["finishedAt"] == "2026-01-01T00:00:05Z");

  // A finished Never pod: Ready False with PodCompleted.
  PodView v;
  v.app = {exited("job", 0)};
  Json st = computePodStatus(Json{{"spec", spec("Never")}}, v, "now");
  CHECK(st["phase"] == "Succeeded");
  CHECK(cond(st, "Ready")["reason"] == "PodCompleted");
  CHECK(cond(st, "PodReadyToStartContainers")["status"] == "False");

  // Init containers pending: Initialized False naming them.
  PodView iv;
  iv.init = {running("setup")};
  iv.app = {waiting("app", "PodInitializing")};
  Json ist = computePodStatus(Json{{"spec", spec("Always")}}, iv, "now");
  CHECK(cond(ist, "Initialized")["message"] == "containers with incomplete status: [setup]");
  CHECK(cond(ist, "Initialized")["reason"] == "ContainersNotInitialized");
  CHECK(ist["initContainerStatuses"][0]["name"] == "setup");
}
