// Pod status as the kubelet computes it from what it knows about each
// container: phase (kubelet's getPhase), conditions with transition times
// kept from the previous status, and container statuses. Pure, unit-tested.
#pragma once
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

struct ContainerView {
  enum class State { Waiting, Running, Terminated };
  std::string name;
  State state = State::Waiting;
  std::string reason, message;          // waiting reason/message, or terminated reason/message
  std::string startedAt, finishedAt;    // running: startedAt; terminated: both
  int exitCode = 0;
  std::string containerID;              // "k1s://<id>" of the current instance ("" before the first start)
  std::string image, imageID;
  Json lastTerminated;                  // null or {exitCode, reason, startedAt, finishedAt, containerID}
  int restartCount = 0;
  bool ready = false, started = false;
};

struct PodView {
  std::vector<ContainerView> init, app;
  std::string podIP, hostIP, startTime;
  bool sandboxReady = false;  // network + sandbox set up (PodReadyToStartContainers)
};

// kubelet's getPhase over init and app container views.
std::string podPhase(const Json& spec, const std::vector<ContainerView>& init, const std::vector<ContainerView>& app);

// The Kubernetes JSON of one container status.
Json containerStatusJson(const ContainerView& c);

// The full status: phase, conditions (PodScheduled and qosClass kept from the
// old status; lastTransitionTime kept when a condition's status is unchanged),
// IPs, startTime, container statuses. `now` stamps changed conditions.
Json computePodStatus(const Json& pod, const PodView& v, const std::string& now);

// True when two statuses differ in anything but condition probe times.
bool statusChanged(const Json& oldStatus, const Json& newStatus);

}  // namespace k1s
