// The node controller against a real in-process API: the Node is registered
// Ready with this machine's capacity and the labels kubectl and users select
// on, and its heartbeat Lease exists in kube-node-lease.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"

#include "tests/unit/api_fixture.h"

using namespace k1s;

namespace {

using test::Api;

Json conditionOf(const Json& node, const std::string& type) {
  for (auto& c : node["status"]["conditions"])
    if (c["type"] == type) return c;
  return nullptr;
}

}  // namespace

TEST_CASE("the node registers Ready with capacity, labels, addresses and a heartbeat lease") {
  Api api;
  Registry& reg = *api.reg;
  ControllerOptions o;
  o.nodeName = "k1s-node";
  o.nodeIP = "10.244.0.1";
  o.podCIDR = "10.244.0.0/24";
  auto ctl = makeNodeController(reg, o);
  ctl->start();  // registers before returning

  Json node = reg.get(*findResource("", "nodes"), "", "k1s-node");
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
  CHECK(st["capacity"]["memory"].get<std::string>().find("Ki") != std::string::npos);
  CHECK(st["allocatable"] == st["capacity"]);
  CHECK(st["addresses"] == Json::parse(R"([{"type":"InternalIP","address":"10.244.0.1"},
                                           {"type":"Hostname","address":"k1s-node"}])"));
  CHECK(st["nodeInfo"]["kubeletVersion"] == "v1.31.0+k1s");
  CHECK(st["nodeInfo"]["containerRuntimeVersion"] == "k1s://0.1.0");
  CHECK(st["nodeInfo"]["operatingSystem"] == "linux");
  CHECK_FALSE(st["nodeInfo"]["osImage"].get<std::string>().empty());
  CHECK_FALSE(st["nodeInfo"]["kernelVersion"].get<std::string>().empty());

  // The lease is written by the heartbeat loop right after registration.
  auto& leases = *findResource("coordination.k8s.io", "leases");
  Json lease;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (lease.is_null() && std::chrono::steady_clock::now() < until) {
    try {
      lease = reg.get(leases, "kube-node-lease", "k1s-node");
    } catch (const ApiError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  REQUIRE(!lease.is_null());
  CHECK(lease["spec"]["holderIdentity"] == "k1s-node");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 40);
  CHECK(metaOf(lease)["ownerReferences"][0]["uid"] == metaOf(node)["uid"]);
  ctl->stop();

  // A restart keeps the node and its conditions' transition times.
  auto again = makeNodeController(reg, o);
  again->start();
  Json node2 = reg.get(*findResource("", "nodes"), "", "k1s-node");
  CHECK(metaOf(node2)["uid"] == metaOf(node)["uid"]);
  CHECK(conditionOf(node2, "Ready")["lastTransitionTime"] == ready["lastTransitionTime"]);
  again->stop();
}

TEST_CASE("the controller manager runs every controller together and stops cleanly") {
  Api api;
  Registry& reg = *api.reg;
  ControllerOptions o;
  o.nodeName = "k1s-node";
  ControllerManager cm(reg, o);
  cm.start();
  // A pod goes through the scheduler to the registered node; the service gets its endpoints objects.
  reg.create(*findResource("", "pods"), "default",
             {{"metadata", {{"name", "p"}, {"labels", {{"app", "p"}}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "numbers-api:v1"}}}}}}});
  reg.create(*findResource("", "services"), "default",
             {{"metadata", {{"name", "p"}}}, {"spec", {{"selector", {{"app", "p"}}}, {"ports", {{{"port", 80}}}}}}});
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto ready = [&] {
    try {
      ListOptions lo;
      lo.labelSelector = "kubernetes.io/service-name=p";
      return reg.get(*findResource("", "pods"), "default", "p")["spec"].value("nodeName", "") == "k1s-node" &&
             !reg.get(*findResource("", "endpoints"), "default", "p").is_null() &&
             reg.list(*findResource("discovery.k8s.io", "endpointslices"), "default", lo)["items"].size() == 1 &&
             !reg.get(*findResource("", "serviceaccounts"), "default", "default").is_null();
    } catch (const ApiError&) {
      return false;
    }
  };
  while (!ready() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(ready());
  cm.stop();
}

TEST_CASE("host check conditions: NetworkUnavailable is added, a Ready from the checks replaces the default") {
  Api api;
  Registry& reg = *api.reg;
  ControllerOptions o;
  o.nodeName = "k1s-node";
  o.hostConditions = Json::parse(R"([
    {"type":"NetworkUnavailable","status":"True","reason":"NoRouteCreated","message":"ip_forward is 0"},
    {"type":"Ready","status":"False","reason":"KubeletNotReady","message":"container runtime is down: overlayfs"}])");
  auto ctl = makeNodeController(reg, o);
  ctl->start();
  Json node = reg.get(*findResource("", "nodes"), "", "k1s-node");
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
  ctl->stop();
}
