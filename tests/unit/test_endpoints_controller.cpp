// Endpoints and EndpointSlice controllers against a real in-process API, run step by step on
// the test thread (controller_fixture.h): pod readiness and IP changes, named target ports,
// terminating pods, selectorless Services, Service deletion.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <set>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"

#include "tests/unit/controller_fixture.h"

using namespace k1s;

namespace {

const ResourceInfo& res(const std::string& group, const std::string& plural) { return *findResource(group, plural); }

Json makePod(const std::string& name, const Json& labels, int containerPort = 8080) {
  return {{"metadata", {{"name", name}, {"labels", labels}}},
          {"spec",
           {{"containers",
             {{{"name", "app"}, {"image", "numbers-api:v1"},
               {"ports", {{{"name", "web"}, {"containerPort", containerPort}}}}}}}}}};
}

// What a kubelet would report: an IP and a Ready condition.
void setPodStatus(Registry& reg, const std::string& name, const std::string& ip, bool ready) {
  Json pod = reg.get(res("", "pods"), "default", name);
  pod["status"]["phase"] = "Running";
  pod["status"]["podIP"] = ip;
  pod["status"]["conditions"] = {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
  reg.update(res("", "pods"), "default", pod, "status");
}

Json webService() {
  return {{"metadata", {{"name", "web"}, {"labels", {{"tier", "front"}}}}},
          {"spec",
           {{"selector", {{"app", "web"}}},
            {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", "web"}, {"protocol", "TCP"}}}}}}};
}

Json endpointsOf(Registry& reg, const std::string& name) { return reg.get(res("", "endpoints"), "default", name); }

}  // namespace

TEST_CASE("endpoints follow pod readiness, IP changes and named target ports") {
  test::SyncHarness h(makeEndpointsController);
  Registry& reg = h.reg;
  auto settle = [&] { h.settle({&res("", "services"), &res("", "pods"), &res("", "endpoints")}); };

  reg.create(res("", "services"), "default", webService());
  reg.create(res("", "pods"), "default", makePod("web-1", {{"app", "web"}}));
  reg.create(res("", "pods"), "default", makePod("other", {{"app", "db"}}));
  setPodStatus(reg, "other", "10.244.0.9", true);

  // A pod without an IP is not an endpoint yet.
  settle();
  REQUIRE(endpointsOf(reg, "web").value("subsets", Json::array()).empty());
  CHECK(labelsOf(endpointsOf(reg, "web"))["tier"] == "front");

  setPodStatus(reg, "web-1", "10.244.0.5", false);
  settle();
  REQUIRE(endpointsOf(reg, "web").value("subsets", Json::array()).size() == 1);
  Json subset = endpointsOf(reg, "web")["subsets"][0];
  CHECK_FALSE(subset.contains("addresses"));
  CHECK(subset["notReadyAddresses"][0]["ip"] == "10.244.0.5");
  CHECK(subset["notReadyAddresses"][0]["targetRef"]["kind"] == "Pod");
  CHECK(subset["notReadyAddresses"][0]["targetRef"]["name"] == "web-1");
  CHECK(subset["ports"] == Json::parse(R"([{"name":"http","port":8080,"protocol":"TCP"}])"));

  setPodStatus(reg, "web-1", "10.244.0.5", true);
  settle();
  subset = endpointsOf(reg, "web")["subsets"][0];
  CHECK(endpointsOf(reg, "web")["subsets"].size() == 1);
  CHECK(subset.contains("addresses"));
  CHECK_FALSE(subset.contains("notReadyAddresses"));

  setPodStatus(reg, "web-1", "10.244.0.7", true);
  settle();
  CHECK(endpointsOf(reg, "web")["subsets"][0]["addresses"][0]["ip"] == "10.244.0.7");

  // A second pod whose named port resolves differently lands in its own subset.
  reg.create(res("", "pods"), "default", makePod("web-2", {{"app", "web"}}, 9090));
  setPodStatus(reg, "web-2", "10.244.0.8", true);
  settle();
  REQUIRE(endpointsOf(reg, "web")["subsets"].size() == 2);
  std::set<int> ports;
  Json two = endpointsOf(reg, "web");
  for (auto& s : two["subsets"]) ports.insert(s["ports"][0]["port"].get<int>());
  CHECK(ports == std::set<int>{8080, 9090});

  // Terminating pods leave the Endpoints (a finalizer keeps this one around).
  Json w2 = reg.get(res("", "pods"), "default", "web-2");
  w2["metadata"]["finalizers"] = {"example.com/hold"};
  reg.update(res("", "pods"), "default", w2);
  reg.remove(res("", "pods"), "default", "web-2");
  settle();
  REQUIRE(endpointsOf(reg, "web")["subsets"].size() == 1);
  CHECK(endpointsOf(reg, "web")["subsets"][0]["addresses"][0]["targetRef"]["name"] == "web-1");

  // Deleting the Service deletes its Endpoints.
  reg.remove(res("", "services"), "default", "web");
  settle();
  CHECK_THROWS_AS(endpointsOf(reg, "web"), ApiError);
}

TEST_CASE("endpoints of selectorless services and of the kubernetes service are left alone") {
  // Run step by step on this thread (controller_fixture.h), so "nothing is written" is exact.
  test::SyncHarness h(makeEndpointsController);
  Registry& reg = h.reg;
  reg.create(res("", "services"), "default",
             {{"metadata", {{"name", "external"}}}, {"spec", {{"ports", {{{"port", 5432}}}}}}});
  Json ep = {{"metadata", {{"name", "external"}}},
             {"subsets", {{{"addresses", {{{"ip", "192.168.1.10"}}}}, {"ports", {{{"port", 5432}}}}}}}};
  reg.create(res("", "endpoints"), "default", ep);
  Json kube = endpointsOf(reg, "kubernetes");
  // Every key the informers' events queue (both Services among them) is synced: no write.
  h.settle({&res("", "services"), &res("", "pods"), &res("", "endpoints")});
  h.sync("default/external");
  h.sync("default/kubernetes");
  CHECK(h.client.take().empty());
  CHECK(endpointsOf(reg, "external")["subsets"][0]["addresses"][0]["ip"] == "192.168.1.10");
  CHECK(endpointsOf(reg, "kubernetes") == kube);
}

TEST_CASE("endpointslices mirror the service's pods with conditions, ports and an owner") {
  test::SyncHarness h(makeEndpointSliceController);
  Registry& reg = h.reg;
  auto& sliceRes = res("discovery.k8s.io", "endpointslices");
  ListOptions managed;
  managed.labelSelector = "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io";
  auto settle = [&] { h.settle({&res("", "services"), &res("", "pods"), {&sliceRes, managed}}); };
  Json svc = reg.create(res("", "services"), "default", webService());
  ListOptions lo;
  lo.labelSelector = "kubernetes.io/service-name=web";
  auto slices = [&] { return reg.list(sliceRes, "default", lo)["items"]; };

  // No pods yet: one empty placeholder slice.
  settle();
  REQUIRE(slices().size() == 1);
  Json s = slices()[0];
  CHECK(nameOf(s).rfind("web-", 0) == 0);
  CHECK(nameOf(s).size() == 9);
  CHECK(s["addressType"] == "IPv4");
  CHECK(labelsOf(s)["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io");
  CHECK(labelsOf(s)["tier"] == "front");
  CHECK(metaOf(s)["ownerReferences"][0]["kind"] == "Service");
  CHECK(metaOf(s)["ownerReferences"][0]["uid"] == metaOf(svc)["uid"]);

  reg.create(res("", "pods"), "default", makePod("web-1", {{"app", "web"}}));
  setPodStatus(reg, "web-1", "10.244.0.5", true);
  settle();
  REQUIRE(slices().size() == 1);
  REQUIRE(slices()[0].value("endpoints", Json::array()).size() == 1);
  s = slices()[0];
  CHECK(s["ports"] == Json::parse(R"([{"name":"http","port":8080,"protocol":"TCP"}])"));
  Json ep = s["endpoints"][0];
  CHECK(ep["addresses"] == Json::array({"10.244.0.5"}));
  CHECK(ep["conditions"] == Json::parse(R"({"ready":true,"serving":true,"terminating":false})"));
  CHECK(ep["targetRef"]["name"] == "web-1");

  // A terminating pod stays in the slice, marked terminating and not ready.
  Json pod = reg.get(res("", "pods"), "default", "web-1");
  pod["metadata"]["finalizers"] = {"example.com/hold"};
  reg.update(res("", "pods"), "default", pod);
  reg.remove(res("", "pods"), "default", "web-1");
  settle();
  REQUIRE(slices().size() == 1);
  CHECK(slices()[0]["endpoints"][0]["conditions"]["terminating"] == true);
  CHECK(slices()[0]["endpoints"][0]["conditions"]["ready"] == false);
  CHECK(slices()[0]["endpoints"][0]["conditions"]["serving"] == true);

  reg.remove(res("", "services"), "default", "web");
  settle();
  CHECK(slices().empty());
}
