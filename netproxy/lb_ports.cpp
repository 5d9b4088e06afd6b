#include "netproxy/lb_ports.h"

#include <algorithm>
#include <tuple>

namespace k1s {

namespace {

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

struct Candidate {
  bool serving;                   // the order: serving first, then oldest, ties by name
  std::string created, name, ns;
  const Json* spec;
  std::string key() const { return ns + "/" + name; }
};

}  // namespace

std::map<std::string, LoadBalancerClaim> assignLoadBalancerPorts(const std::vector<const Json*>& services) {
  static const Json empty = Json::object();
  std::vector<Candidate> cands;
  for (const Json* s : services) {
    auto mi = s->find("metadata"), si = s->find("spec");
    if (mi == s->end() || !mi->is_object() || si == s->end() || !si->is_object()) continue;
    if (str(*si, "type") != "LoadBalancer") continue;
    // creationTimestamp is RFC 3339 in UTC with whole seconds: string order is time order.
    bool serving = false;
    auto st = s->find("status");
    if (st != s->end() && st->is_object()) {
      auto lbs = st->find("loadBalancer");
      if (lbs != st->end() && lbs->is_object()) {
        auto ing = lbs->find("ingress");
        serving = ing != lbs->end() && ing->is_array() && !ing->empty();
      }
    }
    // creationTimestamp is RFC 3339 in UTC with whole seconds: string order is time order.
    cands.push_back({serving, str(*mi, "creationTimestamp"), str(*mi, "name"), str(*mi, "namespace"), &*si});
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.serving != b.serving) return a.serving;
    return std::tie(a.created, a.name, a.ns) < std::tie(b.created, b.name, b.ns);
  });
  std::map<std::string, std::string> held;  // "8080/TCP" -> "ns/name"
  std::map<std::string, LoadBalancerClaim> out;
  for (const auto& c : cands) {
    std::vector<std::string> wanted;
    auto pi = c.spec->find("ports");
    if (pi != c.spec->end() && pi->is_array())
      for (const auto& p : *pi) {
        if (!p.is_object()) continue;
        std::string proto = str(p, "protocol").empty() ? "TCP" : str(p, "protocol");
        auto port = p.find("port");
        if (port != p.end() && port->is_number_integer()) wanted.push_back(std::to_string(port->get<int>()) + "/" + proto);
      }
    LoadBalancerClaim claim;
    for (const auto& w : wanted) {
      auto h = held.find(w);
      if (h != held.end()) {
        claim.holder = h->second;
        claim.port = w;
        break;
      }
    }
    // All or nothing, as a svclb pod needs every host port of its Service.
    claim.admitted = claim.holder.empty();
    if (claim.admitted)
      for (const auto& w : wanted) held[w] = c.key();
    out[c.key()] = std::move(claim);
  }
  return out;
}

}  // namespace k1s
