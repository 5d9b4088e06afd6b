// The per-pod sync: desired (pod spec) against actual (runtime status),
// idempotent and re-run on every change and every second. Sets up the pod
// (directory, network, sandbox, hosts/resolv.conf, volumes), runs init
// containers in order and then the app containers, restarts per restartPolicy
// with kubelet's back-off, acts on probe results, terminates gracefully, and
// writes the status only when it changed.
#include <algorithm>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"
#include "kubelet/pod_volumes.h"
#include "kubelet/pod_worker.h"
#include "kubelet/seccomp.h"

namespace fs = std::filesystem;

namespace k1s {

namespace {

constexpr const char* kComp = "kubelet";
constexpr int64_t kImageRetryMs = 10000;

const Json& podSpec(const Json& pod) { return pod["spec"]; }

// hostNetwork: the pod shares the node's network (no netns, no veth, no pod IP of its own).
bool hostNetwork(const Json& pod) { return podSpec(pod).value("hostNetwork", false); }

std::vector<const Json*> containersOf(const Json& pod, const char* list) {
  std::vector<const Json*> v;
  const Json& spec = podSpec(pod);
  if (spec.contains(list) && spec[list].is_array())
    for (auto& c : spec[list]) v.push_back(&c);
  return v;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  chmod(path.c_str(), 0644);
}

// docker.io/kiamol/x:latest -> docker.io/kiamol/x@sha256:...
std::string imageIdOf(const ImageInfo& img) {
  std::string repo = img.ref;
  auto slash = repo.rfind('/'), colon = repo.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) repo.resize(colon);
  return repo + "@" + img.digest;
}

std::string rfc3339OrNow(const std::string& s) { return s.empty() ? nowRfc3339() : s; }

int64_t rfcMs(const std::string& s) {
  long long secs = parseRfc3339(s);
  return secs < 0 ? 0 : secs * 1000;
}

bool shouldRestart(const std::string& policy, int exitCode) {
  return policy == "Always" || (policy == "OnFailure" && exitCode != 0);
}

Json terminatedJson(const ContainerStatus& st, const std::string& id) {
  std::string reason = st.reason.empty() ? (st.exitCode == 0 ? "Completed" : "Error") : st.reason;
  Json t = {{"exitCode", st.exitCode}, {"reason", reason}, {"startedAt", rfc3339OrNow(st.startedAt)},
            {"finishedAt", rfc3339OrNow(st.finishedAt)}, {"containerID", "k1s://" + id}};
  if (!st.message.empty()) t["message"] = st.message;
  return t;
}

std::optional<int64_t> num(const Json& o, const char* k) {
  if (o.is_object() && o.contains(k) && o[k].is_number_integer()) return o[k].get<int64_t>();
  return std::nullopt;
}

// Events raised during a pod's sync are recorded after its status write: a starting pod reports
// Running without first waiting for its Pulled/Created/Started event writes (kubelet's recorder is
// asynchronous too). Their order is kept. A sync runs on one worker thread, hence thread_local;
// events from probe and terminator threads are recorded at once.
struct DeferredEvent {
  Json pod;
  std::string type, reason, message;
};
thread_local std::vector<DeferredEvent>* tDeferredEvents = nullptr;

class DeferEvents {
 public:
  explicit DeferEvents(EventRecorder& r) : recorder_(r) { tDeferredEvents = &events_; }
  ~DeferEvents() {
    tDeferredEvents = nullptr;
    for (auto& e : events_) recorder_.record(e.pod, e.type, e.reason, e.message);  // never throws
  }
  DeferEvents(const DeferEvents&) = delete;
  DeferEvents& operator=(const DeferEvents&) = delete;

 private:
  EventRecorder& recorder_;
  std::vector<DeferredEvent> events_;
};

}  // namespace

// A hostNetwork pod sees the node's host name, like kubelet's; others their own.
std::string Kubelet::Impl::hostnameOf(const Json& pod) const {
  return hostNetwork(pod) ? opts.nodeName : podHostname(pod);
}

void Kubelet::Impl::event(const Json& pod, const std::string& type, const std::string& reason, const std::string& msg) {
  if (tDeferredEvents) tDeferredEvents->push_back({pod, type, reason, msg});
  else events.record(pod, type, reason, msg);
}

