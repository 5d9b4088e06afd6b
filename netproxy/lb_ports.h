// Which LoadBalancer Service gets which localhost port. Like k3s's ServiceLB
// (a host port per Service port on every node), one port/protocol pair on the
// node serves one Service. A Service already serving (status.loadBalancer
// has an ingress) keeps its ports, so a newcomer never takes traffic away from
// it; among the rest the oldest (creationTimestamp, then name, then namespace)
// goes first. A Service that asks for any port already held gets none of its
// ports and stays <pending> until the holder goes away. The API is the state:
// the same objects give the same answer after a restart. Pure: unit-tested.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

struct LoadBalancerClaim {
  bool admitted = false;
  std::string holder;  // when not admitted: "ns/name" of the Service holding the port
  std::string port;    // when not admitted: the first port it wanted that is held, "8080/TCP"
};

// "ns/name" -> claim, for every Service of type LoadBalancer in `services`.
std::map<std::string, LoadBalancerClaim> assignLoadBalancerPorts(const std::vector<const Json*>& services);

}  // namespace k1s
