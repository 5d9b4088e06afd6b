// The kubelet: runs the pods bound to this node. Reads pods through an
// informer, writes pod status through the Client (DESIGN rule 1), and drives
// the runtime, the image store and the pod network. Also the back ends for the
// API server's pods/log, exec, attach and port-forward subresources.
#pragma once
#include <memory>
#include <string>

#include "common/client.h"
#include "common/pod_subresources.h"

namespace k1s {

struct KubeletOptions {
  std::string nodeName;
  std::string dataDir, runDir;
  std::string bridge = "k1s0";
  std::string clusterCIDR = "10.244.0.0/16";
  std::string podCIDR = "10.244.0.0/24";
  std::string serviceCIDR = "10.96.0.0/16";
  std::string clusterDNS = "10.96.0.10";
  std::string clusterDomain = "cluster.local";
  bool podEgress = false;
  bool cleanupOnExit = false;
  std::string selfExe;  // the k1s binary, re-exec'd as the shim
};

class Kubelet {
 public:
  Kubelet(Client& c, KubeletOptions o);
  ~Kubelet();
  void start();
  void stop();
  // The back end of the API server's pods/log, exec, attach and portforward.
  std::shared_ptr<PodSubresources> podSubresources();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k1s
