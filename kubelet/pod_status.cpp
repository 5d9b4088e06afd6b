#include "kubelet/pod_status.h"

namespace k1s {

namespace {

std::string joinNames(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s + "]";
}

}  // namespace

std::string podPhase(const Json& spec, const std::vector<ContainerView>& init, const std::vector<ContainerView>& app) {
  std::string policy = spec.is_object() ? spec.value("restartPolicy", "Always") : "Always";
  int pendingInit = 0, failedInit = 0;
  for (auto& c : init) {
    if (c.state == ContainerView::State::Terminated) {
      if (c.exitCode != 0) ++failedInit;
    } else if (c.state == ContainerView::State::Waiting && c.lastTerminated.is_object() &&
               c.lastTerminated.value("exitCode", 0) != 0) {
      ++failedInit;
    } else {
      ++pendingInit;
    }
  }
  if (failedInit > 0 && policy == "Never") return "Failed";
  // An init container that failed and will be retried keeps the pod Pending.
  bool initDone = pendingInit == 0 && failedInit == 0;
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (auto& c : app) {
    switch (c.state) {
      case ContainerView::State::Running: ++running; break;
      case ContainerView::State::Terminated:
        ++stopped;
        if (c.exitCode == 0) ++succeeded;
        break;
      case ContainerView::State::Waiting:
        // A container waiting to restart counts as stopped, as in kubelet.
        if (c.lastTerminated.is_object()) ++stopped;
        else ++waiting;
        break;
    }
  }
  if (!initDone || waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

Json containerStatusJson(const ContainerView& c) {
  Json state;
  switch (c.state) {
    case ContainerView::State::Waiting: {
      Json w = {{"reason", c.reason}};
      if (!c.message.empty()) w["message"] = c.message;
      state = {{"waiting", w}};
      break;
    }
    case ContainerView::State::Running: state = {{"running", {{"startedAt", c.startedAt}}}}; break;
    case ContainerView::State::Terminated: {
      Json t = {{"exitCode", c.exitCode}, {"reason", c.reason}, {"startedAt", c.startedAt},
                {"finishedAt", c.finishedAt}, {"containerID", c.containerID}};
      if (!c.message.empty()) t["message"] = c.message;
      state = {{"terminated", t}};
      break;
    }
  }
  Json s = {{"name", c.name},
            {"state", state},
            {"lastState", c.lastTerminated.is_object() ? Json{{"terminated", c.lastTerminated}} : Json::object()},
            {"ready", c.ready},
            {"restartCount", c.restartCount},
            {"image", c.image},
            {"imageID", c.imageID},
            {"started", c.started}};
  if (!c.containerID.empty()) s["containerID"] = c.containerID;
  return s;
}

Json computePodStatus(const Json& pod, const PodView& v, const std::string& now) {
  const Json& spec = pod.contains("spec") ? pod["spec"] : Json::object();
  Json old = pod.contains("status") && pod["status"].is_object() ? pod["status"] : Json::object();
  Json st = Json::object();
  std::string phase = podPhase(spec, v.init, v.app);
  st["phase"] = phase;

  std::vector<std::string> incompleteInit, unready;
  for (auto& c : v.init)
    if (!(c.state == ContainerView::State::Terminated && c.exitCode == 0)) incompleteInit.push_back(c.name);
  for (auto& c : v.app)
    if (!c.ready) unready.push_back(c.name);
  bool terminal = phase == "Succeeded" || phase == "Failed";

  auto oldCond = [&](const std::string& type) -> Json {
    if (old.contains("conditions") && old["conditions"].is_array())
      for (auto& c : old["conditions"])
        if (c.value("type", "") == type) return c;
    return nullptr;
  };
  auto cond = [&](const std::string& type, bool ok, const std::string& reason, const std::string& message) {
    Json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr}};
    Json prev = oldCond(type);
    c["lastTransitionTime"] =
        prev.is_object() && prev.value("status", "") == c["status"] && prev.contains("lastTransitionTime")
            ? prev["lastTransitionTime"]
            : Json(now);
    if (!ok && !reason.empty()) c["reason"] = reason;
    if (!ok && !message.empty()) c["message"] = message;
    return c;
  };
  Json conds = Json::array();
  conds.push_back(cond("PodReadyToStartContainers", v.sandboxReady, "", ""));
  // A pod that finished its init containers stays Initialized (kube: PodCompleted).
  bool initialized = incompleteInit.empty() || (terminal && phase == "Succeeded");
  conds.push_back(cond("Initialized", initialized, "ContainersNotInitialized",
                       "containers with incomplete status: " + joinNames(incompleteInit)));
  bool ready = unready.empty() && !terminal && initialized;
  std::string notReadyReason = terminal ? "PodCompleted" : (!initialized ? "ContainersNotInitialized" : "ContainersNotReady");
  std::string notReadyMsg = terminal || !initialized ? "" : "containers with unready status: " + joinNames(unready);
  if (!initialized && !terminal) notReadyMsg = "containers with incomplete status: " + joinNames(incompleteInit);
  if (terminal && !unready.empty()) notReadyMsg = "";
  conds.push_back(cond("Ready", ready, notReadyReason, notReadyMsg));
  conds.push_back(cond("ContainersReady", ready, notReadyReason, notReadyMsg));
  if (Json ps = oldCond("PodScheduled"); ps.is_object()) conds.push_back(ps);
  st["conditions"] = conds;

  if (!v.hostIP.empty()) {
    st["hostIP"] = v.hostIP;
    st["hostIPs"] = Json::array({{{"ip", v.hostIP}}});
  }
  if (!v.podIP.empty()) {
    st["podIP"] = v.podIP;
    st["podIPs"] = Json::array({{{"ip", v.podIP}}});
  }
  if (!v.startTime.empty()) st["startTime"] = v.startTime;
  if (!v.init.empty()) {
    Json a = Json::array();
    for (auto& c : v.init) a.push_back(containerStatusJson(c));
    st["initContainerStatuses"] = a;
  }
  Json a = Json::array();
  for (auto& c : v.app) a.push_back(containerStatusJson(c));
  st["containerStatuses"] = a;
  if (old.contains("qosClass")) st["qosClass"] = old["qosClass"];
  for (const char* keep : {"nominatedNodeName", "reason", "message"})
    if (old.contains(keep)) st[keep] = old[keep];
  return st;
}

bool statusChanged(const Json& oldStatus, const Json& newStatus) { return oldStatus != newStatus; }

}  // namespace k1s
