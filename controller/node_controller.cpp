// The node controller: registers the one Node (what kubelet does at start),
// keeps its heartbeat Lease in kube-node-lease renewed every 10 s and
// refreshes the Ready condition's lastHeartbeatTime every 40 s (the node
// status update period kube uses when leases carry the heartbeat).
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <thread>

#include "common/errors.h"
#include "common/events.h"
#include "common/log.h"
#include "common/meta.h"
#include "controller/controller.h"

namespace k1s {

namespace {

const char* kComponent = "node-controller";
const char* kVersion = "v1.31.0+k1s";  // matches the API server's /version
constexpr auto kLeasePeriod = std::chrono::seconds(10);
constexpr auto kStatusPeriod = std::chrono::seconds(40);

std::string readFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::string osImage() {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  return "Linux";
}

std::string memoryKi() {
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  long long kb;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemTotal:") return std::to_string(kb) + "Ki";
  }
  return "0";
}

std::string ephemeralStorageKi() {
  struct statvfs s;
  if (statvfs("/", &s) != 0) return "0";
  return std::to_string((unsigned long long)s.f_blocks * s.f_frsize / 1024) + "Ki";
}

std::string goArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine.size() == 4 && machine[0] == 'i' && machine.substr(2) == "86") return "386";
  return machine;
}

std::string hostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

class NodeController : public Controller {
 public:
  NodeController(Client& c, const ControllerOptions& o)
      : client_(c),
        o_(o),
        nodeRes_(*findResource("", "nodes")),
        leaseRes_(*findResource("coordination.k8s.io", "leases")),
        events_(c, "kubelet", o.nodeName.empty() ? hostName() : o.nodeName) {
    if (o_.nodeName.empty()) o_.nodeName = hostName();
  }
  ~NodeController() override { stop(); }

  const char* name() const override { return kComponent; }