EnvContext Kubelet::Impl::envContext(const PodRuntime& pr, const Json& pod) {
  EnvContext ctx;
  ctx.podIP = pr.net.ip;
  ctx.hostIP = hostIP;
  ctx.nodeName = opts.nodeName;
  ctx.nodeCpuMilli = nodeCpuMilli;
  ctx.nodeMemoryBytes = nodeMemoryBytes;
  std::string ns = pr.ns;
  // The ConfigMap and Secret caches are batched (a few ms behind); one not cached yet is read
  // from the API, so a pod created right after its ConfigMap does not see it missing.
  auto lookup = [this, ns](Informer& cache, const std::string& n) -> std::optional<Json> {
    if (auto o = cache.get(ns, n)) return *o;
    try {
      return client.get(cache.resource(), ns, n);
    } catch (const ApiError& e) {
      if (e.code == 404) return std::nullopt;
      throw;
    }
  };
  ctx.configMap = [this, lookup](const std::string& n) { return lookup(configMaps, n); };
  ctx.secret = [this, lookup](const std::string& n) { return lookup(secrets, n); };
  std::vector<Json> all;
  for (auto& s : services.list()) all.push_back(*s);
  ctx.services = servicesForPod(all, ns, podSpec(pod).value("enableServiceLinks", true));
  return ctx;
}

// Pod-level setup, idempotent: directory, network, sandbox, hosts/resolv.conf, volumes.
bool Kubelet::Impl::preparePod(PodRuntime& pr, const Json& pod) {
  std::string dir = podDir(pr.uid);
  fs::create_directories(dir + "/etc");
  fs::create_directories(dir + "/logs");
  if (pr.startTime.empty()) {
    const Json& st = pod.contains("status") ? pod["status"] : Json::object();
    pr.startTime = st.value("startTime", nowRfc3339());
  }
  if (!pr.networkReady) {
    if (hostNetwork(pod)) {
      // An empty netnsPath keeps the containers in the daemon's network namespace; the pod's IP
      // is the node's, as kubelet reports it.
      pr.net = PodNetwork{};
      pr.net.ip = hostIP;
    } else {
      pr.net = network.setup(pr.uid, pr.ns, pr.name, livePids(pr));
    }
    pr.networkReady = true;
  }
  if (!pr.sandboxReady) {
    SandboxSpec sb{pr.uid, pr.name, pr.ns, hostnameOf(pod), pr.net.netnsPath, livePids(pr)};
    try {
      runtime.createSandbox(sb, pr.ipcns, pr.utsns);
    } catch (const std::exception& e) {
      // Re-adopted containers already live in their namespaces; new ones need the sandbox.
      if (!pr.adopted) throw;
      LOGW(kComp, "sandbox of re-adopted pod pod=" << pr.ns << "/" << pr.name << " err=" << e.what());
    }
    pr.sandboxReady = true;
    writeFile(dir + "/etc/hosts", hostsFileText(pod, pr.net.ip, opts.clusterDomain));
    writeFile(dir + "/etc/resolv.conf", resolvConfText(pr.ns, opts.clusterDNS, opts.clusterDomain));
  }
  EnvContext ctx = envContext(pr, pod);
  try {
    if (pr.volumes.empty() && podSpec(pod).contains("volumes") && !podSpec(pod)["volumes"].empty())
      pr.volumes = setupVolumes(pod, ctx, dir);
    else
      refreshVolumes(pod, ctx, dir);  // ConfigMap/Secret/labels changes reach running containers
  } catch (const VolumeError& e) {
    pr.volumes.clear();
    event(pod, "Warning", "FailedMount", std::string("MountVolume.SetUp failed for volume: ") + e.what());
    return false;
  }
  return true;
}

Json Kubelet::Impl::containerRef(const Json& pod, const ContainerState& cs) const { return pod; }

