// Which conntrack entries a proxy change leaves pointing the wrong way.
// UDP has no connection to close: a client that keeps sending from the same
// port keeps matching its old conntrack entry (and so the old DNAT target)
// for as long as it sends, so a removed UDP endpoint must have its entries
// deleted, and a UDP service that gains its first endpoint must lose the
// entries made while nothing (or a REJECT) answered. Pure: unit-tested.
#pragma once
#include <string>
#include <vector>

#include "netproxy/proxy_rules.h"

namespace k1s {

// One `conntrack -D` invocation, as its argument list (without "conntrack").
using ConntrackDelete = std::vector<std::string>;

// The deletions that bring UDP flows in line after `before` became `after`
// (both as buildServicePorts returns them); `o` says where LoadBalancer ports answer.
std::vector<ConntrackDelete> staleUdpFlows(const std::vector<ProxyServicePort>& before,
                                           const std::vector<ProxyServicePort>& after,
                                           const ProxyOptions& o = ProxyOptions{});

}  // namespace k1s
