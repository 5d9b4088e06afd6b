// The kubelet's Node against a real in-process API: the Node is registered Ready with this
// machine's capacity and the labels kubectl and users select on, its heartbeat Lease in
// kube-node-lease is renewed every 10 s and its status posted every 40 s (an injected clock,
// no threads), and a restart keeps the Node and its conditions' transition times.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/meta.h"
#include "kubelet/node_status.h"

#include "tests/unit/api_fixture.h"

using namespace k1s;

namespace {

using test::Api;
using Clock = std::chrono::steady_clock;

Json conditionOf(const Json& node, const std::string& type) {
  for (auto& c : node["status"]["conditions"])
    if (c["type"] == type) return c;
  return nullptr;
}

const ResourceInfo& nodes() { return *findResource("", "nodes"); }
const ResourceInfo& leases() { return *findResource("coordination.k8s.io", "leases"); }
std::string rv(const Json& o) { return metaOf(o).value("resourceVersion", ""); }

struct Fixture {
  Api api;
  Registry& reg = *api.reg;
  EventRecorder events{reg, "kubelet", "k1s-node"};
  Clock::time_point now{};
  NodeStatusOptions options() {
    NodeStatusOptions o;
    o.nodeName = "k1s-node";
    o.nodeIP = "10.244.0.1";
    o.podCIDR = "10.244.0.0/24";
    o.now = [this] { return now; };
    return o;
  }
};

}  // namespace

TEST_CASE("the kubelet registers its Node Ready with capacity, labels, addresses and a heartbeat lease") {
  Fixture f;
  Registry& reg = f.reg;
  NodeStatus status(reg, f.events, f.options());
  status.registerNode();

  Json node = reg.get(nodes(), "", "k1s-node");
  auto labels = labelsOf(node);
  CHECK(labels["kubernetes.io/hostname"] == "k1s-node");
  CHECK(labels["kubernetes.io/os"] == "linux");
  CHECK(labels.contains("kubernetes.io/arch"));
  CHECK(labels.contains("node-role.kubernetes.io/control-plane"));
  CHECK(node["spec"]["podCIDR"] == "10.244.0.0/24");
  CHECK(node["spec"]["podCIDRs"] == Json::array({"10.244.0.0/24"}));

  Json ready = conditionOf(node, "Ready");
  REQUIRE(!ready.is_null());
  CHECK(ready["status"] == "True");
  CHECK(ready["reason"] == "KubeletReady");
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure"}) CHECK(conditionOf(node, t)["status"] == "False");

  auto& st = node["status"];
  CHECK(st["capacity"]["cpu"] == std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
  CHECK(st["capacity"]["pods"] == "110");
  CHECK(st["capacity"]["memory"] == std::to_string(machineResources().memoryBytes / 1024) + "Ki");
  CHECK(machineResources().memoryBytes == (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGE_SIZE));
  CHECK(st["allocatable"] == st["capacity"]);
  CHECK(st["addresses"] == Json::parse(R"([{"type":"InternalIP","address":"10.244.0.1"},
                                           {"type":"Hostname","address":"k1s-node"}])"));
  CHECK(st["nodeInfo"]["kubeletVersion"] == "v1.31.0+k1s");
  CHECK(st["nodeInfo"]["containerRuntimeVersion"] == "k1s://0.1.0");
  CHECK(st["nodeInfo"]["operatingSystem"] == "linux");
  CHECK_FALSE(st["nodeInfo"]["osImage"].get<std::string>().empty());
  CHECK_FALSE(st["nodeInfo"]["kernelVersion"].get<std::string>().empty());

  // kubelet's start-up events, on the Node, from the kubelet.
  std::set<std::string> reasons;
  Json events = reg.list(*findResource("", "events"), "default");
  for (auto& e : events["items"]) {
    CHECK(e["source"]["component"] == "kubelet");
    CHECK(e["involvedObject"]["kind"] == "Node");
    reasons.insert(e.value("reason", ""));
  }
  CHECK(reasons == std::set<std::string>{"Starting", "NodeReady"});

  // The first heartbeat creates the lease, owned by the Node so it goes with it.
  CHECK(status.sync() == NodeStatus::kLeasePeriod);
  Json lease = reg.get(leases(), "kube-node-lease", "k1s-node");
  CHECK(lease["spec"]["holderIdentity"] == "k1s-node");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 40);
  CHECK(metaOf(lease)["ownerReferences"][0]["uid"] == metaOf(node)["uid"]);

  // A restart keeps the node and its conditions' transition times.
  NodeStatus again(reg, f.events, f.options());
  again.registerNode();
  Json node2 = reg.get(nodes(), "", "k1s-node");
  CHECK(metaOf(node2)["uid"] == metaOf(node)["uid"]);
  CHECK(conditionOf(node2, "Ready")["lastTransitionTime"] == ready["lastTransitionTime"]);
}

