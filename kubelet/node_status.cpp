// The Node as kubelet posts it: what kubectl get nodes -o wide and describe node show comes
// from here (labels, capacity, conditions, addresses, nodeInfo), and the Lease that tells the
// control plane this kubelet is alive.
#include "kubelet/node_status.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"

namespace k1s {

namespace {

const char* kComp = "kubelet";
const char* kVersion = "v1.31.0+k1s";  // matches the API server's /version

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

std::string goArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine.size() == 4 && machine[0] == 'i' && machine.substr(2) == "86") return "386";
  return machine;
}

}  // namespace

MachineResources machineResources() {
  MachineResources m;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  m.cpus = cpus > 0 ? cpus : 1;
  // MemTotal, as cAdvisor reads it for kubelet's memory capacity.
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  long long kb;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemTotal:") {
      m.memoryBytes = kb * 1024;
      break;
    }
  }
  struct statvfs s;
  if (statvfs("/", &s) == 0) m.ephemeralStorageBytes = (int64_t)((unsigned long long)s.f_blocks * s.f_frsize);
  return m;
}

NodeStatus::NodeStatus(Client& c, EventRecorder& events, NodeStatusOptions o)
    : client_(c),
      events_(events),
      o_(std::move(o)),
      nodeRes_(*findResource("", "nodes")),
      leaseRes_(*findResource("coordination.k8s.io", "leases")) {}

Json NodeStatus::labels() const {
  utsname u;
  uname(&u);
  return {{"kubernetes.io/hostname", o_.nodeName},
          {"kubernetes.io/os", "linux"},
          {"kubernetes.io/arch", goArch(u.machine)},
          {"beta.kubernetes.io/os", "linux"},
          {"beta.kubernetes.io/arch", goArch(u.machine)},
          {"node-role.kubernetes.io/control-plane", ""}};
}

Json NodeStatus::desiredStatus(const Json& old) const {
  utsname u;
  uname(&u);
  MachineResources m = machineResources();
  Json resources = {{"cpu", std::to_string(m.cpus)},
                    {"memory", std::to_string(m.memoryBytes / 1024) + "Ki"},
                    {"pods", "110"},
                    {"ephemeral-storage", std::to_string(m.ephemeralStorageBytes / 1024) + "Ki"},
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
    Json c = cond(hc.type, hc.status, hc.reason, hc.message);
    bool replaced = false;
    for (auto& have : conditions)
      if (have["type"] == c["type"]) have = c, replaced = true;
    // kubelet lists NetworkUnavailable first (it is set before the pressure conditions).
    if (!replaced) conditions.insert(conditions.begin(), c);
  }
  return {{"capacity", resources},
          {"allocatable", resources},
          {"conditions", conditions},
          {"addresses",
           {{{"type", "InternalIP"}, {"address", o_.nodeIP}}, {{"type", "Hostname"}, {"address", o_.nodeName}}}},
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

void NodeStatus::registerNode() {
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
  nextStatus_ = o_.now() + kStatusPeriod;
  if (created) LOGI(kComp, "registered node name=" << o_.nodeName);
  events_.record(node, "Normal", "Starting", "Starting kubelet.");
  bool ready = true;
  for (auto& hc : o_.hostConditions) ready &= !(hc.type == "Ready" && hc.status != "True");
  if (ready)
    events_.record(node, "Normal", "NodeReady", "Node " + o_.nodeName + " status is now: NodeReady");
  else
    events_.record(node, "Normal", "NodeNotReady", "Node " + o_.nodeName + " status is now: NodeNotReady");
}

void NodeStatus::renewLease() {
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
                 {{"holderIdentity", o_.nodeName},
                  {"leaseDurationSeconds", kLeaseDuration.count()},
                  {"renewTime", nowRfc3339Micro()}}}};
    client_.create(leaseRes_, "kube-node-lease", obj);
    return;
  }
  lease["spec"]["holderIdentity"] = o_.nodeName;
  lease["spec"]["renewTime"] = nowRfc3339Micro();
  client_.update(leaseRes_, "kube-node-lease", lease);
}

void NodeStatus::postStatus() {
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
  nextStatus_ = o_.now() + kStatusPeriod;
}

std::chrono::milliseconds NodeStatus::sync() {
  if (!registered_) registerNode();
  renewLease();
  if (o_.now() >= nextStatus_) postStatus();
  auto untilStatus = std::chrono::duration_cast<std::chrono::milliseconds>(nextStatus_ - o_.now());
  return std::clamp<std::chrono::milliseconds>(untilStatus, std::chrono::milliseconds(1), kLeasePeriod);
}

}  // namespace k1s
