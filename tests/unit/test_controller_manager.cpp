// The controller manager against a real in-process API: every controller runs together (a
// pod is scheduled to the Node the kubelet registered, its Service gets Endpoints and an
// EndpointSlice, the namespace its ServiceAccount) and stops cleanly.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/informer_factory.h"
#include "controller/controller.h"
#include "kubelet/node_status.h"

#include "tests/unit/api_fixture.h"

using namespace k1s;

TEST_CASE("the controller manager runs every controller together and stops cleanly") {
  test::Api api;
  Registry& reg = *api.reg;
  ControllerOptions o;
  o.nodeName = "k1s-node";
  ControllerManager cm(reg, o);
  cm.start();
  // The Node is the kubelet's; registered after the scheduler started, as in the daemon.
  EventRecorder events(reg, "kubelet", "k1s-node");
  NodeStatusOptions no;
  no.nodeName = "k1s-node";
  no.nodeIP = "10.244.0.1";
  no.podCIDR = "10.244.0.0/24";
  NodeStatus(reg, events, no).registerNode();
  reg.create(*findResource("", "pods"), "default",
             {{"metadata", {{"name", "p"}, {"labels", {{"app", "p"}}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "numbers-api:v1"}}}}}}});
  reg.create(*findResource("", "services"), "default",
             {{"metadata", {{"name", "p"}}}, {"spec", {{"selector", {{"app", "p"}}}, {"ports", {{{"port", 80}}}}}}});
  auto readyNow = [&] {
    ListOptions lo;
    lo.labelSelector = "kubernetes.io/service-name=p";
    return reg.get(*findResource("", "pods"), "default", "p")["spec"].value("nodeName", "") == "k1s-node" &&
           !reg.get(*findResource("", "endpoints"), "default", "p").is_null() &&
           reg.list(*findResource("discovery.k8s.io", "endpointslices"), "default", lo)["items"].size() == 1 &&
           !reg.get(*findResource("", "serviceaccounts"), "default", "default").is_null();
  };
  auto ready = [&] {
    try {
      return readyNow();
    } catch (const ApiError&) {  // not made yet (404)
      return false;
    }
  };
  // Woken by every change of the kinds the check reads (shared informers), never by a timer.
  std::mutex mu;
  std::condition_variable changed;
  auto notify = [&] {
    std::lock_guard<std::mutex> l(mu);
    changed.notify_all();
  };
  InformerSet watch(reg);
  for (auto* r : {findResource("", "pods"), findResource("", "endpoints"),
                  findResource("discovery.k8s.io", "endpointslices"), findResource("", "serviceaccounts")})
    watch.on(watch.use(*r), {[&](const Json&) { notify(); }, [&](const Json&, const Json&) { notify(); },
                             [&](const Json&) { notify(); }});
  REQUIRE(watch.start());
  {
    std::unique_lock<std::mutex> l(mu);
    CHECK(changed.wait_for(l, std::chrono::seconds(10), ready));
  }
  watch.stop();
  cm.stop();
}
