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
