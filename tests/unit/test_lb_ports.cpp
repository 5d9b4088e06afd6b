// Which LoadBalancer Service holds which localhost port (k3s ServiceLB's one host port per node).
#include <doctest/doctest.h>

#include "netproxy/lb_ports.h"

using namespace k1s;

namespace {

Json lb(const std::string& name, const std::string& created, std::vector<std::pair<int, std::string>> ports,
        const std::string& type = "LoadBalancer", bool serving = false) {
  Json ps = Json::array();
  for (auto& [port, proto] : ports) ps.push_back({{"port", port}, {"protocol", proto}});
  Json s = {{"metadata", {{"namespace", "default"}, {"name", name}, {"creationTimestamp", created}}},
            {"spec", {{"type", type}, {"ports", ps}}}};
  if (serving) s["status"] = {{"loadBalancer", {{"ingress", {{{"hostname", "localhost"}}}}}}};
  return s;
}

std::map<std::string, LoadBalancerClaim> assign(const std::vector<Json>& svcs) {
  std::vector<const Json*> ptrs;
  for (const auto& s : svcs) ptrs.push_back(&s);
  return assignLoadBalancerPorts(ptrs);
}

}  // namespace

TEST_CASE("lb ports: the oldest Service keeps a contested port, the younger one names it") {
  auto c = assign({lb("young", "2026-01-02T00:00:00Z", {{8080, "TCP"}}), lb("old", "2026-01-01T00:00:00Z", {{8080, "TCP"}})});
  CHECK(c["default/old"].admitted);
  CHECK_FALSE(c["default/young"].admitted);
  CHECK(c["default/young"].holder == "default/old");
  CHECK(c["default/young"].port == "8080/TCP");
}

TEST_CASE("lb ports: same creation second -> name decides; other protocol or port -> no conflict") {
  auto c = assign({lb("b", "2026-01-01T00:00:00Z", {{80, "TCP"}}), lb("a", "2026-01-01T00:00:00Z", {{80, "TCP"}}),
                   lb("u", "2026-01-01T00:00:00Z", {{80, "UDP"}}), lb("z", "2026-01-01T00:00:00Z", {{81, "TCP"}})});
  CHECK(c["default/a"].admitted);
  CHECK(c["default/b"].holder == "default/a");
  CHECK(c["default/u"].admitted);
  CHECK(c["default/z"].admitted);
}

TEST_CASE("lb ports: all or nothing; a pending Service holds none of its ports; non-LB types ignored") {
  auto c = assign({lb("first", "2026-01-01T00:00:00Z", {{80, "TCP"}}),
                   lb("second", "2026-01-02T00:00:00Z", {{443, "TCP"}, {80, "TCP"}}),
                   lb("third", "2026-01-03T00:00:00Z", {{443, "TCP"}}),
                   lb("np", "2026-01-01T00:00:00Z", {{443, "TCP"}}, "NodePort")});
  CHECK_FALSE(c["default/second"].admitted);
  CHECK(c["default/second"].port == "80/TCP");
  CHECK(c["default/third"].admitted);  // 443 stays free: "second" got nothing
  CHECK(c.count("default/np") == 0);
}

TEST_CASE("lb ports: a serving Service keeps its ports against an older newcomer; both serving -> oldest") {
  // "first" went away; "third" serves 443, so the older "second" still waits.
  auto c = assign({lb("second", "2026-01-02T00:00:00Z", {{443, "TCP"}, {80, "TCP"}}),
                   lb("third", "2026-01-03T00:00:00Z", {{443, "TCP"}}, "LoadBalancer", true)});
  CHECK(c["default/third"].admitted);
  CHECK(c["default/second"].holder == "default/third");
  // Both claim to serve (status written before ports were checked): the oldest keeps the port.
  auto both = assign({lb("y", "2026-01-02T00:00:00Z", {{80, "TCP"}}, "LoadBalancer", true),
                      lb("x", "2026-01-03T00:00:00Z", {{80, "TCP"}}, "LoadBalancer", true)});
  CHECK(both["default/y"].admitted);
  CHECK(both["default/x"].holder == "default/y");
  // The holder goes away: the next in line takes the port.
  auto after = assign({lb("second", "2026-01-02T00:00:00Z", {{443, "TCP"}, {80, "TCP"}})});
  CHECK(after["default/second"].admitted);
}
