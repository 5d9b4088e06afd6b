// The cluster zone: answers for names under the cluster domain and for
// reverse (in-addr.arpa) names of ClusterIPs, endpoint and pod IPs, read from
// informer caches at query time (nothing to keep in sync).
#pragma once
#include <string>
#include <vector>

#include "common/informer.h"
#include "netproxy/dns_wire.h"

namespace k1s::dns {

constexpr uint32_t kTtl = 5;

struct Answer {
  bool handled = false;  // false: not ours, try /etc/hosts or the upstream
  Rcode rcode = NoError;
  std::vector<RR> answer, authority, additional;
};

class ClusterZone {
 public:
  ClusterZone(const Informer& services, const Informer& slices, const Informer& pods, std::string domain);
  Answer resolve(const Question& q) const;
  RR soa() const;

 private:
  Answer resolveService(const Question& q, const std::vector<std::string>& labels) const;
  Answer resolveReverse(const Question& q) const;
  // Ready endpoints of a service: (address, hostname or "").
  std::vector<std::pair<std::string, std::string>> readyEndpoints(const std::string& ns,
                                                                  const std::string& svc) const;
  Answer nodata() const;
  Answer nxdomain() const;

  const Informer &services_, &slices_, &pods_;
  std::string domain_;
};

}  // namespace k1s::dns
