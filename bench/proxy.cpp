// Service proxy benchmark (issue 5). Run inside a private network namespace
// (bench/proxy.sh): it programs that namespace's iptables. Prints:
//  1. endpoint change -> rule visible in the kernel with 10 services, through
//     the in-process API, informers and ServiceProxy (p50/p99), next to a bare
//     iptables-restore of the same one-service change (its floor);
//  2. 1,000 Services x 3 endpoints: a full sync by the proxy vs a bare
//     `iptables-restore --noflush` of the very same rule text, same state;
//  3. one-service change (partial sync) at 1,000 and 5,000 services.
// Not a test: numbers vary with the machine. Bounded: a few hundred syncs.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "netproxy/proxy.h"
#include "netproxy/proxy_rules.h"
#include "netproxy/proxy_sync.h"

using namespace k1s;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p / 100.0 * double(v.size() - 1) + 0.5));
  return v[i];
}

double median(std::vector<double> v) { return pct(std::move(v), 50); }

std::string ip(int base, int i) {  // distinct addresses for i up to 15 million
  return std::to_string(base) + "." + std::to_string(i / 62500) + "." + std::to_string(i / 250 % 250) + "." +
         std::to_string(i % 250 + 2);
}

std::vector<ProxyServicePort> servicePorts(int n) {
  std::vector<ProxyServicePort> out;
  for (int i = 0; i < n; ++i) {
    ProxyServicePort sp;
    sp.ns = "bench";
    sp.name = "svc-" + std::to_string(100000 + i);
    sp.portName = "http";
    sp.clusterIP = "10.96." + std::to_string(1 + i / 250) + "." + std::to_string(i % 250 + 1);
    sp.port = 80;
    for (int e = 0; e < 3; ++e) sp.endpoints.push_back(ip(10 + e, i) + ":8080");
    std::sort(sp.endpoints.begin(), sp.endpoints.end());
    out.push_back(std::move(sp));
  }
  return out;
}

bool chainExists(const std::string& chain) {
  std::string out;
  return runCommand({"iptables", "-w", "5", "-t", "nat", "-S", chain}, "", &out) == 0;
}

int bareRestore(const std::string& text, double* ms) {
  auto t0 = Clock::now();
  std::string out;
  int rc = runCommand({"iptables-restore", "-w", "5", "--noflush"}, text, &out);
  *ms = msSince(t0);
  if (rc != 0) std::fprintf(stderr, "iptables-restore: %s\n", out.c_str());
  return rc;
}

