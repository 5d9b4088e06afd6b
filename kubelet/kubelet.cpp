// The Kubelet's lifecycle: the host checks and the Node's registration, then
// informers (pods bound to this node, and the ConfigMaps, Secrets and Services
// pods consume) feeding the shared controller runner, whose work queue is keyed
// by pod uid; each pod is synced again 1 s after its last sync (kubelet's PLEG
// relist period) through the queue's delayed add; the Node's heartbeat is one
// more key of that queue; re-adoption of containers left running by a previous
// daemon; and the streaming routes.
#include <unistd.h>

#include <filesystem>

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"
#include "kubelet/host_check.h"
#include "kubelet/pod_http.h"
#include "kubelet/pod_logs.h"
#include "kubelet/pod_worker.h"
#include "kubelet/stream_session.h"
#include "kubelet/stream_websocket.h"

namespace fs = std::filesystem;

namespace k1s {

namespace {
constexpr const char* kComp = "kubelet";
constexpr int kWorkers = 4;
// kubelet's PLEG relist period: container exits and probe results show within it.
constexpr auto kResync = std::chrono::seconds(1);
// A failed pod sync is retried after 200 ms, doubling up to 30 s (the periodic resync above
// still looks at a known pod every second).
constexpr RetryBackoff kBackoff{std::chrono::milliseconds(200), std::chrono::seconds(30)};
// The queue key of the Node's heartbeat; pod keys are uids, which never look like this.
const std::string kNodeKey = "node";

// The node name defaults to the host name, as kubelet's --hostname-override does.
KubeletOptions withNodeName(KubeletOptions o) {
  if (o.nodeName.empty()) {
    char h[256] = {};
    gethostname(h, sizeof h - 1);
    o.nodeName = h;
  }
  return o;
}

ListOptions nodeSelector(const std::string& node) {
  ListOptions o;
  o.fieldSelector = "spec.nodeName=" + node;
  return o;
}
}  // namespace

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool parseContainerId(const std::string& id, std::string& uid, std::string& name, int& n) {
  // A uid is 36 characters (RFC 4122 text form); the restart number follows the last dash.
  if (id.size() < 40 || id[36] != '-') return false;
  auto dash = id.rfind('-');
  if (dash <= 37) return false;
  try {
    size_t used = 0;
    n = std::stoi(id.substr(dash + 1), &used);
    if (used != id.size() - dash - 1) return false;
  } catch (...) {
    return false;
  }
  uid = id.substr(0, 36);
  name = id.substr(37, dash - 37);
  return true;
}

Kubelet::Impl::Impl(Client& c, KubeletOptions o)
    : client(c),
      opts(withNodeName(std::move(o))),
      runtime(opts.runDir + "/containers", opts.selfExe.empty() ? "/proc/self/exe" : opts.selfExe),
      images(opts.dataDir + "/images"),
      network(PodNetworkOptions{opts.bridge, opts.podCIDR, opts.clusterCIDR, opts.serviceCIDR, opts.runDir,
                                opts.dataDir + "/ipam.json", opts.podEgress}),
      events(c, kComp, opts.nodeName),
      runner(c, kComp, [this](const std::string& key) { key == kNodeKey ? syncNode() : sync(key); }, kWorkers,
             Clock::real(), kBackoff),
      queue(runner.queue()),
      pods(runner.use(*findResource("", "pods"), "", nodeSelector(opts.nodeName))),
      configMaps(runner.use(*findResource("", "configmaps"))),
      secrets(runner.use(*findResource("", "secrets"))),
      services(runner.use(*findResource("", "services"))) {
  MachineResources m = machineResources();
  nodeCpuMilli = m.cpus * 1000;
  if (m.memoryBytes > 0) nodeMemoryBytes = m.memoryBytes;

  auto onPod = [this](const Json& p) {
    std::string uid = metaOf(p).value("uid", "");
    if (uid.empty()) return;
    {
      std::lock_guard<std::mutex> l(mu);
      uidKeys[uid] = namespaceOf(p) + "/" + nameOf(p);
    }
    queue.add(uid);
  };
  runner.on(pods, {onPod, [onPod](const Json&, const Json& p) { onPod(p); },
                   [this](const Json& p) { queue.add(metaOf(p).value("uid", "")); }});
  // A changed ConfigMap or Secret refreshes the volumes of the pods of its namespace.
  auto touchNamespace = [this](const Json& o) {
    for (auto& p : pods.list(namespaceOf(o))) queue.add(metaOf(*p).value("uid", ""));
  };
  for (Informer* inf : {&configMaps, &secrets})
    runner.on(*inf, {touchNamespace, [touchNamespace](const Json&, const Json& n) { touchNamespace(n); },
                     touchNamespace});
}

void Kubelet::Impl::syncNode() {
  if (stopping) return;
  queue.addAfter(kNodeKey, node->sync());  // a failure comes back with the runner's back-off instead
}

void Kubelet::Impl::sync(const std::string& uid) {
  if (uid.empty() || stopping) return;
  CachedObject obj;
  std::string key;
  {
    std::lock_guard<std::mutex> l(mu);
    auto it = uidKeys.find(uid);
    if (it != uidKeys.end()) key = it->second;
  }
  if (!key.empty()) {
    std::string ns, name;
    splitKey(key, ns, name);
    obj = pods.get(ns, name);
    if (obj && metaOf(*obj).value("uid", "") != uid) obj = nullptr;
  }
  PodRuntime* pr = nullptr;
  {
    std::lock_guard<std::mutex> l(mu);
    auto it = state.find(uid);
    if (it != state.end()) pr = it->second.get();
  }
  if (!obj) {
    // Gone from the API (deleted with grace 0, or by us): nothing of it may stay.
    if (pr) {
      cleanupPod(*pr, false);
      std::lock_guard<std::mutex> l(mu);
      state.erase(uid);
      uidKeys.erase(uid);
      backoff.forgetPrefix(uid + "/");
    }
    return;
  }
  if (!pr) {
    auto fresh = std::make_unique<PodRuntime>();
    fresh->uid = uid;
    fresh->ns = namespaceOf(*obj);
    fresh->name = nameOf(*obj);
    std::lock_guard<std::mutex> l(mu);
    pr = (state[uid] = std::move(fresh)).get();
  }
  // Known pods are looked at again within kResync even when nothing in the API changed: their
  // containers may have exited. One pending entry per pod (the queue keeps the earlier time).
  queue.addAfter(uid, kResync);
  Json pod = *obj;  // our copy: cached objects are immutable
  syncPod(*pr, pod);
}

// Containers found on disk at start: those of pods still bound here are
// adopted by their pod's first sync; the rest are stopped and removed.
void Kubelet::Impl::adoptAndCleanOrphans() {
  std::set<std::string> live;
  for (auto& p : pods.list()) live.insert(metaOf(*p).value("uid", ""));
  std::set<std::string> orphanUids;
  for (auto& id : runtime.list()) {
    std::string uid, name;
    int n;
    if (!parseContainerId(id, uid, name, n)) continue;
    if (live.count(uid)) {
      adoptable[uid][name].push_back(n);
      continue;
    }
    orphanUids.insert(uid);
    try {
      auto st = runtime.status(id);
      if (st && st->running) {
        runtime.signal(id, SIGKILL);
        for (int i = 0; i < 50; ++i) {
          auto s = runtime.status(id);
          if (!s || !s->running) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      runtime.remove(id);
    } catch (std::exception& e) {
      LOGW(kComp, "removing orphan container id=" << id << " err=" << e.what());
    }
  }
  std::error_code ec;
  for (auto& e : fs::directory_iterator(opts.dataDir + "/pods", ec))
    if (!live.count(e.path().filename().string())) orphanUids.insert(e.path().filename().string());
  for (auto& uid : orphanUids) {
    LOGI(kComp, "cleaning up pod that no longer exists uid=" << uid);
    try { runtime.removeSandbox(uid); } catch (std::exception& e) { LOGV(2, kComp, "removeSandbox: " << e.what()); }
    try { network.release(uid); } catch (std::exception& e) { LOGV(2, kComp, "release network: " << e.what()); }
    std::error_code ec2;
    fs::remove_all(podDir(uid) + "/volumes", ec2);  // tmpfs emptyDirs were unmounted with their daemon's mounts
    fs::remove_all(podDir(uid), ec2);
  }
}

Kubelet::Kubelet(Client& c, KubeletOptions o) : impl_(std::make_unique<Impl>(c, std::move(o))) {}

Kubelet::~Kubelet() { stop(); }

void Kubelet::start() {
  auto& I = *impl_;
  if (I.started.exchange(true)) return;
  // The Node first, so the scheduler can place pods as soon as possible; it carries what the
  // host checks found (NetworkUnavailable, and Ready False when pods cannot run).
  NodeStatusOptions no;
  no.nodeName = I.opts.nodeName;
  no.nodeIP = I.network.bridgeIP();
  no.podCIDR = I.opts.podCIDR;
  no.hostConditions = checkHost(I.opts.dataDir).conditions;
  I.node = std::make_unique<NodeStatus>(I.client, I.events, no);
  try {
    I.node->registerNode();
  } catch (const std::exception& e) {
    LOGW(kComp, "node registration failed, will retry err=" << e.what());
  }
  I.queue.add(kNodeKey);  // the first heartbeat writes the Lease as soon as the workers run
  fs::create_directories(I.opts.dataDir + "/pods");
  fs::create_directories(I.opts.runDir + "/containers");
  I.network.init();
  I.hostIP = I.network.bridgeIP();
  try {
    I.images.importDropDir();
  } catch (std::exception& e) {
    LOGW(kComp, "importing dropped image archives: " << e.what());
  }
  // Re-adoption needs the full pod list and must be done before the first sync.
  I.runner.start([&I] { I.adoptAndCleanOrphans(); });
  if (I.stopping) return;  // stopped before the caches filled
  LOGI(kComp, "started node=" << I.opts.nodeName << " hostIP=" << I.hostIP);
}

void Kubelet::stop() {
  auto& I = *impl_;
  if (!I.started) return;
  if (I.stopping.exchange(true)) return;
  I.runner.stop();  // no handler calls after this, and the workers are joined
  std::map<std::string, std::unique_ptr<PodRuntime>> st;
  {
    std::lock_guard<std::mutex> l(I.mu);
    st.swap(I.state);
  }
  for (auto& [uid, pr] : st) {
    for (auto& [_, cs] : pr->containers) cs.liveness.reset(), cs.readiness.reset(), cs.startup.reset();
    if (I.opts.cleanupOnExit) I.cleanupPod(*pr, false);
  }
  st.clear();
  if (I.opts.cleanupOnExit) {
    for (auto& id : I.runtime.list()) {
      try {
        I.runtime.signal(id, SIGKILL);
      } catch (...) {
      }
    }
    for (auto& id : I.runtime.list()) {
      for (int i = 0; i < 50; ++i) {
        auto s = I.runtime.status(id);
        if (!s || !s->running) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      try {
        I.runtime.remove(id);
      } catch (std::exception& e) {
        LOGW(kComp, "remove container id=" << id << " err=" << e.what());
      }
    }
    try {
      I.network.teardown();
    } catch (std::exception& e) {
      LOGW(kComp, "network teardown: " << e.what());
    }
  }
  LOGI(kComp, "stopped cleanup=" << (I.opts.cleanupOnExit ? "true" : "false"));
}

// Pod subresources the kubelet serves behind the API server, as kube-apiserver hands them
// to the kubelet: a handler per subresource.
namespace {

class KubeletSubresources : public PodSubresources {
 public:
  using Handler = std::function<void(const std::string& ns, const std::string& pod, const httplib::Request&,
                                     httplib::Response&)>;
  std::map<std::string, Handler> handlers;

  bool serves(const std::string& sub) const override { return handlers.count(sub) > 0; }
  void serve(const std::string& sub, const std::string& ns, const std::string& pod, const httplib::Request& req,
             httplib::Response& res) override {
    handlers.at(sub)(ns, pod, req, res);
  }
};

}  // namespace

std::shared_ptr<PodSubresources> Kubelet::podSubresources() {
  auto* I = impl_.get();
  auto out = std::make_shared<KubeletSubresources>();
  LogSource logs;
  logs.client = &I->client;
  logs.dataDir = I->opts.dataDir;
  logs.running = [I](const std::string& uid, const std::string& container, int n) {
    auto st = I->runtime.status(I->containerId(uid, container, n));
    return st && st->running;
  };
  out->handlers["log"] = [logs](const std::string& ns, const std::string& pod, const httplib::Request& req,
                                httplib::Response& res) { servePodLog(logs, ns, pod, req, res); };
  auto streams = makeKubeletStreamBackend(I->client, I->runtime, I->opts.dataDir);
  installWebSocketStreams();  // `Upgrade: websocket` requests (kubelet/stream_websocket.cpp)
  for (std::string sub : {"exec", "attach", "portforward"})
    out->handlers[sub] = [streams, sub](const std::string& ns, const std::string& pod, const httplib::Request& req,
                                        httplib::Response& res) {
      serveStreamRequest(*streams, sub, ns, pod, req, res);
    };
  return out;
}

}  // namespace k1s
