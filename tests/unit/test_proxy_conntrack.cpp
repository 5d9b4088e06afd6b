// Which UDP conntrack entries the proxy deletes after a change.
#include <doctest/doctest.h>

#include <algorithm>

#include "netproxy/proxy_conntrack.h"

using namespace k1s;

namespace {

ProxyServicePort dns(std::vector<std::string> eps, const std::string& proto = "UDP") {
  ProxyServicePort sp;
  sp.ns = "kube-system";
  sp.name = "kube-dns";
  sp.portName = proto == "UDP" ? "dns" : "dns-tcp";
  sp.protocol = proto;
  sp.clusterIP = "10.96.0.10";
  sp.port = 53;
  sp.endpoints = std::move(eps);
  return sp;
}

bool has(const std::vector<ConntrackDelete>& all, const ConntrackDelete& d) {
  return std::find(all.begin(), all.end(), d) != all.end();
}

}  // namespace

TEST_CASE("proxy conntrack: a removed UDP endpoint loses its flows, kept ones stay") {
  auto out = staleUdpFlows({dns({"10.244.0.5:53", "10.244.0.6:53"})}, {dns({"10.244.0.6:53", "10.244.0.7:53"})});
  REQUIRE(out.size() == 1);
  CHECK(out[0] == ConntrackDelete{"-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53",
                                  "--reply-src", "10.244.0.5", "--reply-port-src", "53"});
}

TEST_CASE("proxy conntrack: TCP changes and unchanged UDP services delete nothing") {
  CHECK(staleUdpFlows({dns({"10.244.0.5:53"}, "TCP")}, {dns({"10.244.0.6:53"}, "TCP")}).empty());
  CHECK(staleUdpFlows({dns({"10.244.0.5:53"})}, {dns({"10.244.0.5:53"})}).empty());
}

TEST_CASE("proxy conntrack: the first endpoint clears every flow to the service") {
  auto out = staleUdpFlows({dns({})}, {dns({"10.244.0.5:53"})});
  REQUIRE(out.size() == 1);
  CHECK(out[0] == ConntrackDelete{"-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"});
  // A new service that starts with endpoints counts the same.
  CHECK(staleUdpFlows({}, {dns({"10.244.0.5:53"})}).size() == 1);
}

TEST_CASE("proxy conntrack: node ports, LoadBalancer and deleted services") {
  ProxyServicePort lb = dns({"10.244.0.5:53"});
  lb.loadBalancer = true;
  lb.nodePort = 30053;
  lb.externalIPs = {"192.0.2.1"};
  ProxyServicePort after = lb;
  after.endpoints = {"10.244.0.9:53"};
  auto out = staleUdpFlows({lb}, {after});
  CHECK(out.size() == 5);  // cluster IP, external IP, 127.0.0.1, the node address, node port
  CHECK(has(out, {"-D", "-p", "udp", "--orig-dst", "127.0.0.1", "--orig-port-dst", "53", "--reply-src", "10.244.0.5",
                  "--reply-port-src", "53"}));
  CHECK(has(out, {"-D", "-p", "udp", "--orig-dst", "10.244.0.1", "--orig-port-dst", "53", "--reply-src", "10.244.0.5",
                  "--reply-port-src", "53"}));
  CHECK(has(out, {"-D", "-p", "udp", "--orig-port-dst", "30053", "--reply-src", "10.244.0.5", "--reply-port-src", "53"}));
  CHECK(has(out, {"-D", "-p", "udp", "--orig-dst", "192.0.2.1", "--orig-port-dst", "53", "--reply-src", "10.244.0.5",
                  "--reply-port-src", "53"}));
  // The service is deleted: its flows go too.
  auto gone = staleUdpFlows({lb}, {});
  CHECK(gone.size() == 5);
}