bool Kubelet::Impl::startContainer(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs) {
  std::string imageRef = spec.value("image", "");
  auto img = images.find(imageRef);
  cs.image = img ? img->ref : normalizeImageRef(imageRef);
  if (!img) {
    std::string msg = "image \"" + normalizeImageRef(imageRef) +
                      "\" is not present on this node (k1s never pulls); import it with: k1s image import <archive>";
    if (cs.imageAttempts++ == 0) {
      cs.waitingReason = "ErrImagePull";
      event(pod, "Warning", "Failed", "Failed to pull image \"" + imageRef + "\": " + msg);
      event(pod, "Warning", "Failed", "Error: ErrImagePull");
    } else {
      cs.waitingReason = "ImagePullBackOff";
      event(pod, "Normal", "BackOff", "Back-off pulling image \"" + imageRef + "\"");
      event(pod, "Warning", "Failed", "Error: ImagePullBackOff");
    }
    cs.waitingMessage = cs.waitingReason == "ErrImagePull" ? msg : "Back-off pulling image \"" + imageRef + "\": " + msg;
    cs.retryAtMs = nowMs() + kImageRetryMs;
    return false;
  }
  cs.imageAttempts = 0;
  cs.imageID = imageIdOf(*img);
  if (cs.waitingReason == "ErrImagePull" || cs.waitingReason == "ImagePullBackOff") cs.waitingReason.clear();
  event(pod, "Normal", "Pulled", "Container image \"" + imageRef + "\" already present on machine");

  int n = cs.currentId.empty() ? cs.restartCount : cs.restartCount + 1;
  std::string id = containerId(pr.uid, cs.name, n);
  ContainerSpec c;
  try {
    EnvContext ctx = envContext(pr, pod);
    EnvList env = buildContainerEnv(pod, spec, ctx);
    c.id = id;
    c.podUid = pr.uid;
    c.podName = pr.name;
    c.podNamespace = pr.ns;
    c.containerName = cs.name;
    c.lowerDirs = img->layers;
    c.args = containerArgv(img->config, spec, env);
    c.env = mergeImageEnv(img->config.env, env);
    if (std::none_of(c.env.begin(), c.env.end(), [](auto& e) { return e.rfind("HOSTNAME=", 0) == 0; }))
      c.env.push_back("HOSTNAME=" + hostnameOf(pod));
    c.workingDir = spec.value("workingDir", "");
    if (c.workingDir.empty()) c.workingDir = img->config.workingDir.empty() ? "/" : img->config.workingDir;
    // runAsUser/runAsGroup: container over pod over the image's USER (numeric forms only).
    const Json& psc = podSpec(pod).value("securityContext", Json::object());
    const Json& csc = spec.value("securityContext", Json::object());
    std::string user = img->config.user;
    if (!user.empty() && std::isdigit((unsigned char)user[0])) {
      c.uid = std::atoll(user.c_str());
      auto colon = user.find(':');
      c.gid = colon != std::string::npos ? std::atoll(user.c_str() + colon + 1) : c.uid;
    }
    if (auto u = num(psc, "runAsUser")) c.uid = *u;
    if (auto g = num(psc, "runAsGroup")) c.gid = *g;
    if (auto u = num(csc, "runAsUser")) c.uid = *u;
    if (auto g = num(csc, "runAsGroup")) c.gid = *g;
    c.privileged = csc.value("privileged", false);
    c.noNewPrivileges = csc.contains("allowPrivilegeEscalation") && !csc.value("allowPrivilegeEscalation", true);
    c.readOnlyRootfs = csc.value("readOnlyRootFilesystem", false);
    if (csc.contains("capabilities")) {
      for (auto& x : csc["capabilities"].value("add", Json::array())) c.capAdd.push_back(x);
      for (auto& x : csc["capabilities"].value("drop", Json::array())) c.capDrop.push_back(x);
    }
    SeccompChoice seccomp = containerSeccomp(podSpec(pod), spec, c.privileged, opts.dataDir + "/seccomp");
    c.seccompType = seccomp.type;
    c.seccompProfile = seccomp.profile;
    const Json& res = spec.value("resources", Json::object());
    const Json& lim = res.value("limits", Json::object());
    const Json& req = res.value("requests", Json::object());
    if (lim.contains("memory")) c.memoryLimitBytes = memoryBytes(lim["memory"]);
    // Quantities may be huge (cpuMillis saturates at int64's limits): clamp before multiplying.
    // Shares as kubelet's MilliCPUToShares, 2..262144 (262144 = 256 CPUs).
    if (lim.contains("cpu"))
      c.cpuQuotaMicros = std::min<int64_t>(cpuMillis(lim["cpu"]), int64_t(1) << 40) * c.cpuPeriodMicros / 1000;
    int64_t reqCpu = req.contains("cpu") ? cpuMillis(req["cpu"]) : 0;
    c.cpuShares = reqCpu > 0 ? std::clamp<int64_t>(std::min<int64_t>(reqCpu, 256000) * 1024 / 1000, 2, 262144) : 2;
    c.hostname = hostnameOf(pod);
    c.netnsPath = pr.net.netnsPath;
    c.ipcnsPath = pr.ipcns;
    c.utsnsPath = pr.utsns;
    c.cgroupParent = "k1s/pod" + pr.uid;
    c.tty = spec.value("tty", false);
    c.stdinOpen = spec.value("stdin", false);
    c.mounts = containerVolumeMounts(spec, pr.volumes, env);
    auto mountedAt = [&](const std::string& t) {
      return std::any_of(c.mounts.begin(), c.mounts.end(), [&](const Mount& m) { return m.target == t; });
    };
    std::string dir = podDir(pr.uid);
    if (!mountedAt("/etc/hosts")) c.mounts.push_back({dir + "/etc/hosts", "/etc/hosts", "bind", false});
    if (!mountedAt("/etc/resolv.conf")) c.mounts.push_back({dir + "/etc/resolv.conf", "/etc/resolv.conf", "bind", false});
    std::string termPath = spec.value("terminationMessagePath", "/dev/termination-log");
    fs::create_directories(dir + "/containers/" + cs.name);
    std::string termFile = dir + "/containers/" + cs.name + "/" + std::to_string(n) + "-termination-log";
    writeFile(termFile, "");
    chmod(termFile.c_str(), 0666);
    if (!mountedAt(termPath)) c.mounts.push_back({termFile, termPath, "bind", false});
    fs::create_directories(dir + "/logs/" + cs.name);
    c.logPath = dir + "/logs/" + cs.name + "/" + std::to_string(n) + ".log";
    if (c.args.empty()) throw std::runtime_error("no command specified");
  } catch (const std::exception& e) {
    // kube's CreateContainerConfigError (missing ConfigMap/Secret/key) and CreateContainerError.
    bool config = dynamic_cast<const ContainerConfigError*>(&e) || dynamic_cast<const VolumeError*>(&e);
    cs.waitingReason = config ? "CreateContainerConfigError" : "CreateContainerError";
    cs.waitingMessage = e.what();
    cs.retryAtMs = nowMs() + 2000;
    event(pod, "Warning", "Failed", std::string("Error: ") + e.what());
    return false;
  }

  // The previous instance's state becomes lastState; older ones are removed (kubelet keeps one dead container).
  if (!cs.currentId.empty()) {
    auto prev = statusOf(cs);
    if (prev) cs.lastTerminated = terminatedJson(*prev, cs.currentId);
    if (n >= 2) {
      try {
        runtime.remove(containerId(pr.uid, cs.name, n - 2));
      } catch (...) {
      }
    }
  }
  cs.currentId = id;
  cs.restartCount = n;
  cs.waitingReason.clear();
  cs.waitingMessage.clear();
  cs.exitSeenFor.clear();
  cs.killing = false;
  cs.startFailure.reset();
  event(pod, "Normal", "Created", "Created container " + cs.name);
  try {
    runtime.start(c);
  } catch (const std::exception& e) {
    if (!runtime.status(id)) {
      std::string t = nowRfc3339();
      cs.startFailure = ContainerStatus{id, false, 0, t, t, 128, "StartError", e.what()};
    }
    event(pod, "Warning", "Failed", std::string("Error: ") + e.what());
    LOGW(kComp, "start failed pod=" << pr.ns << "/" << pr.name << " container=" << cs.name << " err=" << e.what());
    return true;  // the runtime records the StartError exit; restart policy handles it
  }
  event(pod, "Normal", "Started", "Started container " + cs.name);
  return true;
}

