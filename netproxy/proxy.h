// The service proxy: watches Services and EndpointSlices through informers and
// programs iptables (nat/filter chains prefixed K1S-, kube-proxy iptables-mode
// structure) with iptables-restore --noflush. Removes its chains on stop when
// asked. Also publishes LoadBalancer status (ingress hostname "localhost").
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "common/client.h"

namespace k1s {

struct ProxyOptions {
  std::string bridge = "k1s0";
  std::string clusterCIDR = "10.244.0.0/16";
  std::string serviceCIDR = "10.96.0.0/16";
  std::string nodeIP = "10.244.0.1";  // the bridge address
  bool podEgress = false;             // masquerade pod traffic leaving the host
  bool cleanupOnExit = false;         // remove every K1S chain on stop
  // Partial syncs rewrite only changed chains; a full one rewrites all of them
  // (and so repairs chains someone else changed) at least this often.
  std::chrono::seconds fullSyncPeriod{60};
  bool flushConntrack = true;         // delete UDP flows to removed endpoints
};

class ServiceProxy {
 public:
  ServiceProxy(Client& c, ProxyOptions o);
  ~ServiceProxy();
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k1s
