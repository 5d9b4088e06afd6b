// The proxy's partial sync: which chains a change rewrites, which it deletes,
// and that applying the plans in turn always yields the full desired rules.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "netproxy/proxy_rules.h"

using namespace k1s;

namespace {

ProxyServicePort port(const std::string& name, const std::string& ip, std::vector<std::string> eps) {
  ProxyServicePort sp;
  sp.ns = "default";
  sp.name = name;
  sp.portName = "http";
  sp.clusterIP = ip;
  sp.port = 80;
  sp.endpoints = std::move(eps);
  return sp;
}

std::vector<ProxyServicePort> many(int n) {
  std::vector<ProxyServicePort> out;
  for (int i = 0; i < n; ++i)
    out.push_back(port("s" + std::to_string(1000 + i), "10.96.1." + std::to_string(i + 1),
                       {"10.244.0." + std::to_string(i + 2) + ":8080", "10.244.1." + std::to_string(i + 2) + ":8080"}));
  return out;
}

// Chains a plan declares (":NAME - [0:0]"), as "table/NAME".
std::set<std::string> declared(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line, table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (!line.empty() && line[0] == ':') out.insert(table + "/" + line.substr(1, line.find(' ') - 1));
  }
  return out;
}

std::set<std::string> deletedChains(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line, table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (line.rfind("-X ", 0) == 0) out.insert(table + "/" + line.substr(3));
  }
  return out;
}

// A model kernel: applies restore text the way iptables-restore --noflush does
// (a declaration flushes, -A appends, -X deletes an existing empty chain).
struct Kernel {
  RuleSet chains;
  void apply(const std::string& text) {
    std::istringstream in(text);
    std::string line, table;
    while (std::getline(in, line)) {
      if (line.empty() || line == "COMMIT") continue;
      if (line[0] == '*') {
        table = line.substr(1);
      } else if (line[0] == ':') {
        chains[table + "/" + line.substr(1, line.find(' ') - 1)] = "";
      } else if (line.rfind("-A ", 0) == 0) {
        std::string chain = line.substr(3, line.find(' ', 3) - 3);
        REQUIRE(chains.count(table + "/" + chain));
        chains[table + "/" + chain] += line + "\n";
      } else if (line.rfind("-X ", 0) == 0) {
        auto it = chains.find(table + "/" + line.substr(3));
        REQUIRE(it != chains.end());
        REQUIRE(it->second.empty());
        chains.erase(it);
      }
    }
  }
};

}  // namespace

TEST_CASE("proxy sync: nothing changed -> nothing written") {
  RuleSet want = buildRuleSet(many(5), ProxyOptions{});
  auto plan = planSync(want, &want, {});
  CHECK(plan.text.empty());
  CHECK(plan.written == 0);
  CHECK(plan.unchanged == want.size());
}

TEST_CASE("proxy sync: an endpoint change rewrites only that service's chains") {
  auto ports = many(50);
  RuleSet before = buildRuleSet(ports, ProxyOptions{});
  std::string oldEp = ports[7].endpoints[1];
  ports[7].endpoints[1] = "10.244.2.99:8080";
  RuleSet after = buildRuleSet(ports, ProxyOptions{});
  auto plan = planSync(after, &before, {});
  std::string key = "TCP/default/s1007:http";
  std::string svc = "nat/" + chainName("K1S-SVC-", key);
  std::string newSep = "nat/" + chainName("K1S-SEP-", key + "/10.244.2.99:8080");
  std::string oldSep = "nat/" + chainName("K1S-SEP-", key + "/" + oldEp);
  // The service chain (its jumps changed) and the new endpoint chain; the old one goes.
  CHECK(declared(plan.text) == std::set<std::string>{svc, newSep, oldSep});
  CHECK(deletedChains(plan.text) == std::set<std::string>{oldSep});
  CHECK(plan.written == 2);
  CHECK(plan.deleted == 1);
  // K1S-SERVICES is untouched: its jump to the service chain did not change.
  CHECK(plan.text.find("-A K1S-SERVICES") == std::string::npos);
  CHECK(plan.text.find("*filter") == std::string::npos);  // no filter change at all
  // The deletion comes after the rewrite of the chain that jumped to it.
  CHECK(plan.text.find("-X ") > plan.text.find("-A " + svc.substr(4)));
}

TEST_CASE("proxy sync: losing the last endpoint swaps DNAT for REJECT") {
  auto ports = many(3);
  RuleSet before = buildRuleSet(ports, ProxyOptions{});
  ports[1].endpoints.clear();
  RuleSet after = buildRuleSet(ports, ProxyOptions{});
  auto plan = planSync(after, &before, {});
  std::string key = "TCP/default/s1001:http";
  auto decl = declared(plan.text);
  CHECK(decl.count("filter/K1S-SERVICES"));  // the REJECT
  CHECK(decl.count("nat/K1S-SERVICES"));     // the jump is gone
  CHECK(deletedChains(plan.text).count("nat/" + chainName("K1S-SVC-", key)));
  CHECK(plan.text.find("s1001:http has no endpoints") != std::string::npos);
  // Other services' chains are not rewritten.
  CHECK(!decl.count("nat/" + chainName("K1S-SVC-", "TCP/default/s1000:http")));
}