void Kubelet::Impl::handleProbes(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs) {
  if (cs.probesFor != cs.currentId) {
    cs.liveness.reset();
    cs.readiness.reset();
    cs.startup.reset();
    cs.probesFor = cs.currentId;
    if (cs.init) return;
    std::string uid = pr.uid;
    ContainerState* csp = &cs;
    auto make = [&](const char* field, ProbeWorker::Kind kind) -> std::unique_ptr<ProbeWorker> {
      if (!spec.contains(field) || !spec[field].is_object()) return nullptr;
      ProbeWorker::Callbacks cb;
      Json podCopy = pod;
      cb.failed = [this, podCopy](const std::string& m) { event(podCopy, "Warning", "Unhealthy", m); };
      cb.changed = [this, uid] { queue.add(uid); };
      // The startup worker is created first and lives as long as the others.
      cb.startupDone = [csp] { return !csp->startup || csp->startup->success(); };
      return std::make_unique<ProbeWorker>(kind, spec[field], spec, runtime, cs.currentId, pr.net.ip, cb);
    };
    cs.startup = make("startupProbe", ProbeWorker::Kind::Startup);
    cs.liveness = make("livenessProbe", ProbeWorker::Kind::Liveness);
    cs.readiness = make("readinessProbe", ProbeWorker::Kind::Readiness);
  }
  // A failed liveness/startup probe: kill this instance (restart policy decides what follows).
  bool kill = (cs.liveness && cs.liveness->killRequested()) || (cs.startup && cs.startup->killRequested());
  if (kill && !cs.killing) {
    cs.killing = true;
    int64_t grace = podSpec(pod).value("terminationGracePeriodSeconds", 30);
    if (auto g = num(spec.contains("livenessProbe") ? spec["livenessProbe"] : Json(), "terminationGracePeriodSeconds"))
      grace = *g;
    cs.killDeadlineMs = nowMs() + grace * 1000;
    const char* which = cs.startup && cs.startup->killRequested() ? "startup" : "liveness";
    event(pod, "Normal", "Killing", "Container " + cs.name + " failed " + which + " probe, will be restarted");
    try {
      runtime.signal(cs.currentId, SIGTERM);
    } catch (...) {
    }
  } else if (cs.killing && nowMs() > cs.killDeadlineMs) {
    try {
      runtime.signal(cs.currentId, SIGKILL);
    } catch (...) {
    }
  }
}

