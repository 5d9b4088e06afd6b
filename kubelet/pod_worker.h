// The kubelet's inner state, shared by kubelet.cpp (lifecycle, informers,
// routes, re-adoption) and pod_worker.cpp (the per-pod sync). Not a public face.
#pragma once
#include <atomic>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/controller_runner.h"
#include "common/events.h"
#include "common/informer.h"
#include "kubelet/images.h"
#include "kubelet/kubelet.h"
#include "kubelet/node_status.h"
#include "kubelet/pod_probes.h"
#include "kubelet/pod_spec.h"
#include "kubelet/pod_status.h"
#include "kubelet/podnet.h"
#include "kubelet/runtime.h"

namespace k1s {

// One container name of a pod, across its restarts.
struct ContainerState {
  std::string name;
  bool init = false;
  int restartCount = 0;     // the current instance's number (also the runtime id suffix)
  std::string currentId;    // runtime id of the current instance; "" before the first start
  Json lastTerminated;      // the previous instance's terminated state, or null
  std::string waitingReason, waitingMessage;  // set while not running (ErrImagePull, CrashLoopBackOff, ...)
  std::string image, imageID;
  int imageAttempts = 0;
  int64_t retryAtMs = 0;    // image/config errors: next attempt
  std::unique_ptr<ProbeWorker> liveness, readiness, startup;
  std::string probesFor;    // the instance the probe workers watch
  bool killing = false;     // liveness/startup kill in progress
  int64_t killDeadlineMs = 0;
  std::string exitSeenFor;  // the instance whose exit was handled (events, probes stopped)
  // A start the runtime refused (no state on disk): kube's StartError, exit code 128.
  std::optional<ContainerStatus> startFailure;
};

struct PodRuntime {
  std::string uid, ns, name;
  Json pod;
  bool networkReady = false, sandboxReady = false;
  bool adopted = false;  // containers of a previous daemon were taken over
  Json lastWritten, lastStored;  // the status we sent and what the server stored (normalisation-proof compare)
  PodNetwork net;
  std::string ipcns, utsns;
  std::string startTime;
  std::map<std::string, std::string> volumes;
  std::map<std::string, ContainerState> containers;  // by name
  bool terminating = false;
  int64_t terminateDeadlineMs = 0;
  bool sigkillSent = false;
  std::thread terminator;  // runs preStop hooks, then SIGTERM
  std::atomic<bool> terminatorDone{false};
  ~PodRuntime() {
    if (terminator.joinable()) terminator.join();
  }
};

struct Kubelet::Impl {
  Impl(Client& c, KubeletOptions o);

  Client& client;
  KubeletOptions opts;
  Runtime runtime;
  ImageStore images;
  PodNetworkManager network;
  EventRecorder events;
  // The pod workers: informers -> queue of pod uids -> sync(uid), on the runtime the controllers
  // use (no threads of the kubelet's own). Kubelet::stop() stops it first, joining the workers.
  ControllerRunner runner;
  WorkQueue& queue;
  Informer &pods, &configMaps, &secrets, &services;
  std::atomic<bool> stopping{false}, started{false};
  std::string hostIP;
  int64_t nodeCpuMilli = 1000, nodeMemoryBytes = 1LL << 30;  // the Node's allocatable (node_status.h)
  // The Node, its status and Lease: made at start(), once the host checks ran; synced as the
  // queue's kNodeKey, so the heartbeat needs no thread of its own.
  std::unique_ptr<NodeStatus> node;

  std::mutex mu;  // guards the maps below (each PodRuntime is only touched by its key's worker)
  std::map<std::string, std::unique_ptr<PodRuntime>> state;        // by pod uid
  std::map<std::string, std::string> uidKeys;                      // uid -> ns/name
  std::map<std::string, std::map<std::string, std::vector<int>>> adoptable;  // uid -> container -> instances
  RestartBackoff backoff;  // guarded by mu

  void sync(const std::string& uid);
  void syncNode();
  void adoptAndCleanOrphans();

  // pod_sandbox.cpp
  std::vector<int> livePids(const PodRuntime& pr);
  // False when the pod's sandbox network is lost: then its containers are killed, the network
  // released and a SandboxChanged event recorded; the next sync makes a new sandbox.
  bool sandboxIntact(PodRuntime& pr, const Json& pod);

  // pod_worker.cpp
  void syncPod(PodRuntime& pr, const Json& pod);
  bool preparePod(PodRuntime& pr, const Json& pod);
  void syncContainer(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs, bool& blocked);
  bool startContainer(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs);
  void handleProbes(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs);
  void terminatePod(PodRuntime& pr, const Json& pod);
  void cleanupPod(PodRuntime& pr, bool deleteFromApi);
  void writeStatus(PodRuntime& pr, const Json& pod);
  std::optional<ContainerStatus> statusOf(const ContainerState& cs);
  ContainerView viewOf(PodRuntime& pr, const Json& spec, ContainerState& cs, bool initDone);
  EnvContext envContext(const PodRuntime& pr, const Json& pod);
  Json containerRef(const Json& pod, const ContainerState& cs) const;
  void event(const Json& pod, const std::string& type, const std::string& reason, const std::string& msg);
  std::string hostnameOf(const Json& pod) const;

  std::string podDir(const std::string& uid) const { return opts.dataDir + "/pods/" + uid; }
  std::string containerId(const std::string& uid, const std::string& name, int n) const {
    return uid + "-" + name + "-" + std::to_string(n);
  }
};

int64_t nowMs();
// "<uid>-<name>-<n>" -> parts; false for ids that are not ours.
bool parseContainerId(const std::string& id, std::string& uid, std::string& name, int& n);

}  // namespace k1s