  void start() override {
    stopping_ = false;
    // Register synchronously so the scheduler sees a node as soon as we return.
    try {
      registerNode();
    } catch (const std::exception& e) {
      LOGW(kComponent, "node registration failed, will retry err=" << e.what());
    }
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    auto nextStatus = std::chrono::steady_clock::now() + kStatusPeriod;
    for (;;) {
      try {
        if (!registered_) registerNode();
        renewLease();
        if (std::chrono::steady_clock::now() >= nextStatus) {
          heartbeat();
          nextStatus = std::chrono::steady_clock::now() + kStatusPeriod;
        }
      } catch (const std::exception& e) {
        LOGW(kComponent, "node heartbeat failed err=" << e.what());
      }
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, registered_ ? std::chrono::duration_cast<std::chrono::milliseconds>(kLeasePeriod)
                                      : std::chrono::milliseconds(500),
                       [this] { return stopping_; }))
        return;
    }
  }

  Json labels() const {
    utsname u;
    uname(&u);
    return {{"kubernetes.io/hostname", o_.nodeName},
            {"kubernetes.io/os", "linux"},
            {"kubernetes.io/arch", goArch(u.machine)},
            {"beta.kubernetes.io/os", "linux"},
            {"beta.kubernetes.io/arch", goArch(u.machine)},
            {"node-role.kubernetes.io/control-plane", ""}};
  }

  Json desiredStatus(const Json& old) const {
    utsname u;
    uname(&u);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    Json resources = {{"cpu", std::to_string(cpus > 0 ? cpus : 1)},
                      {"memory", memoryKi()},
                      {"pods", "110"},
                      {"ephemeral-storage", ephemeralStorageKi()},
                      {"hugepages-1Gi", "0"},
                      {"hugepages-2Mi", "0"}};
    std::string machineId = readFirstLine("/etc/machine-id");
    std::string systemUuid = readFirstLine("/sys/class/dmi/id/product_uuid");
    std::string now = nowRfc3339();
    auto cond = [&](const std::string& type, const std::string& status, const std::string& reason,
                    const std::string& message) {
      Json c = {{"type", type}, {"status", status}, {"lastHeartbeatTime", now}, {"lastTransitionTime", now},
                {"reason", reason}, {"message", message}};
      // The transition time moves only when the status does.
      if (old.contains("status") && old["status"].contains("conditions"))
        for (auto& oc : old["status"]["conditions"])
          if (oc.value("type", "") == type && oc.value("status", "") == status)
            c["lastTransitionTime"] = oc.value("lastTransitionTime", now);
      return c;
    };
    Json conditions = {
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")};
    for (auto& hc : o_.hostConditions) {
      Json c = cond(hc.value("type", ""), hc.value("status", ""), hc.value("reason", ""), hc.value("message", ""));
      bool replaced = false;
      for (auto& have : conditions)
        if (have["type"] == c["type"]) have = c, replaced = true;
      // kubelet lists NetworkUnavailable first (it is set before the pressure conditions).
      if (!replaced) conditions.insert(conditions.begin(), c);
    }
    return {{"capacity", resources},
            {"allocatable", resources},
            {"conditions", conditions},
            {"addresses", {{{"type", "InternalIP"}, {"address", o_.nodeIP}}, {{"type", "Hostname"}, {"address", o_.nodeName}}}},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
            {"nodeInfo",
             {{"machineID", machineId},
              {"systemUUID", systemUuid.empty() ? machineId : systemUuid},
              {"bootID", readFirstLine("/proc/sys/kernel/random/boot_id")},
              {"kernelVersion", u.release},
              {"osImage", osImage()},
              {"containerRuntimeVersion", "k1s://0.1.0"},
              {"kubeletVersion", kVersion},
              {"kubeProxyVersion", kVersion},
              {"operatingSystem", "linux"},
              {"architecture", goArch(u.machine)}}}};
  }

  void registerNode() {
    Json node;
    bool created = false;
    try {
      node = client_.get(nodeRes_, "", o_.nodeName);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
    if (node.is_null()) {
      Json obj = {{"metadata", {{"name", o_.nodeName}, {"labels", labels()}}},
                  {"spec", {{"podCIDR", o_.podCIDR}, {"podCIDRs", {o_.podCIDR}}}}};
      obj["status"] = desiredStatus(Json::object());
      node = client_.create(nodeRes_, "", obj);
      created = true;
    } else {
      Json next = node;
      Json want = labels();
      for (auto& [k, v] : want.items()) next["metadata"]["labels"][k] = v;
      if (next["spec"].value("podCIDR", "").empty()) {
        next["spec"]["podCIDR"] = o_.podCIDR;
        next["spec"]["podCIDRs"] = Json::array({o_.podCIDR});
      }
      if (next != node) node = client_.update(nodeRes_, "", next);
    }
    Json withStatus = node;
    withStatus["status"] = desiredStatus(node);
    node = client_.update(nodeRes_, "", withStatus, "status");
    nodeUid_ = metaOf(node).value("uid", "");
    registered_ = true;
    if (created) LOGI(kComponent, "registered node name=" << o_.nodeName);
    events_.record(node, "Normal", "Starting", "Starting kubelet.");
    bool ready = true;
    for (auto& hc : o_.hostConditions) ready &= !(hc.value("type", "") == "Ready" && hc.value("status", "") != "True");
    if (ready)
      events_.record(node, "Normal", "NodeReady", "Node " + o_.nodeName + " status is now: NodeReady");
    else
      events_.record(node, "Normal", "NodeNotReady", "Node " + o_.nodeName + " status is now: NodeNotReady");
  }

  void renewLease() {
    Json lease;
    try {
      lease = client_.get(leaseRes_, "kube-node-lease", o_.nodeName);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
    }
    if (lease.is_null()) {
      Json obj = {{"metadata",
                   {{"name", o_.nodeName},
                    {"namespace", "kube-node-lease"},
                    {"ownerReferences",
                     {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", o_.nodeName}, {"uid", nodeUid_}}}}}},
                  {"spec",
                   {{"holderIdentity", o_.nodeName}, {"leaseDurationSeconds", 40}, {"renewTime", nowRfc3339Micro()}}}};
      client_.create(leaseRes_, "kube-node-lease", obj);
      return;
    }
    lease["spec"]["holderIdentity"] = o_.nodeName;
    lease["spec"]["renewTime"] = nowRfc3339Micro();
    client_.update(leaseRes_, "kube-node-lease", lease);
  }

  void heartbeat() {
    Json node;
    try {
      node = client_.get(nodeRes_, "", o_.nodeName);
    } catch (const ApiError& e) {
      if (e.code != 404) throw;
      registered_ = false;  // deleted under us: register again
      registerNode();
      return;
    }
    Json next = node;
    next["status"] = desiredStatus(node);
    client_.update(nodeRes_, "", next, "status");
  }

  Client& client_;
  ControllerOptions o_;
  const ResourceInfo& nodeRes_;
  const ResourceInfo& leaseRes_;
  EventRecorder events_;
  std::string nodeUid_;
  bool registered_ = false;  // touched by start() before the thread runs, then only by it
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Controller> makeNodeController(Client& c, const ControllerOptions& o) {
  return std::make_unique<NodeController>(c, o);
}

}  // namespace k1s