// One container: start it, watch it, restart it per policy. `blocked` tells
// the caller (init containers) that later containers must wait.
void Kubelet::Impl::syncContainer(PodRuntime& pr, const Json& pod, const Json& spec, ContainerState& cs, bool& blocked) {
  std::string policy = podSpec(pod).value("restartPolicy", "Always");
  if (cs.init && policy == "Always") policy = "OnFailure";  // init containers never restart after success
  int64_t now = nowMs();
  if (cs.currentId.empty()) {
    blocked = true;
    if (now >= cs.retryAtMs) startContainer(pr, pod, spec, cs);
    return;
  }
  auto st = statusOf(cs);
  if (!st) {
    // State vanished (removed behind our back): start again as a new instance.
    blocked = true;
    startContainer(pr, pod, spec, cs);
    return;
  }
  if (st->running) {
    blocked = true;
    handleProbes(pr, pod, spec, cs);
    return;
  }
  // Exited.
  if (cs.exitSeenFor != cs.currentId) {
    cs.exitSeenFor = cs.currentId;
    cs.liveness.reset();
    cs.readiness.reset();
    cs.startup.reset();
    cs.probesFor.clear();
    cs.killing = false;
  }
  if (cs.init && st->exitCode == 0) return;  // done; the next init container may run
  blocked = true;
  if (!shouldRestart(policy, st->exitCode)) {
    cs.waitingReason.clear();
    return;
  }
  std::string key = pr.uid + "/" + cs.name;
  int64_t finished = rfcMs(st->finishedAt);
  {
    std::lock_guard<std::mutex> l(mu);
    if (backoff.inBackoffSince(key, finished ? finished : now, now)) {
      bool first = cs.waitingReason != "CrashLoopBackOff";
      cs.waitingReason = "CrashLoopBackOff";
      cs.waitingMessage = "back-off " + goDuration(backoff.currentMs(key) / 1000) + " restarting failed container=" +
                          cs.name + " pod=" + pr.name + "_" + pr.ns + "(" + pr.uid + ")";
      if (first) event(pod, "Warning", "BackOff", "Back-off restarting failed container " + cs.name + " in pod " +
                                                     pr.name + "_" + pr.ns + "(" + pr.uid + ")");
      int64_t wait = backoff.remainingMs(key, finished ? finished : now, now);
      queue.addAfter(pr.uid, std::chrono::milliseconds(std::max<int64_t>(wait, 50)));
      return;
    }
    backoff.next(key, now);
  }
  startContainer(pr, pod, spec, cs);
}

