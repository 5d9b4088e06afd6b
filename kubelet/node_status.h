// The kubelet's Node, kept as kubelet's node status manager and node lease controller keep it:
// register the Node (labels, podCIDR), post its status (capacity and allocatable, conditions,
// addresses, nodeInfo) and renew its heartbeat Lease in kube-node-lease. The node belongs to
// the kubelet that runs it; kube-controller-manager only reads these heartbeats.
//
// There is no thread here: the kubelet runs sync() as one key of its pod workers' queue and
// puts the key back with the delay sync() returns.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/events.h"
#include "kubelet/host_check.h"

namespace k1s {

struct NodeStatusOptions {
  std::string nodeName, nodeIP, podCIDR;
  // What checkHost() found: added to the Node's conditions, or in place of the default of the
  // same type (Ready stays True unless one of them says otherwise).
  std::vector<HostCondition> hostConditions;
  // When the lease and status periods run out; tests pass their own clock.
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

// What this machine offers pods: the Node's capacity (allocatable is the same, nothing is
// reserved), and what a resourceFieldRef without a limit reports.
struct MachineResources {
  int64_t cpus = 1;
  int64_t memoryBytes = 0;
  int64_t ephemeralStorageBytes = 0;
};
MachineResources machineResources();

class NodeStatus {
 public:
  static constexpr std::chrono::seconds kLeasePeriod{10};   // kubelet's nodeLeaseRenewInterval
  static constexpr std::chrono::seconds kStatusPeriod{40};  // nodeStatusReportFrequency with leases
  static constexpr std::chrono::seconds kLeaseDuration{40};

  NodeStatus(Client& c, EventRecorder& events, NodeStatusOptions o);

  // Creates the Node, or takes over the one a previous daemon left (keeping its uid and the
  // conditions' transition times), posts its status and records kubelet's Starting and
  // NodeReady (or NodeNotReady) events. Throws on API errors.
  void registerNode();
  // One heartbeat: registers if that has not succeeded yet, renews the Lease, and posts the
  // status when kStatusPeriod has passed since the last post. Returns the delay until the
  // next call. Throws on API errors (the caller retries with back-off).
  std::chrono::milliseconds sync();

  const std::string& nodeName() const { return o_.nodeName; }

 private:
  Json labels() const;
  Json desiredStatus(const Json& old) const;
  void renewLease();
  void postStatus();

  Client& client_;
  EventRecorder& events_;
  NodeStatusOptions o_;
  const ResourceInfo& nodeRes_;
  const ResourceInfo& leaseRes_;
  // Touched by registerNode() before the queue runs sync(), then by sync() alone (one key is
  // never synced by two workers at once).
  std::string nodeUid_;
  bool registered_ = false;
  std::chrono::steady_clock::time_point nextStatus_{};
};

}  // namespace k1s
