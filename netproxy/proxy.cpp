// ServiceProxy: informers on Services and EndpointSlices feed one sync thread
// that hands the service ports to the RuleSyncer (partial syncs, periodic full
// ones, conntrack clean-up) and keeps LoadBalancer status at "localhost" for
// the Services that hold their ports (lb_ports.h), <pending> for the others.
#include "netproxy/proxy.h"

#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/events.h"
#include "common/informer.h"
#include "common/informer_factory.h"
#include "common/log.h"
#include "netproxy/lb_ports.h"
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
  InformerSet informers;  // before the references into it
  Informer &services, &slices;
  RuleSyncer syncer;
  EventRecorder events;
  std::map<std::string, std::string> waiting;  // pending LoadBalancer "ns/name" -> what its last Warning named
  std::mutex mu;
  std::condition_variable cv;
  bool dirty = true, stopping = false, started = false;
  std::thread thread;

  Impl(Client& c, ProxyOptions opts)
      : client(c),
        o(std::move(opts)),
        informers(c),
        services(informers.use(*findResource("", "services"))),
        slices(informers.use(*findResource("discovery.k8s.io", "endpointslices"))),
        syncer(o),
        events(c, "service-lb-controller") {}

  void kick() {
    std::lock_guard<std::mutex> l(mu);
    dirty = true;
    cv.notify_one();
  }

  // Status as k3s's ServiceLB writes it: ingress [{hostname: localhost}]
  // (DESIGN defaults) for a Service that holds its ports, none (<pending>) for
  // one that waits, with a Warning naming the holder; its wording and reasons
  // are ServiceLB's.
  void publishLoadBalancerStatus(const std::map<std::string, LoadBalancerClaim>& claims) {
    std::set<std::string> stillWaiting;
    for (const auto& s : services.list()) {
      const Json& svc = *s;
      std::string type = svc["spec"].value("type", "");
      Json ingress = svc.contains("status") ? svc["status"].value("loadBalancer", Json::object()).value("ingress", Json())
                                            : Json();
      if (ingress.is_array() && ingress.empty()) ingress = Json();
      std::string key = objectKey(svc);
      auto claim = claims.find(key);
      bool admitted = claim != claims.end() && claim->second.admitted;
      Json want = Json::array({{{"hostname", "localhost"}}});
      Json patch;
      if (admitted && ingress != want)
        patch = {{"status", {{"loadBalancer", {{"ingress", want}}}}}};
      else if (!admitted && !ingress.is_null() && (type == "LoadBalancer" || ingress == want))
        patch = {{"status", {{"loadBalancer", {{"ingress", nullptr}}}}}};
      if (type == "LoadBalancer" && !admitted && claim != claims.end()) {
        // Once per holder, and again after a restart (events are best effort).
        std::string why = claim->second.port + " " + claim->second.holder;
        stillWaiting.insert(key);
        if (waiting[key] != why) {
          waiting[key] = why;
          events.record(svc, "Warning", "UnAvailableLoadBalancer",
                        "There are no available nodes for LoadBalancer: port " + claim->second.port +
                            " is in use by Service " + claim->second.holder);
        }
      }
      if (patch.is_null()) continue;
      try {
        client.patch(*findResource("", "services"), svc["metadata"].value("namespace", ""),
                     svc["metadata"].value("name", ""), PatchType::Merge, patch, "status");
        if (admitted)
          events.record(svc, "Normal", "UpdatedLoadBalancer",
                        "Updated LoadBalancer with new IPs: " + ingressText(ingress) + " -> " + ingressText(want));
      } catch (const std::exception& e) {
        LOGW("proxy", "loadbalancer status " << key << ": " << e.what());
      }
    }
    std::erase_if(waiting, [&](const auto& kv) { return !stillWaiting.count(kv.first); });
  }

  // Go's %v of ServiceLB's address list: "[localhost]", "[]".
  static std::string ingressText(const Json& ingress) {
    std::string out;
    if (ingress.is_array())
      for (const auto& i : ingress) {
        if (!out.empty()) out += " ";
        out += i.is_object() ? i.value("ip", i.value("hostname", "")) : "";
      }
    return "[" + out + "]";
  }

  bool syncOnce() {
    // The cached objects are shared and immutable: read them in place.
    auto svcObjs = services.list(), sliceObjs = slices.list();
    std::vector<const Json*> svcs, sls;
    for (const auto& s : svcObjs) svcs.push_back(s.get());
    for (const auto& s : sliceObjs) sls.push_back(s.get());
    auto ports = servicePortsOf(svcs, sls);
    auto claims = assignLoadBalancerPorts(svcs);
    // A Service waiting for its ports gets no localhost rules (its node port
    // and cluster IP still work, as with a pending ServiceLB).
    for (auto& sp : ports)
      if (sp.loadBalancer) {
        auto c = claims.find(sp.ns + "/" + sp.name);
        sp.loadBalancer = c != claims.end() && c->second.admitted;
      }
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
    publishLoadBalancerStatus(claims);
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
  d.informers.on(d.services, h);
  d.informers.on(d.slices, h);
  d.informers.start();
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
  d.informers.stop();
  if (d.o.cleanupOnExit) d.syncer.cleanup();
}

}  // namespace k1s