void Kubelet::Impl::syncPod(PodRuntime& pr, const Json& pod) {
  DeferEvents deferEvents(events);  // recorded when this sync ends, after the status write
  pr.pod = pod;
  // Container bookkeeping follows the spec (names are immutable, but adopt the first time).
  for (const char* list : {"initContainers", "containers"})
    for (const Json* c : containersOf(pod, list)) {
      std::string name = c->value("name", "");
      if (pr.containers.count(name)) continue;
      ContainerState& cs = pr.containers[name];
      cs.name = name;
      cs.init = std::string(list) == "initContainers";
      cs.image = normalizeImageRef(c->value("image", ""));
      std::lock_guard<std::mutex> l(mu);
      auto a = adoptable.find(pr.uid);
      if (a != adoptable.end() && a->second.count(name)) {
        auto instances = a->second[name];
        std::sort(instances.begin(), instances.end());
        cs.restartCount = instances.back();
        cs.currentId = containerId(pr.uid, name, cs.restartCount);
        pr.adopted = true;
        if (auto img = images.find(c->value("image", ""))) cs.imageID = imageIdOf(*img), cs.image = img->ref;
        if (instances.size() > 1) {
          std::string prev = containerId(pr.uid, name, instances[instances.size() - 2]);
          if (auto ps = runtime.status(prev)) cs.lastTerminated = terminatedJson(*ps, prev);
        }
        LOGI(kComp, "re-adopted container pod=" << pr.ns << "/" << pr.name << " container=" << name
                                                << " restartCount=" << cs.restartCount);
      }
    }
  {
    std::lock_guard<std::mutex> l(mu);
    adoptable.erase(pr.uid);
  }

  if (metaOf(pod).contains("deletionTimestamp")) return terminatePod(pr, pod);

  std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
  bool terminal = phase == "Succeeded" || phase == "Failed";
  if (!terminal && !sandboxIntact(pr, pod)) {
    // The containers were just killed with their sandbox: report that, then build a new one.
    writeStatus(pr, pod);
    queue.addAfter(pr.uid, std::chrono::milliseconds(100));
    return;
  }
  if (!terminal) {
    bool ready = false;
    try {
      ready = preparePod(pr, pod);
    } catch (const std::exception& e) {
      event(pod, "Warning", "FailedCreatePodSandBox", std::string("Failed to create pod sandbox: ") + e.what());
      LOGW(kComp, "pod setup failed pod=" << pr.ns << "/" << pr.name << " err=" << e.what());
    }
    if (ready) {
      bool blocked = false;
      for (const Json* c : containersOf(pod, "initContainers")) {
        syncContainer(pr, pod, *c, pr.containers[c->value("name", "")], blocked);
        if (blocked) break;
      }
      if (!blocked)
        for (const Json* c : containersOf(pod, "containers")) {
          bool b = false;
          syncContainer(pr, pod, *c, pr.containers[c->value("name", "")], b);
        }
    }
  }
  writeStatus(pr, pod);
}

std::optional<ContainerStatus> Kubelet::Impl::statusOf(const ContainerState& cs) {
  if (cs.currentId.empty()) return std::nullopt;
  if (auto st = runtime.status(cs.currentId)) return st;
  if (cs.startFailure && cs.startFailure->id == cs.currentId) return cs.startFailure;
  return std::nullopt;
}

