// `k1s server`: wires the store, registry, API server and (as they land) the
// controllers, kubelet and proxy into one process.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "apiserver/certs.h"
#include "apiserver/registry.h"
#include "apiserver/server.h"
#include "apiserver/store.h"
#include "cli/commands.h"
#include "cli/server_flags.h"
#include "common/informer_factory.h"
#include "common/log.h"
#include "common/net.h"
#include "controller/controller.h"
#include "kubelet/host_check.h"
#include "kubelet/kubelet.h"
#include "netproxy/dns.h"
#include "netproxy/proxy.h"

namespace k1s {

namespace {
volatile sig_atomic_t g_stop = 0;
int g_stopPipe[2] = {-1, -1};
// Any thread may take the signal: the pipe wakes the main thread at once (no poll period).
void onSignal(int) {
  g_stop = 1;
  char c = 1;
  if (write(g_stopPipe[1], &c, 1) < 0) {
  }
}
}  // namespace

int runServer(int argc, char** argv) {
  ServerFlags f;
  try {
    f = parseServerFlags(argc, argv);
  } catch (std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  if (f.help) {
    std::cout << serverUsage();
    return 0;
  }
  setLogVerbosity(f.verbosity);
  namespace fs = std::filesystem;
  // Before any thread exists: mounting missing cgroup hierarchies needs a mount namespace of our own.
  if (std::string err = ensureCgroupHierarchies(); !err.empty()) {
    LOGE("server", "cannot start: " << err);
    return 1;
  }
  // Handlers first: /readyz answers before the last component has started, and a SIGTERM then
  // must stop the daemon cleanly, not kill it.
  if (pipe2(g_stopPipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    LOGE("server", "cannot start: pipe2: " << std::strerror(errno));
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    fs::create_directories(f.dataDir);
    fs::create_directories(f.runDir);
    chmod(f.dataDir.c_str(), 0700);

    Store store((fs::path(f.dataDir) / "state.db").string(), f.sync);
    ClusterConfig cfg;
    cfg.serviceCIDR = f.serviceCIDR;
    cfg.nodePortMin = f.nodePortMin;
    cfg.nodePortMax = f.nodePortMax;
    cfg.clusterDomain = f.clusterDomain;
    cfg.clusterDNS = f.clusterDNS;
    Registry reg(store, cfg);

    std::string url = "https://" + f.bindAddress + ":" + std::to_string(f.securePort);
    std::vector<std::string> sans = {"127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
                                     "kubernetes.default.svc", "kubernetes.default.svc." + f.clusterDomain};
    auto svcCidr = Cidr::parse(f.serviceCIDR);
    sans.push_back(formatIPv4(svcCidr->base + 1));
    if (f.bindAddress != "127.0.0.1" && f.bindAddress != "0.0.0.0") sans.push_back(f.bindAddress);
    auto creds = ensureCredentials(f.dataDir, sans, url);
    reg.bootstrap(f.bindAddress == "0.0.0.0" ? "127.0.0.1" : f.bindAddress, f.securePort);

    ApiServerOptions ao;
    ao.bindAddress = f.bindAddress;
    ao.port = f.securePort;
    ao.certFile = creds.certFile;
    ao.keyFile = creds.keyFile;
    ao.token = creds.token;
    ApiServer api(reg, ao);

    // This node's pod range: the first /24 of the cluster CIDR; the bridge takes its .1.
    auto clusterCidr = Cidr::parse(f.clusterCIDR);
    Cidr nodeRange{clusterCidr->base, std::max(clusterCidr->prefix, 24)};
    std::string bridgeIP = formatIPv4(nodeRange.base + 1);

    KubeletOptions ko;
    ko.nodeName = f.nodeName;
    ko.dataDir = f.dataDir;
    ko.runDir = f.runDir;
    ko.bridge = f.bridge;
    ko.clusterCIDR = f.clusterCIDR;
    ko.podCIDR = nodeRange.str();
    ko.serviceCIDR = f.serviceCIDR;
    ko.clusterDNS = f.clusterDNS;
    ko.clusterDomain = f.clusterDomain;
    ko.podEgress = f.podEgress;
    ko.cleanupOnExit = f.cleanupOnExit;
    ko.selfExe = fs::read_symlink("/proc/self/exe").string();
    Kubelet kubelet(reg, ko);
    api.servePodSubresources(kubelet.podSubresources());
    api.start();

    ControllerOptions co;
    co.nodeName = f.nodeName;
    ControllerManager controllers(reg, co);
    controllers.start();
    kubelet.start();

    ProxyOptions po;
    po.bridge = f.bridge;
    po.clusterCIDR = f.clusterCIDR;
    po.serviceCIDR = f.serviceCIDR;
    po.nodeIP = bridgeIP;
    po.podEgress = f.podEgress;
    po.cleanupOnExit = f.cleanupOnExit;
    ServiceProxy proxy(reg, po);
    proxy.start();

    // Cluster DNS listens on the bridge address; kube-dns's Service IP is DNAT'd to it.
    ensureKubeDnsService(reg, f.clusterDNS, bridgeIP, f.nodeName);
    DnsOptions dopts;
    dopts.listenIP = bridgeIP;
    dopts.clusterDomain = f.clusterDomain;
    ClusterDns dns(reg, dopts);
    dns.start();
    // informers: one shared list+watch per distinct (resource, namespace, selectors) (bench/idle.sh)
    LOGI("server", "k1s serving url=" << url << " kubeconfig=" << creds.kubeconfigPath << " data-dir=" << f.dataDir
                                      << " informers=" << reg.informers().live());

    while (!g_stop) {
      pollfd p{g_stopPipe[0], POLLIN, 0};
      poll(&p, 1, -1);
    }
    // Each phase timed: a slow stop shows where its time went.
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now(), last = t0;
    std::string phases;
    auto phase = [&](const char* name, auto&& stopIt) {
      stopIt();
      auto now = Clock::now();
      phases += std::string(" ") + name + "=" +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count()) + "ms";
      last = now;
    };
    LOGI("server", "stopping");
    phase("dns", [&] { dns.stop(); });
    phase("proxy", [&] { proxy.stop(); });
    phase("kubelet", [&] { kubelet.stop(); });
    phase("controllers", [&] { controllers.stop(); });
    phase("api", [&] { api.stop(); });
    LOGI("server", "stopped in " << std::chrono::duration_cast<std::chrono::milliseconds>(last - t0).count()
                                 << "ms" << phases);
  } catch (std::exception& e) {
    LOGE("server", "fatal: " << e.what());
    return 1;
  }
  return 0;
}

}  // namespace k1s
