// Cluster DNS benchmark (issue 5): dnsperf against k1s's DNS server (the
// netproxy library, in-process, answering 1,000 Services from the API) and,
// in the same run, against dnsmasq answering the same 1,000 names from a hosts
// file. Same query list, same dnsperf flags (-c 4), same duration, two rounds
// each, alternating. Run inside a private network namespace (bench/dns.sh).
// Not a test: numbers vary with the machine.
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/registry.h"
#include "netproxy/dns.h"
#include "netproxy/proxy_sync.h"

using namespace k1s;
extern char** environ;

namespace {

const int kNames = 1000;
const char* kSeconds = "6";

// dnsperf's "Queries per second:" line (0 when it failed).
double dnsperf(const std::string& server, int port, const std::string& queries) {
  std::string out;
  int rc = runCommand({"dnsperf", "-s", server, "-p", std::to_string(port), "-d", queries, "-c", "4", "-l", kSeconds,
                       "-q", "200"},
                      "", &out);
  auto at = out.find("Queries per second:");
  if (rc != 0 || at == std::string::npos) {
    std::fprintf(stderr, "dnsperf against %s:%d failed (rc %d):\n%s\n", server.c_str(), port, rc, out.c_str());
    return 0;
  }
  double lost = 0;
  auto l = out.find("Queries lost:");
  if (l != std::string::npos) lost = std::atof(out.c_str() + l + 13);
  if (lost > 0) std::fprintf(stderr, "note: %s:%d lost %.0f queries\n", server.c_str(), port, lost);
  return std::atof(out.c_str() + at + 19);
}

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  return pid;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/k1s-bench-dns-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  int rc = 0;
  pid_t dnsmasq = -1;
  try {
    Store store(dir + "/db");
    Registry reg(store, {});
    reg.bootstrap("127.0.0.1", 6443);
    reg.create(*findResource("", "namespaces"), "", {{"metadata", {{"name", "bench"}}}});
    auto& svcs = *findResource("", "services");
    std::ofstream hosts(dir + "/hosts"), queries(dir + "/queries");
    for (int i = 0; i < kNames; ++i) {
      std::string name = "svc-" + std::to_string(i);
      Json s = reg.create(svcs, "bench",
                          {{"metadata", {{"name", name}}},
                           {"spec", {{"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}});
      std::string fqdn = name + ".bench.svc.cluster.local";
      hosts << s["spec"]["clusterIP"].get<std::string>() << " " << fqdn << "\n";
      queries << fqdn << " A\n";
    }
    hosts.close();
    queries.close();

    DnsOptions o;
    o.listenIP = "127.0.0.1";
    o.port = 5353;
    ClusterDns k1sDns(reg, o);
    k1sDns.start();
    // dnsmasq: only the hosts file, nothing forwarded, on another loopback address.
    dnsmasq = spawn({"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                     "--addn-hosts=" + dir + "/hosts", "--listen-address=127.0.0.2", "--bind-interfaces",
                     "--port=5353", "--user=root", "--local-ttl=5", "--pid-file="});
    if (dnsmasq < 0) throw std::runtime_error("cannot start dnsmasq (scripts/install-deps.sh bench)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));

    std::vector<double> k1s, ref;
    for (int round = 0; round < 2; ++round) {
      ref.push_back(dnsperf("127.0.0.2", 5353, dir + "/queries"));
      k1s.push_back(dnsperf("127.0.0.1", 5353, dir + "/queries"));
    }
    double a = *std::max_element(k1s.begin(), k1s.end()), b = *std::max_element(ref.begin(), ref.end());
    std::printf("cluster DNS benchmark: %d names, dnsperf -c 4 -l %s, best of 2 rounds (alternating)\n", kNames,
                kSeconds);
    std::printf("%-34s %12s\n", "server", "queries/s");
    std::printf("%-34s %12.0f   (rounds %.0f, %.0f)\n", "k1s cluster DNS (2 UDP workers)", a, k1s[0], k1s[1]);
    std::printf("%-34s %12.0f   (rounds %.0f, %.0f)  <- anchor\n", "dnsmasq, same names (hosts file)", b, ref[0],
                ref[1]);
    std::printf("ratio k1s / dnsmasq: %.2fx (target >= 1.0x)\n", b > 0 ? a / b : 0.0);
    if (a <= 0 || b <= 0) rc = 1;
    k1sDns.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    rc = 1;
  }
  if (dnsmasq > 0) {
    kill(dnsmasq, SIGTERM);
    waitpid(dnsmasq, nullptr, 0);
  }
  std::filesystem::remove_all(dir);
  return rc;
}