TEST_CASE("proxy sync: full sync writes everything and deletes leftovers it never wrote") {
  RuleSet want = buildRuleSet(many(2), ProxyOptions{});
  std::set<std::string> existing = {"nat/K1S-SEP-LEFTOVER", "filter/K1S-SERVICES"};
  auto plan = planSync(want, nullptr, existing);
  std::set<std::string> all;
  for (const auto& e : want) all.insert(e.first);
  all.insert("nat/K1S-SEP-LEFTOVER");
  CHECK(declared(plan.text) == all);
  CHECK(deletedChains(plan.text) == std::set<std::string>{"nat/K1S-SEP-LEFTOVER"});
  CHECK(plan.text.find("*filter\n") == 0);
  // A full sync commits both tables even when nothing differs.
  CHECK(planSync(want, nullptr, {}).text.find("COMMIT\n*nat\n") != std::string::npos);
}

TEST_CASE("proxy sync: a run of partial syncs leaves exactly the desired rules") {
  Kernel k;
  std::vector<std::vector<ProxyServicePort>> steps;
  auto ports = many(6);
  steps.push_back(ports);
  ports[0].endpoints.push_back("10.244.3.1:8080");  // scale up
  steps.push_back(ports);
  ports[2].endpoints.clear();  // lose every endpoint
  steps.push_back(ports);
  ports.erase(ports.begin() + 4);  // service deleted
  steps.push_back(ports);
  ports.push_back(port("new", "10.96.9.9", {"10.244.9.9:80"}));  // service created
  ports[1].nodePort = 30001;  // becomes a NodePort
  steps.push_back(ports);
  ports[2].endpoints = {"10.244.2.2:8080"};  // endpoints back
  ports[1].nodePort = 0;
  steps.push_back(ports);
  steps.push_back({});  // everything gone

  RuleSet applied;
  bool first = true;
  for (const auto& step : steps) {
    RuleSet want = buildRuleSet(step, ProxyOptions{});
    auto plan = planSync(want, first ? nullptr : &applied, {});
    k.apply(plan.text);
    CHECK(k.chains == want);  // partial == full, chain by chain
    applied = want;
    first = false;
  }
}

TEST_CASE("proxy sync: the incremental planner renders only changed ports, with the same result") {
  Kernel k;
  IncrementalRules inc{ProxyOptions{}};
  auto ports = many(8);
  auto step = [&](bool full, const std::set<std::string>& existing = {}) {
    auto plan = inc.plan(ports, full, existing);
    k.apply(plan.text);
    inc.commit();
    CHECK(k.chains == buildRuleSet(ports, ProxyOptions{}));
    return plan;
  };
  k.chains["nat/K1S-SEP-LEFTOVER"] = "";  // from an earlier run
  auto first = step(true, {"nat/K1S-SEP-LEFTOVER"});
  CHECK(first.deleted == 1);
  ports[3].endpoints[0] = "10.244.7.7:8080";
  auto change = step(false);
  CHECK(change.written == 2);  // the service chain and the new endpoint chain
  CHECK(change.deleted == 1);  // the old endpoint chain
  CHECK(step(false).text.empty());  // nothing changed
  ports[5].endpoints.clear();
  step(false);
  ports.erase(ports.begin());
  step(false);
  ports.push_back(port("zz", "10.96.9.1", {"10.244.9.1:80"}));
  ports[2].affinitySeconds = 60;
  step(false);
  auto again = step(true);  // a periodic full sync rewrites all, deletes nothing
  CHECK(again.deleted == 0);
  CHECK(again.written == k.chains.size());
  ports.clear();
  step(false);
  inc.reset();  // after a failure: the next plan is full and must not rely on the past
  ports = many(2);
  step(true, {"nat/K1S-SERVICES"});
}

TEST_CASE("proxy sync: large clusters leave unused chains to the next full sync") {
  Kernel k;
  IncrementalRules inc{ProxyOptions{}};
  auto ports = many(4);
  k.apply(inc.plan(ports, true, {}).text);
  inc.commit();
  std::string oldSep = "nat/" + chainName("K1S-SEP-", "TCP/default/s1001:http/" + ports[1].endpoints[0]);
  ports[1].endpoints[0] = "10.244.8.8:8080";
  auto plan = inc.plan(ports, false, {}, true);
  CHECK(plan.deleted == 0);
  CHECK(plan.written == 2);
  k.apply(plan.text);
  inc.commit();
  RuleSet want = buildRuleSet(ports, ProxyOptions{});
  CHECK(k.chains.count(oldSep));  // still there, unreferenced
  for (const auto& [chain, rules] : k.chains)
    if (chain != oldSep) CHECK(want.count(chain));
  for (const auto& [chain, rules] : want) CHECK(k.chains[chain] == rules);
  CHECK(k.chains.at("nat/" + chainName("K1S-SVC-", "TCP/default/s1001:http")).find(oldSep.substr(4)) ==
        std::string::npos);
  auto full = inc.plan(ports, true, {});
  CHECK(full.deleted == 1);
  k.apply(full.text);
  inc.commit();
  CHECK(k.chains == want);
}
