#include "netproxy/proxy_conntrack.h"

#include <map>
#include <set>

namespace k1s {

namespace {

// The destinations ("ip", port) a client can address a service port by.
std::vector<std::pair<std::string, int>> frontends(const ProxyServicePort& sp, const ProxyOptions& o) {
  std::vector<std::pair<std::string, int>> out;
  if (!sp.clusterIP.empty() && sp.clusterIP != "None") out.emplace_back(sp.clusterIP, sp.port);
  for (const auto& ip : sp.externalIPs) out.emplace_back(ip, sp.port);
  if (sp.loadBalancer)
    for (const auto& ip : loadBalancerIPs(o)) out.emplace_back(ip, sp.port);
  if (sp.nodePort) out.emplace_back("", sp.nodePort);  // any local address
  return out;
}

// `endpoint` is "ip:port", or "" for every flow to the frontend.
ConntrackDelete deletion(const std::pair<std::string, int>& fe, const std::string& endpoint) {
  ConntrackDelete d = {"-D", "-p", "udp"};
  if (!fe.first.empty()) d.insert(d.end(), {"--orig-dst", fe.first});
  d.insert(d.end(), {"--orig-port-dst", std::to_string(fe.second)});
  // The reply comes from the DNAT target: that is how an entry names its endpoint.
  if (!endpoint.empty()) {
    auto colon = endpoint.rfind(':');
    d.insert(d.end(), {"--reply-src", endpoint.substr(0, colon), "--reply-port-src", endpoint.substr(colon + 1)});
  }
  return d;
}

}  // namespace

std::vector<ConntrackDelete> staleUdpFlows(const std::vector<ProxyServicePort>& before,
                                           const std::vector<ProxyServicePort>& after, const ProxyOptions& o) {
  std::map<std::string, const ProxyServicePort*> old;
  for (const auto& sp : before)
    if (sp.protocol == "UDP") old[sp.id()] = &sp;
  std::vector<ConntrackDelete> out;
  std::set<ConntrackDelete> seen;
  auto emit = [&](ConntrackDelete d) {
    if (seen.insert(d).second) out.push_back(std::move(d));
  };
  for (const auto& sp : after) {
    if (sp.protocol != "UDP") continue;
    auto it = old.find(sp.id());
    const ProxyServicePort* prev = it == old.end() ? nullptr : it->second;
    if (prev) old.erase(it);
    if (!sp.endpoints.empty() && (!prev || prev->endpoints.empty())) {
      // First endpoint: flows recorded before had no DNAT at all.
      for (const auto& fe : frontends(sp, o)) emit(deletion(fe, ""));
      continue;
    }
    if (!prev) continue;
    std::set<std::string> now(sp.endpoints.begin(), sp.endpoints.end());
    for (const auto& ep : prev->endpoints) {
      if (now.count(ep)) continue;
      // Frontends of the old shape too: a changed node port still has old flows.
      for (const auto* shape : {prev, &sp})
        for (const auto& fe : frontends(*shape, o)) emit(deletion(fe, ep));
    }
  }
  // Service ports that are gone: every flow they had is stale.
  for (const auto& [id, prev] : old)
    for (const auto& ep : prev->endpoints)
      for (const auto& fe : frontends(*prev, o)) emit(deletion(fe, ep));
  return out;
}

}  // namespace k1s