// 1. Through the API: slice update -> new endpoint chain exists in the kernel.
void endpointLatency(const std::string& dir) {
  const int services = 10, changes = 100;
  Store store(dir + "/db");
  Registry reg(store, {});
  reg.bootstrap("127.0.0.1", 6443);
  auto& svcs = *findResource("", "services");
  auto& slices = *findResource("discovery.k8s.io", "endpointslices");
  reg.create(*findResource("", "namespaces"), "", {{"metadata", {{"name", "bench"}}}});
  for (int i = 0; i < services; ++i) {
    std::string name = "s" + std::to_string(i);
    reg.create(svcs, "bench",
               {{"metadata", {{"name", name}}},
                {"spec", {{"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}});
    Json eps = Json::array();
    for (int e = 0; e < 3; ++e) eps.push_back({{"addresses", {ip(10 + e, i)}}, {"conditions", {{"ready", true}}}});
    reg.create(slices, "bench",
               {{"metadata", {{"name", name + "-x"}, {"labels", {{"kubernetes.io/service-name", name}}}}},
                {"addressType", "IPv4"},
                {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
                {"endpoints", eps}});
  }
  ProxyOptions po;
  po.cleanupOnExit = true;
  ServiceProxy proxy(reg, po);
  proxy.start();
  auto firstSep = chainName("K1S-SEP-", "TCP/bench/s9:http/" + ip(12, 9) + ":8080");
  for (auto t0 = Clock::now(); !chainExists(firstSep); std::this_thread::sleep_for(std::chrono::milliseconds(5)))
    if (msSince(t0) > 10000) throw std::runtime_error("the proxy did not program the first rules within 10 s");

  std::vector<double> seen, floor;
  for (int c = 0; c < changes; ++c) {
    int i = c % services;
    std::string name = "s" + std::to_string(i);
    std::string fresh = ip(20 + c / 250, c);
    Json sl = reg.get(slices, "bench", name + "-x");
    sl["endpoints"][0]["addresses"] = {fresh};
    std::string sep = chainName("K1S-SEP-", "TCP/bench/" + name + ":http/" + fresh + ":8080");
    auto t0 = Clock::now();
    reg.update(slices, "bench", sl);
    while (!chainExists(sep)) {
      if (msSince(t0) > 5000) throw std::runtime_error("a rule change did not show within 5 s");
    }
    seen.push_back(msSince(t0));
  }
  proxy.stop();
  // The floor: the same kind of change (one service's chains) as a bare restore.
  auto ports = servicePorts(services);
  RuleSet base = buildRuleSet(ports, po);
  double ms = 0;
  bareRestore(planSync(base, nullptr, {}).text, &ms);
  for (int c = 0; c < changes; ++c) {
    auto next = ports;
    next[c % services].endpoints[0] = ip(30 + c / 250, c) + ":8080";
    RuleSet want = buildRuleSet(next, po);
    if (bareRestore(planSync(want, &base, {}).text, &ms) == 0) floor.push_back(ms);
    base = want;
    ports = next;
  }
  RuleSyncer(po).cleanup();
  std::printf("%-58s %9.1f %9.1f %12.1f\n", "endpoint change -> rule in kernel, 10 services (ms)", pct(seen, 50),
              pct(seen, 99), pct(floor, 99));
}

// 2 and 3 at one size: full sync vs bare restore, then one-service changes.
void atScale(int n, bool compareFull) {
  ProxyOptions po;
  po.flushConntrack = false;  // TCP only; nothing to flush
  RuleSyncer syncer(po);
  auto ports = servicePorts(n);
  auto t0 = Clock::now();
  auto first = syncer.sync(ports, true);
  double cold = msSince(t0);
  if (!first.ok) throw std::runtime_error(first.error);
  if (compareFull) {
    // Same state (all chains present), same text, alternating, median of 3.
    std::string text = planSync(buildRuleSet(ports, po), nullptr, {}).text;
    std::vector<double> full, bare;
    for (int r = 0; r < 3; ++r) {
      auto t1 = Clock::now();
      auto res = syncer.sync(ports, true);
      if (!res.ok) throw std::runtime_error(res.error);
      full.push_back(msSince(t1));
      double ms = 0;
      if (bareRestore(text, &ms) == 0) bare.push_back(ms);
    }
    char what[96];
    std::snprintf(what, sizeof what, "%d services x 3 endpoints: full sync (ms, median)", n);
    std::printf("%-58s %9.1f %9s %12.1f   ratio %.2fx (first sync %.0f ms)\n", what, median(full), "-", median(bare),
                median(full) / median(bare), cold);
  }
  std::vector<double> change, add, bareChange;
  for (int c = 0; c < 10; ++c) {
    ports[(c * 37) % n].endpoints[1] = ip(40 + c / 250, c) + ":8080";
    auto t1 = Clock::now();
    auto res = syncer.sync(ports);
    if (!res.ok || res.full) throw std::runtime_error("partial sync failed: " + res.error);
    change.push_back(msSince(t1));
    // Anchor: the same text again through a bare restore (re-declaring re-applies it).
    double ms = 0;
    if (res.plan.text.find("\n-X ") == std::string::npos && bareRestore(res.plan.text, &ms) == 0)
      bareChange.push_back(ms);
  }
  for (int c = 0; c < 3; ++c) {  // a new service also rewrites K1S-SERVICES
    auto extra = servicePorts(n + 1).back();
    extra.name = "new-" + std::to_string(c);
    extra.clusterIP = "10.96.250." + std::to_string(c + 1);
    ports.push_back(extra);
    auto t1 = Clock::now();
    auto res = syncer.sync(ports);
    if (!res.ok) throw std::runtime_error(res.error);
    add.push_back(msSince(t1));
  }
  char what[96];
  std::snprintf(what, sizeof what, "one-service endpoint change at %d services (ms)", n);
  std::printf("%-58s %9.1f %9.1f %12.1f\n", what, pct(change, 50), pct(change, 99), median(bareChange));
  std::snprintf(what, sizeof what, "one service added at %d services (ms)", n);
  std::printf("%-58s %9.1f %9.1f %12s\n", what, pct(add, 50), pct(add, 99), "-");
  syncer.cleanup();
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
  char tmpl[] = "/tmp/k1s-bench-proxy-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string version;
  runCommand({"iptables", "--version"}, "", &version);
  std::printf("service proxy benchmark; %s", version.c_str());
  std::printf("%-58s %9s %9s %12s\n", "measure", "p50/med", "p99", "anchor");
  int rc = 0;
  try {
    endpointLatency(dir);
    atScale(1000, true);
    atScale(5000, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    rc = 1;
  }
  std::printf("anchor: a bare iptables-restore --noflush of the same text in the same run (p99 for the first row)\n");
  std::printf("targets: endpoint->kernel p99 <= 20 ms; full sync <= 1.2x bare restore; one-service change <= 50 ms\n");
  std::filesystem::remove_all(dir);
  return rc;
}
