// Service proxy benchmark (issue 5). Run inside a private network namespace
// (bench/proxy.sh): it programs that namespace's iptables. Prints:
//  1. endpoint change -> rule visible in the kernel with 10 services, through
//     the in-process API, informers and ServiceProxy (p50/p99), next to a bare
//     iptables-restore of the same one-service change (its floor). "Visible"
//     is the kernel's own commit notification (the nf_tables multicast group
//     `nft monitor` reads): polling with `iptables -S` would add its own
//     process start and exit (an exit waits for the kernel's RCU clean-up
//     while holding the nf_tables commit lock) to every sample and slow the
//     proxy it measures. The final chains are checked with iptables-save.
//  2. 1,000 Services x 3 endpoints: a full sync by the proxy vs a bare
//     `iptables-restore --noflush` of the very same rule text, same state;
//  3. one-service change (partial sync) at 1,000 and 5,000 services.
// Not a test: numbers vary with the machine. Bounded: a few hundred syncs.
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

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

// The kernel's notifications of committed nf_tables changes in this netns.
class NftMonitor {
 public:
  NftMonitor() {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd_ < 0) throw std::runtime_error("netlink socket: " + std::string(strerror(errno)));
    int size = 8 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    int group = NFNLGRP_NFTABLES;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
      throw std::runtime_error("nf_tables monitor: " + std::string(strerror(errno)));
  }
  ~NftMonitor() { close(fd_); }
  // Waits for the commit that creates chain `name`. False on timeout or when
  // notifications were lost (socket overflow): the caller must check otherwise.
  bool waitNewChain(const std::string& name, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::vector<char> buf(1 << 16);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0 && errno == ENOBUFS) return false;
      if (n <= 0) continue;
      int left_bytes = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left_bytes); h = NLMSG_NEXT(h, left_bytes)) {
        if (h->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN)) continue;
        char* p0 = static_cast<char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
        int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(p0 - reinterpret_cast<char*>(h));
        for (auto* a = reinterpret_cast<nlattr*>(p0); len >= static_cast<int>(sizeof(nlattr)) &&
                                                      a->nla_len >= sizeof(nlattr) && a->nla_len <= len;
             len -= NLA_ALIGN(a->nla_len), a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(a) + NLA_ALIGN(a->nla_len)))
          if ((a->nla_type & NLA_TYPE_MASK) == NFTA_CHAIN_NAME &&
              name == std::string(reinterpret_cast<char*>(a) + NLA_HDRLEN).c_str())
            return true;
      }
    }
  }

 private:
  int fd_ = -1;
};

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
  // Back to back: each change right after the last one showed (a rollout's
  // pace; the kernel may still be cleaning up after the previous commit);
  // then isolated changes, 50 ms apart.
  const int services = 10, changes = 100, isolatedChanges = 40;
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

  std::vector<double> seen, isolated, floor;
  std::vector<std::string> written;  // the new endpoint chain of each change
  NftMonitor monitor;
  for (int c = 0; c < changes + isolatedChanges; ++c) {
    if (c >= changes) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int i = c % services;
    std::string name = "s" + std::to_string(i);
    std::string fresh = ip(20 + c / 250, c);
    Json sl = reg.get(slices, "bench", name + "-x");
    sl["endpoints"][0]["addresses"] = {fresh};
    std::string sep = chainName("K1S-SEP-", "TCP/bench/" + name + ":http/" + fresh + ":8080");
    auto t0 = Clock::now();
    reg.update(slices, "bench", sl);
    if (!monitor.waitNewChain(sep, std::chrono::seconds(5)))  // lost notifications: fall back to polling
      while (!chainExists(sep))
        if (msSince(t0) > 5000) throw std::runtime_error("a rule change did not show within 5 s");
    (c < changes ? seen : isolated).push_back(msSince(t0));
    written.push_back(sep);
  }
  // Check the end state: each service's last new endpoint chain is there, the ones it replaced are gone.
  std::string save;
  runCommand({"iptables-save", "-t", "nat"}, "", &save);
  auto chains = chainsInSave(save);
  for (size_t c = 0; c < written.size(); ++c)
    if ((c + services >= written.size()) != (chains.count("nat/" + written[c]) > 0))
      throw std::runtime_error("the kernel's chains after the endpoint changes are wrong at change " +
                               std::to_string(c));
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
  std::printf("%-58s %9.1f %9.1f %12s\n", "  the same, isolated changes 50 ms apart (ms)", pct(isolated, 50),
              pct(isolated, 99), "-");
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
    std::vector<double> full, bare, jumps;
    for (int r = 0; r < 3; ++r) {
      auto t1 = Clock::now();
      auto res = syncer.sync(ports, true);
      if (!res.ok) throw std::runtime_error(res.error);
      full.push_back(msSince(t1));
      jumps.push_back(res.jumpsMs);
      double ms = 0;
      if (bareRestore(text, &ms) == 0) bare.push_back(ms);
    }
    char what[96];
    std::snprintf(what, sizeof what, "%d services x 3 endpoints: full sync (ms, median)", n);
    std::printf("%-58s %9.1f %9s %12.1f   ratio %.2fx (first sync %.0f ms, jump checks %.0f ms)\n", what,
                median(full), "-", median(bare), median(full) / median(bare), cold, median(jumps));
  }
  std::vector<double> change, add, bareChange, restore;
  for (int c = 0; c < 10; ++c) {
    ports[(c * 37) % n].endpoints[1] = ip(40 + c / 250, c) + ":8080";
    auto t1 = Clock::now();
    auto res = syncer.sync(ports);
    if (!res.ok || res.full) throw std::runtime_error("partial sync failed: " + res.error);
    change.push_back(msSince(t1));
    restore.push_back(res.restoreMs);
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
  std::printf("%-58s %9.1f %9.1f %12.1f   (in iptables-restore: median %.1f ms)\n", what, pct(change, 50),
              pct(change, 99), median(bareChange), median(restore));
  std::snprintf(what, sizeof what, "one service added at %d services (ms)", n);
  std::printf("%-58s %9.1f %9.1f %12s\n", what, pct(add, 50), pct(add, 99), "-");
  syncer.cleanup();
}

}  // namespace

// Arguments choose parts: "latency", "1000", "5000" (default: all three).
int main(int argc, char** argv) {
  std::set<std::string> parts(argv + 1, argv + argc);
  auto want = [&parts](const char* p) { return parts.empty() || parts.count(p); };
  setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
  char tmpl[] = "/tmp/k1s-bench-proxy-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string version;
  runCommand({"iptables", "--version"}, "", &version);
  std::printf("service proxy benchmark; %s", version.c_str());
  std::printf("%-58s %9s %9s %12s\n", "measure", "p50/med", "p99", "anchor");
  int rc = 0;
  try {
    if (want("latency")) endpointLatency(dir);
    if (want("1000")) atScale(1000, true);
    if (want("5000")) atScale(5000, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    rc = 1;
  }
  std::printf("anchor: a bare iptables-restore --noflush of the same text in the same run (p99 for the first row)\n");
  std::printf("targets: endpoint->kernel p99 <= 20 ms; full sync <= 1.2x bare restore; one-service change <= 50 ms\n");
  std::filesystem::remove_all(dir);
  return rc;
}