ContainerView Kubelet::Impl::viewOf(PodRuntime& pr, const Json& spec, ContainerState& cs, bool initDone) {
  ContainerView v;
  v.name = cs.name;
  v.image = cs.image;
  v.restartCount = cs.restartCount;
  v.lastTerminated = cs.lastTerminated;
  v.imageID = cs.imageID;
  std::optional<ContainerStatus> st = statusOf(cs);
  if (!st) {
    v.state = ContainerView::State::Waiting;
    v.reason = !cs.waitingReason.empty() ? cs.waitingReason : (cs.init || initDone ? "ContainerCreating" : "PodInitializing");
    v.message = cs.waitingMessage;
    if (v.reason == "ContainerCreating" || v.reason == "PodInitializing") v.imageID = "";
    return v;
  }
  v.containerID = "k1s://" + cs.currentId;
  if (st->running) {
    v.state = ContainerView::State::Running;
    v.startedAt = rfc3339OrNow(st->startedAt);
    v.started = !cs.startup || cs.startup->success();
    v.ready = v.started && (!cs.readiness || cs.readiness->success()) && !cs.killing;
    if (cs.init) v.ready = false;
    return v;
  }
  Json t = terminatedJson(*st, cs.currentId);
  if (cs.waitingReason == "CrashLoopBackOff" || (!cs.waitingReason.empty() && cs.currentId != "")) {
    // Waiting to restart: the dead instance is the last state.
    v.state = ContainerView::State::Waiting;
    v.reason = cs.waitingReason;
    v.message = cs.waitingMessage;
    v.lastTerminated = t;
    return v;
  }
  v.state = ContainerView::State::Terminated;
  v.exitCode = st->exitCode;
  v.reason = t["reason"];
  v.message = st->message;
  v.startedAt = t["startedAt"];
  v.finishedAt = t["finishedAt"];
  v.ready = false;
  if (cs.init && st->exitCode == 0) v.ready = true;  // kube reports a finished init container as ready
  // The termination message file (terminationMessagePath) wins over the runtime's.
  std::string termFile = podDir(pr.uid) + "/containers/" + cs.name + "/" + std::to_string(cs.restartCount) + "-termination-log";
  std::ifstream f(termFile);
  std::string msg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!msg.empty()) v.message = msg.substr(0, 4096);
  (void)spec;
  return v;
}

void Kubelet::Impl::writeStatus(PodRuntime& pr, const Json& pod) {
  PodView v;
  v.podIP = pr.networkReady ? pr.net.ip : "";
  v.hostIP = hostIP;
  v.startTime = pr.startTime;
  v.sandboxReady = pr.sandboxReady;
  bool initDone = true;
  for (const Json* c : containersOf(pod, "initContainers")) {
    ContainerView cv = viewOf(pr, *c, pr.containers[c->value("name", "")], true);
    if (!(cv.state == ContainerView::State::Terminated && cv.exitCode == 0)) initDone = false;
    v.init.push_back(cv);
  }
  for (const Json* c : containersOf(pod, "containers")) v.app.push_back(viewOf(pr, *c, pr.containers[c->value("name", "")], initDone));
  Json status = computePodStatus(pod, v, nowRfc3339());
  const Json old = pod.contains("status") ? pod["status"] : Json::object();
  if (!statusChanged(old, status)) return;
  // The server may normalise what we send; unchanged input against an
  // unchanged stored status is no change either.
  if (status == pr.lastWritten && old == pr.lastStored) return;
  Json next = pod;
  next["status"] = status;
  Json stored = client.update(*findResource("", "pods"), pr.ns, next, "status");
  pr.lastWritten = status;
  pr.lastStored = stored.contains("status") ? stored["status"] : Json::object();
  LOGV(2, kComp, "status pod=" << pr.ns << "/" << pr.name << " phase=" << status.value("phase", ""));
}

