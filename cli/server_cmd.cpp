// `k1s server`: wires the store, registry, API server and (as they land) the
// controllers, kubelet and proxy into one process.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "apiserver/certs.h"
#include "apiserver/registry.h"
#include "apiserver/server.h"
#include "apiserver/store.h"
#include "cli/commands.h"
#include "cli/server_flags.h"
#include "common/log.h"
#include "common/net.h"

namespace k1s {

namespace {
volatile sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }
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
  try {
    fs::create_directories(f.dataDir);
    fs::create_directories(f.runDir);
    chmod(f.dataDir.c_str(), 0700);

    Store store((fs::path(f.dataDir) / "state.db").string());
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
    api.start();
    LOGI("server", "k1s serving url=" << url << " kubeconfig=" << creds.kubeconfigPath << " data-dir=" << f.dataDir);

    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    while (!g_stop) usleep(100 * 1000);
    LOGI("server", "stopping");
    api.stop();
  } catch (std::exception& e) {
    LOGE("server", "fatal: " << e.what());
    return 1;
  }
  return 0;
}

}  // namespace k1s
