// Pod networking through libnl: the bridge, one veth per pod into the pod's
// named network namespace, IPAM over the node's pod range (persisted, no reuse
// while in use), hairpin on bridge ports, routes. Everything created is named
// with the configured bridge name as prefix and removed by teardown().
#pragma once
#include <string>

namespace k1s {

struct PodNetworkOptions {
  std::string bridge = "k1s0";
  std::string podCIDR = "10.244.0.0/24";  // this node's range; the bridge gets .1
  std::string clusterCIDR = "10.244.0.0/16";
  std::string serviceCIDR = "10.96.0.0/16";
  std::string runDir;                      // netns handles under <run-dir>/netns
  std::string stateFile;                   // IPAM state (<data-dir>/ipam.json)
  bool podEgress = false;
};

struct PodNetwork {
  std::string netnsPath;  // <run-dir>/netns/<name>
  std::string ip;         // pod IP
  std::string hostVeth;
};

class PodNetworkManager {
 public:
  explicit PodNetworkManager(PodNetworkOptions o);
  // Creates the bridge (idempotent), enables forwarding, routes the service CIDR to the bridge.
  void init();
  // Creates (or returns the existing) network for a pod: named netns, veth, IP, default route, lo up.
  PodNetwork setup(const std::string& podUid, const std::string& podNamespace, const std::string& podName);
  void release(const std::string& podUid);  // removes netns, veth, frees the IP
  // Removes everything this manager created (bridge, all pod netns and veths, routes).
  void teardown();
  std::string bridgeIP() const;

 private:
  PodNetworkOptions o_;
};

}  // namespace k1s
