// The service proxy's rule text: what iptables-restore is given for each kind of Service.
#include <doctest/doctest.h>

#include <string>

#include "netproxy/proxy_rules.h"

using namespace k1s;

namespace {

Json service(const std::string& name, const std::string& type, const std::string& ip, int port, int nodePort = 0) {
  Json p = {{"name", "http"}, {"protocol", "TCP"}, {"port", port}, {"targetPort", 8080}};
  if (nodePort) p["nodePort"] = nodePort;
  return {{"metadata", {{"namespace", "default"}, {"name", name}}},
          {"spec", {{"type", type}, {"clusterIP", ip}, {"ports", Json::array({p})}}}};
}

Json slice(const std::string& svc, std::vector<std::string> ips, bool ready = true) {
  Json eps = Json::array();
  for (auto& ip : ips) eps.push_back({{"addresses", {ip}}, {"conditions", {{"ready", ready}}}});
  return {{"metadata", {{"namespace", "default"}, {"name", svc + "-abc"}, {"labels", {{"kubernetes.io/service-name", svc}}}}},
          {"addressType", "IPv4"},
          {"ports", Json::array({{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}}})},
          {"endpoints", eps}};
}

std::string render(const std::vector<Json>& svcs, const std::vector<Json>& slices) {
  return renderRules(buildServicePorts(svcs, slices), ProxyOptions{});
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("proxy rules: ClusterIP with three endpoints spreads 1/3, 1/2, rest") {
  auto text = render({service("web", "ClusterIP", "10.96.0.50", 80)},
                     {slice("web", {"10.244.0.2", "10.244.0.3", "10.244.0.4"})});
  std::string svc = chainName("K1S-SVC-", "TCP/default/web:http");
  CHECK(text.find("-A K1S-SERVICES -m comment --comment \"default/web:http cluster IP\" -d 10.96.0.50/32 -p tcp -m tcp "
                  "--dport 80 -j " + svc) != std::string::npos);
  CHECK(count(text, "-A " + svc + " ") == 4);  // masquerade-from-outside + 3 endpoints
  auto p1 = text.find("--probability 0.3333333333");
  auto p2 = text.find("--probability 0.5000000000");
  REQUIRE(p1 != std::string::npos);
  REQUIRE(p2 != std::string::npos);
  CHECK(p1 < p2);
  CHECK(count(text, "--probability") == 2);  // the last endpoint takes what is left
  CHECK(text.find("-j DNAT --to-destination 10.244.0.2:8080") != std::string::npos);
  CHECK(text.find("-j DNAT --to-destination 10.244.0.4:8080") != std::string::npos);
  CHECK(text.find("-s 10.244.0.3/32 -j K1S-MARK-MASQ") != std::string::npos);  // hairpin
  CHECK(text.find("! -s 10.244.0.0/16 -d 10.96.0.50/32") != std::string::npos);  // host traffic is SNATed
  CHECK(text.find("icmp-port-unreachable") == std::string::npos);  // it has endpoints: no refusal
  // Without --pod-egress nothing from a pod leaves through another interface.
  CHECK(text.find("-A K1S-FORWARD -s 10.244.0.0/16 ! -o k1s0 ") != std::string::npos);
  CHECK(text.find("*filter\n") == 0);
  CHECK(count(text, "COMMIT\n") == 2);
  CHECK(chainName("K1S-SVC-", "x").size() == 24);  // within iptables' 28-character chain names
}

TEST_CASE("proxy rules: no ready endpoints -> REJECT in filter, no DNAT") {
  auto text = render({service("empty", "ClusterIP", "10.96.0.60", 80)}, {slice("empty", {"10.244.0.9"}, false)});
  CHECK(text.find("-A K1S-SERVICES -m comment --comment \"default/empty:http has no endpoints\" -d 10.96.0.60/32 -p tcp "
                  "-m tcp --dport 80 -j REJECT --reject-with tcp-reset") != std::string::npos);
  CHECK(text.find("DNAT") == std::string::npos);
  CHECK(text.find("K1S-SVC-") == std::string::npos);
  CHECK(text.find("icmp-port-unreachable") == std::string::npos);  // TCP: a reset, never rate-limited ICMP
}

TEST_CASE("proxy rules: a UDP port without endpoints keeps the ICMP refusal (UDP has no reset)") {
  Json s = service("dns", "ClusterIP", "10.96.0.61", 53);
  s["spec"]["ports"][0]["protocol"] = "UDP";
  auto text = render({s}, {});
  CHECK(text.find("-d 10.96.0.61/32 -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable") !=
        std::string::npos);
  CHECK(text.find("tcp-reset") == std::string::npos);
}

TEST_CASE("proxy rules: NodePort goes through K1S-NODEPORTS for local destinations") {
  auto text = render({service("np", "NodePort", "10.96.0.70", 80, 30080)}, {slice("np", {"10.244.0.5"})});
  std::string ext = chainName("K1S-EXT-", "TCP/default/np:http");
  CHECK(text.find("-A K1S-NODEPORTS -m comment --comment \"default/np:http\" -p tcp -m tcp --dport 30080 -j " + ext) !=
        std::string::npos);
  CHECK(text.find("-A " + ext + " -m comment --comment \"masquerade traffic for default/np:http external destinations\" "
                  "-j K1S-MARK-MASQ") != std::string::npos);
  auto last = text.find("-m addrtype --dst-type LOCAL -j K1S-NODEPORTS");
  REQUIRE(last != std::string::npos);
  CHECK(text.find("-A K1S-SERVICES", last + 1) == std::string::npos);  // nodeports jump is the last rule
  CHECK(text.find("127.0.0.1") == std::string::npos);  // not a LoadBalancer
}

TEST_CASE("proxy rules: LoadBalancer is localhost:<port> and a node port") {
  auto text = render({service("lb", "LoadBalancer", "10.96.0.80", 8081, 30081)}, {slice("lb", {"10.244.0.6"})});
  std::string ext = chainName("K1S-EXT-", "TCP/default/lb:http");
  CHECK(text.find("-d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -j " + ext) != std::string::npos);
  CHECK(text.find("--dport 30081 -j " + ext) != std::string::npos);
  // Pods reach it at the node (bridge) address: their own localhost is their sandbox's.
  CHECK(text.find("-d 10.244.0.1/32 -p tcp -m tcp --dport 8081 -j " + ext) != std::string::npos);
  // Without endpoints both addresses are refused with a reset.
  auto none = render({service("lb", "LoadBalancer", "10.96.0.80", 8081, 30081)}, {});
  for (const char* ip : {"127.0.0.1", "10.244.0.1"})
    CHECK(none.find(std::string("-A K1S-EXTERNAL-SERVICES -m comment --comment \"default/lb:http has no endpoints\" -d ") +
                    ip + "/32 -p tcp -m tcp --dport 8081 -j REJECT --reject-with tcp-reset") != std::string::npos);
}

TEST_CASE("proxy rules: sessionAffinity ClientIP uses recent with the timeout") {
  Json s = service("sticky", "ClusterIP", "10.96.0.90", 80);
  s["spec"]["sessionAffinity"] = "ClientIP";
  s["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 600}}}};
  auto text = render({s}, {slice("sticky", {"10.244.0.7", "10.244.0.8"})});
  std::string sep = chainName("K1S-SEP-", "TCP/default/sticky:http/10.244.0.7:8080");
  CHECK(text.find("-m recent --name " + sep + " --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j " +
                  sep) != std::string::npos);
  CHECK(text.find("-m recent --name " + sep + " --mask 255.255.255.255 --rsource --set -j DNAT --to-destination "
                  "10.244.0.7:8080") != std::string::npos);
  // The affinity checks come before the random spread.
  CHECK(text.find("--rcheck") < text.find("--probability"));
}

TEST_CASE("proxy rules: stale chains are flushed and deleted; cleanup removes all") {
  std::set<std::string> first;
  renderRules(buildServicePorts({service("web", "ClusterIP", "10.96.0.50", 80)}, {slice("web", {"10.244.0.2"})}),
              ProxyOptions{}, {}, &first);
  std::string sep = chainName("K1S-SEP-", "TCP/default/web:http/10.244.0.2:8080");
  REQUIRE(first.count("nat/" + sep));
  auto text = renderRules({}, ProxyOptions{}, first);
  CHECK(text.find(":" + sep + " - [0:0]\n") != std::string::npos);
  CHECK(text.find("-X " + sep + "\n") != std::string::npos);
  CHECK(text.find("-X K1S-SERVICES") == std::string::npos);
  auto save = "*nat\n:PREROUTING ACCEPT [0:0]\n:K1S-SERVICES - [0:0]\n:" + sep + " - [0:0]\nCOMMIT\n*filter\n:K1S-FORWARD - [0:0]\nCOMMIT\n";
  auto chains = chainsInSave(save);
  CHECK(chains == std::set<std::string>{"nat/K1S-SERVICES", "nat/" + sep, "filter/K1S-FORWARD"});
  auto clean = renderCleanup(chains);
  CHECK(clean.find("-X K1S-FORWARD") != std::string::npos);
  CHECK(clean.find("-X " + sep) != std::string::npos);
}

TEST_CASE("proxy rules: headless and ExternalName services get no rules") {
  auto ports = buildServicePorts({service("h", "ClusterIP", "None", 80), service("x", "ExternalName", "", 80)},
                                 {slice("h", {"10.244.0.2"})});
  CHECK(ports.empty());
}