void Kubelet::Impl::terminatePod(PodRuntime& pr, const Json& pod) {
  int64_t grace = metaOf(pod).value("deletionGracePeriodSeconds", podSpec(pod).value("terminationGracePeriodSeconds", 30));
  if (!pr.terminating) {
    pr.terminating = true;
    pr.terminateDeadlineMs = nowMs() + grace * 1000;
    // preStop hooks, then SIGTERM, on a thread of the pod's own: hooks may take the whole grace period.
    std::vector<std::pair<std::string, Json>> running;  // id, container spec
    for (const Json* c : containersOf(pod, "containers")) {
      auto& cs = pr.containers[c->value("name", "")];
      cs.liveness.reset();
      cs.readiness.reset();
      cs.startup.reset();
      if (cs.currentId.empty()) continue;
      auto st = runtime.status(cs.currentId);
      if (st && st->running) {
        running.emplace_back(cs.currentId, *c);
        event(pod, "Normal", "Killing", "Stopping container " + cs.name);
      }
    }
    for (const Json* c : containersOf(pod, "initContainers")) {
      auto& cs = pr.containers[c->value("name", "")];
      if (!cs.currentId.empty())
        if (auto st = runtime.status(cs.currentId); st && st->running) running.emplace_back(cs.currentId, *c);
    }
    std::string podIP = pr.net.ip;
    std::string uid = pr.uid;
    pr.terminator = std::thread([this, running, podIP, uid, grace, &pr] {
      for (auto& [id, spec] : running) {
        if (spec.contains("lifecycle") && spec["lifecycle"].contains("preStop")) {
          auto r = runAction(spec["lifecycle"]["preStop"], spec, runtime, id, podIP, (int)std::max<int64_t>(grace, 1));
          if (!r.ok) LOGW(kComp, "preStop hook failed container=" << id << " err=" << r.message);
        }
      }
      for (auto& [id, _] : running) {
        try {
          runtime.signal(id, SIGTERM);
        } catch (...) {
        }
      }
      pr.terminatorDone = true;
      queue.add(uid);
    });
  }
  bool anyRunning = false;
  for (auto& [_, cs] : pr.containers)
    if (!cs.currentId.empty())
      if (auto st = runtime.status(cs.currentId); st && st->running) anyRunning = true;
  if (anyRunning) {
    if (nowMs() >= pr.terminateDeadlineMs && !pr.sigkillSent) {
      pr.sigkillSent = true;
      for (auto& [_, cs] : pr.containers)
        if (!cs.currentId.empty()) try {
            runtime.signal(cs.currentId, SIGKILL);
          } catch (...) {
          }
    }
    queue.addAfter(pr.uid, std::chrono::milliseconds(200));
    return;
  }
  cleanupPod(pr, true);
}

void Kubelet::Impl::cleanupPod(PodRuntime& pr, bool deleteFromApi) {
  if (pr.terminator.joinable()) pr.terminator.join();
  for (auto& [_, cs] : pr.containers) cs.liveness.reset(), cs.readiness.reset(), cs.startup.reset();
  std::vector<std::string> ids;
  for (auto& id : runtime.list())
    if (id.rfind(pr.uid + "-", 0) == 0) ids.push_back(id);
  for (auto& id : ids) {
    auto st = runtime.status(id);
    if (st && st->running) {
      try {
        runtime.signal(id, SIGKILL);
      } catch (...) {
      }
      for (int i = 0; i < 100; ++i) {
        auto s = runtime.status(id);
        if (!s || !s->running) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    try {
      runtime.remove(id);
    } catch (std::exception& e) {
      LOGW(kComp, "remove container id=" << id << " err=" << e.what());
    }
  }
  try {
    runtime.removeSandbox(pr.uid);
  } catch (std::exception& e) {
    LOGV(2, kComp, "removeSandbox uid=" << pr.uid << " err=" << e.what());
  }
  try {
    if (!pr.pod.is_object() || !hostNetwork(pr.pod)) network.release(pr.uid);
  } catch (std::exception& e) {
    LOGW(kComp, "release network uid=" << pr.uid << " err=" << e.what());
  }
  teardownVolumes(podDir(pr.uid));
  std::error_code ec;
  fs::remove_all(podDir(pr.uid), ec);
  pr.networkReady = pr.sandboxReady = false;
  if (!deleteFromApi) return;
  DeleteOptions d;
  d.gracePeriodSeconds = 0;
  d.preconditionUid = pr.uid;
  try {
    client.remove(*findResource("", "pods"), pr.ns, pr.name, d);
  } catch (const ApiError& e) {
    if (e.code != 404 && e.code != 409) throw;
  }
  LOGI(kComp, "pod deleted pod=" << pr.ns << "/" << pr.name);
}

}  // namespace k1s
