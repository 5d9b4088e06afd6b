// Pod networking through libnl: the bridge, one veth per pod into the pod's
// named network namespace, IPAM over the node's pod range (persisted, no reuse
// while in use), hairpin on bridge ports, routes. Everything created is named
// with the configured bridge name as prefix and removed by teardown().
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  ~PodNetworkManager();
  // Creates the bridge (idempotent), enables forwarding, routes the service CIDR to the bridge.
  void init();
  // Creates (or returns the existing) network for a pod: named netns, veth, IP, default route, lo up.
  // When the netns handle is gone (made by a daemon in another mount namespace) but one of livePids
  // (the pod's running containers) still is in the pod's namespace, that namespace is bound back to
  // the handle and kept, as kubelet keeps a live sandbox.
  PodNetwork setup(const std::string& podUid, const std::string& podNamespace, const std::string& podName,
                   const std::vector<int>& livePids = {});
  // The pod's network still exists: its netns handle, and its veth on the bridge.
  bool alive(const PodNetwork& net) const;
  void release(const std::string& podUid);  // removes netns, veth, frees the IP
  // Removes everything this manager created (bridge, all pod netns and veths, routes).
  void teardown();
  std::string bridgeIP() const;
  // The pod's network as recorded in the IPAM state (survives a restart), if any.
  std::optional<PodNetwork> lookup(const std::string& podUid) const;
  // Uids of every pod holding a network, e.g. to release the ones whose pods
  // disappeared while the daemon was down.
  std::vector<std::string> podUids() const;
  // Whether init() found bridge netfilter (br_netfilter) and enabled
  // bridge-nf-call-iptables; without it, pod->service->same-bridge DNAT fails.
  bool bridgeNetfilter() const;

 private:
  PodNetworkOptions o_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k1s
