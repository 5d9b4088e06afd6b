// Cluster DNS, in-process (UDP and TCP): answers the cluster domain from
// Services, EndpointSlices and Pods read through informers; other names from
// the host's /etc/hosts, else REFUSED (offline) unless an upstream is given.
#pragma once
#include <memory>
#include <string>

#include "common/client.h"

namespace k1s {

struct DnsOptions {
  std::string listenIP = "10.96.0.10";  // the kube-dns Service IP (bound on the host side)
  int port = 53;
  std::string clusterDomain = "cluster.local";
  std::string upstream;                  // "ip:port"; empty = never forward
  int udpWorkers = 2;                    // UDP threads, one SO_REUSEPORT socket each
};

class ClusterDns {
 public:
  ClusterDns(Client& c, DnsOptions o);
  ~ClusterDns();
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k1s

namespace k1s {

// Creates (or corrects) kube-system/kube-dns: a selectorless Service at
// `serviceIP` (53/UDP "dns", 53/TCP "dns-tcp") and its Endpoints and
// EndpointSlice pointing at `serverIP` on node `nodeName`, where ClusterDns
// listens; the proxy DNATs the one to the other.
void ensureKubeDnsService(Client& c, const std::string& serviceIP, const std::string& serverIP,
                          const std::string& nodeName);

}  // namespace k1s
