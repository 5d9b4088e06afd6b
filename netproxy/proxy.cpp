// ServiceProxy: informers on Services and EndpointSlices feed one sync thread
// that hands the service ports to the RuleSyncer (partial syncs, periodic full
// ones, conntrack clean-up) and keeps LoadBalancer status at "localhost".
#include "netproxy/proxy.h"

#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/informer.h"
#include "common/log.h"
#include "netproxy/proxy_rules.h"
#include "netproxy/proxy_sync.h"

namespace k1s {

namespace {

// A lone change is applied at once (no debounce): with the long-lived
// iptables-restore child a small sync costs about a millisecond. Bursts still
// coalesce: events that arrive while a sync runs become one next sync, which
// starts at least this long after the previous one ended.
constexpr auto kMinInterval = std::chrono::milliseconds(2);

}  // namespace

struct ServiceProxy::Impl {
  Client& client;
  ProxyOptions o;
  Informer services, slices;
  RuleSyncer syncer;
  std::mutex mu;
  std::condition_variable cv;
  bool dirty = true, stopping = false, started = false;
  std::thread thread;

  Impl(Client& c, ProxyOptions opts)
      : client(c),
        o(std::move(opts)),
        services(c, *findResource("", "services")),
        slices(c, *findResource("discovery.k8s.io", "endpointslices")),
        syncer(o) {}

  void kick() {
    std::lock_guard<std::mutex> l(mu);
    dirty = true;
    cv.notify_one();
  }

  // Keeps LoadBalancer status at ingress [{hostname: localhost}] (DESIGN defaults).
  void publishLoadBalancerStatus() {
    for (const auto& s : services.list()) {
      const Json& svc = *s;
      std::string type = svc["spec"].value("type", "");
      Json ingress = svc.contains("status") ? svc["status"].value("loadBalancer", Json::object()).value("ingress", Json())
                                            : Json();
      Json want = Json::array({{{"hostname", "localhost"}}});
      Json patch;
      if (type == "LoadBalancer" && ingress != want)
        patch = {{"status", {{"loadBalancer", {{"ingress", want}}}}}};
      else if (type != "LoadBalancer" && !ingress.is_null() && ingress == want)
        patch = {{"status", {{"loadBalancer", {{"ingress", nullptr}}}}}};
      if (patch.is_null()) continue;
      try {
        client.patch(*findResource("", "services"), svc["metadata"].value("namespace", ""),
                     svc["metadata"].value("name", ""), PatchType::Merge, patch, "status");
      } catch (const std::exception& e) {
        LOGW("proxy", "loadbalancer status " << objectKey(svc) << ": " << e.what());
      }
    }
  }

  bool syncOnce() {
    // The cached objects are shared and immutable: read them in place.
    auto svcObjs = services.list(), sliceObjs = slices.list();
    std::vector<const Json*> svcs, sls;
    for (const auto& s : svcObjs) svcs.push_back(s.get());
    for (const auto& s : sliceObjs) sls.push_back(s.get());
    auto ports = servicePortsOf(svcs, sls);
    SyncResult r = syncer.sync(ports);
    if (!r.ok) {
      LOGE("proxy", r.error);
      return false;
    }
    if (!r.plan.text.empty() || r.conntrackDeletes)
      LOGV(1, "proxy", "synced rules full=" << r.full << " servicePorts=" << ports.size() << " chainsWritten="
                                            << r.plan.written << " chainsDeleted=" << r.plan.deleted
                                            << " chainsUnchanged=" << r.plan.unchanged << " bytes=" << r.plan.text.size()
                                            << " ms=" << r.restoreMs << " conntrackDeletes=" << r.conntrackDeletes);
    publishLoadBalancerStatus();
    return true;
  }

  void run() {
    std::unique_lock<std::mutex> l(mu);
    auto lastSync = std::chrono::steady_clock::now() - kMinInterval;
    for (;;) {
      // Sleep until an event or the periodic full sync is due.
      cv.wait_until(l, syncer.nextFullSync(), [&] { return dirty || stopping; });
      if (stopping) return;
      l.unlock();
      if (std::chrono::steady_clock::now() < lastSync + kMinInterval) std::this_thread::sleep_until(lastSync + kMinInterval);
      l.lock();
      dirty = false;
      l.unlock();
      bool ok = false;
      try {
        ok = syncOnce();
      } catch (const std::exception& e) {
        LOGE("proxy", "sync: " << e.what());
      }
      lastSync = std::chrono::steady_clock::now();
      l.lock();
      if (!ok && !stopping) {
        cv.wait_for(l, std::chrono::seconds(1), [&] { return stopping; });
        dirty = true;
      }
    }
  }
};

ServiceProxy::ServiceProxy(Client& c, ProxyOptions o) : impl_(std::make_unique<Impl>(c, std::move(o))) {}

ServiceProxy::~ServiceProxy() { stop(); }

void ServiceProxy::start() {
  auto& d = *impl_;
  if (d.started) return;
  d.started = true;
  // A helper that dies early must not kill the daemon with SIGPIPE.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  // LoadBalancer = localhost:<port>, NodePort on 127.0.0.1: DNAT of loopback
  // destinations to pod IPs needs route_localnet (in this netns only).
  std::ofstream("/proc/sys/net/ipv4/conf/all/route_localnet") << "1";
  std::string version;
  runCommand({"iptables", "--version"}, "", &version);
  while (!version.empty() && version.back() == '\n') version.pop_back();
  LOGI("proxy", "service proxy starting iptables=\"" << version << "\"");
  d.syncer.learnExisting();  // leftovers of an earlier run go in the first (full) sync
  InformerHandlers h;
  h.onAdd = [&d](const Json&) { d.kick(); };
  h.onUpdate = [&d](const Json&, const Json&) { d.kick(); };
  h.onDelete = [&d](const Json&) { d.kick(); };
  d.services.addHandlers(h);
  d.slices.addHandlers(h);
  d.services.start();
  d.slices.start();
  d.services.waitForSync(std::chrono::seconds(5));
  d.slices.waitForSync(std::chrono::seconds(5));
  d.thread = std::thread([&d] { d.run(); });
}

void ServiceProxy::stop() {
  auto& d = *impl_;
  if (!d.started) return;
  d.started = false;
  {
    std::lock_guard<std::mutex> l(d.mu);
    d.stopping = true;
    d.cv.notify_one();
  }
  if (d.thread.joinable()) d.thread.join();
  d.services.stop();
  d.slices.stop();
  if (d.o.cleanupOnExit) d.syncer.cleanup();
}

}  // namespace k1s