TEST_CASE("heartbeats: the lease every 10 s, the status every 40 s, a deleted Node registers again") {
  Fixture f;
  Registry& reg = f.reg;
  NodeStatus status(reg, f.events, f.options());
  // sync() registers when registration at start failed.
  CHECK(status.sync() == NodeStatus::kLeasePeriod);
  Json lease = reg.get(leases(), "kube-node-lease", "k1s-node");
  // Someone else's write to the status: only the status post (every 40 s) puts it back. (A post
  // that changes nothing would not be seen: the heartbeat times have a resolution of seconds.)
  Json node = reg.get(nodes(), "", "k1s-node");
  node["status"]["capacity"]["pods"] = "1";
  node = reg.update(nodes(), "", node, "status");

  for (int i = 1; i <= 3; ++i) {  // 10 s, 20 s, 30 s: only the lease is written
    f.now += NodeStatus::kLeasePeriod;
    CHECK(status.sync() == NodeStatus::kLeasePeriod);
    Json l = reg.get(leases(), "kube-node-lease", "k1s-node");
    CHECK(rv(l) != rv(lease));
    lease = l;
    CHECK(rv(reg.get(nodes(), "", "k1s-node")) == rv(node));
  }
  f.now += NodeStatus::kLeasePeriod;  // 40 s: the status too
  CHECK(status.sync() == NodeStatus::kLeasePeriod);
  Json posted = reg.get(nodes(), "", "k1s-node");
  CHECK(rv(posted) != rv(node));
  CHECK(posted["status"]["capacity"]["pods"] == "110");
  CHECK(metaOf(posted)["uid"] == metaOf(node)["uid"]);

  // Between two lease renewals the next status falls due: sync() comes back for it.
  f.now += NodeStatus::kStatusPeriod - std::chrono::seconds(3);
  CHECK(status.sync() == std::chrono::seconds(3));

  reg.remove(nodes(), "", "k1s-node");
  f.now += std::chrono::seconds(3);
  status.sync();
  Json back = reg.get(nodes(), "", "k1s-node");
  CHECK(metaOf(back)["uid"] != metaOf(node)["uid"]);
  CHECK(conditionOf(back, "Ready")["status"] == "True");
}

TEST_CASE("host check conditions: NetworkUnavailable is added, a Ready from the checks replaces the default") {
  Fixture f;
  Registry& reg = f.reg;
  NodeStatusOptions o = f.options();
  o.hostConditions = {{"NetworkUnavailable", "True", "NoRouteCreated", "ip_forward is 0"},
                      {"Ready", "False", "KubeletNotReady", "container runtime is down: overlayfs"}};
  NodeStatus status(reg, f.events, o);
  status.registerNode();
  Json node = reg.get(nodes(), "", "k1s-node");
  Json net = conditionOf(node, "NetworkUnavailable");
  REQUIRE(!net.is_null());
  CHECK(net["status"] == "True");
  CHECK(net["reason"] == "NoRouteCreated");
  CHECK(net["message"] == "ip_forward is 0");
  CHECK(node["status"]["conditions"][0]["type"] == "NetworkUnavailable");  // first, as kubelet lists it
  Json ready = conditionOf(node, "Ready");
  CHECK(ready["status"] == "False");
  CHECK(ready["reason"] == "KubeletNotReady");
  size_t readies = 0;
  for (auto& c : node["status"]["conditions"]) readies += c["type"] == "Ready";
  CHECK(readies == 1);
  bool notReadyEvent = false;
  Json events = reg.list(*findResource("", "events"), "default");
  for (auto& e : events["items"])
    notReadyEvent |= e.value("reason", "") == "NodeNotReady";
  CHECK(notReadyEvent);
}
