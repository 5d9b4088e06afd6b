// The scheduler against a real in-process API, run step by step on the test thread
// (controller_fixture.h): binding through pods/binding,
// resource fit, nodeSelector, taints; unschedulable pods get the condition and
// a FailedScheduling event, and are placed once the node grows. Also the
// quantity parser and the event recorder's de-duplication.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/scheduler_fit.h"

#include "tests/unit/controller_fixture.h"

using namespace k1s;

namespace {

using test::Api;

const ResourceInfo& pods() { return *findResource("", "pods"); }
const ResourceInfo& nodes() { return *findResource("", "nodes"); }
const ResourceInfo& events() { return *findResource("", "events"); }

void setNodeCapacity(Registry& reg, const std::string& cpu, const Json& taints = nullptr) {
  Json node;
  try {
    node = reg.get(nodes(), "", "n1");
  } catch (const ApiError&) {
    node = reg.create(nodes(), "", {{"metadata", {{"name", "n1"}, {"labels", {{"disk", "ssd"}}}}}});
  }
  if (!taints.is_null()) {
    node["spec"]["taints"] = taints;
    node = reg.update(nodes(), "", node);
  }
  Json alloc = {{"cpu", cpu}, {"memory", "2Gi"}, {"pods", "110"}};
  node["status"]["capacity"] = alloc;
  node["status"]["allocatable"] = alloc;
  reg.update(nodes(), "", node, "status");
}

Json makePod(const std::string& name, const std::string& cpu, const Json& extraSpec = Json::object()) {
  Json spec = {{"containers",
                {{{"name", "app"}, {"image", "numbers-api:v1"}, {"resources", {{"requests", {{"cpu", cpu}}}}}}}}};
  spec.update(extraSpec);
  return {{"metadata", {{"name", name}}}, {"spec", spec}};
}

Json podScheduled(const Json& pod) {
  for (auto& c : pod["status"].value("conditions", Json::array()))
    if (c["type"] == "PodScheduled") return c;
  return nullptr;
}

std::string nodeOf(Registry& reg, const std::string& pod) {
  return reg.get(pods(), "default", pod)["spec"].value("nodeName", "");
}

Json eventsFor(Registry& reg, const std::string& pod, const std::string& reason) {
  Json out = Json::array();
  Json all = reg.list(events(), "default")["items"];
  for (auto& e : all)
    if (e["involvedObject"]["name"] == pod && e["reason"] == reason) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("quantities are parsed in milli-units") {
  CHECK(parseMilliQuantity("100m") == 100);
  CHECK(parseMilliQuantity("2") == 2000);
  CHECK(parseMilliQuantity("0.5") == 500);
  CHECK(parseMilliQuantity("1Ki") == 1024000);
  CHECK(parseMilliQuantity("1G") == 1000000000000LL);
  CHECK(parseMilliQuantity("1e3") == 1000000);
  CHECK(parseMilliQuantity("abc") == -1);
  CHECK(parseMilliQuantity("1Qi") == -1);
}

TEST_CASE("an unschedulable pod waits with a condition and an event, then lands when the node grows") {
  test::SyncHarness h(makeScheduler);  // run step by step on this thread (controller_fixture.h)
  Registry& reg = h.reg;
  auto settle = [&] { h.settle({&pods(), &nodes()}); };
  setNodeCapacity(reg, "1");

  reg.create(pods(), "default", makePod("small", "500m"));
  settle();
  REQUIRE(nodeOf(reg, "small") == "n1");
  Json small = reg.get(pods(), "default", "small");
  CHECK(podScheduled(small)["status"] == "True");
  settle();
  REQUIRE(eventsFor(reg, "small", "Scheduled").size() == 1);
  Json ev = eventsFor(reg, "small", "Scheduled")[0];
  CHECK(ev["message"] == "Successfully assigned default/small to n1");
  CHECK(ev["type"] == "Normal");
  CHECK(ev["source"]["component"] == "default-scheduler");
  CHECK(ev["involvedObject"]["kind"] == "Pod");
  CHECK(ev["involvedObject"]["uid"] == metaOf(small)["uid"]);
  CHECK(nameOf(ev).rfind("small.", 0) == 0);

  // 500m is left; 2 CPUs do not fit.
  reg.create(pods(), "default", makePod("big", "2"));
  settle();
  REQUIRE(!podScheduled(reg.get(pods(), "default", "big")).is_null());
  Json cond = podScheduled(reg.get(pods(), "default", "big"));
  CHECK(cond["status"] == "False");
  CHECK(cond["reason"] == "Unschedulable");
  std::string msg = cond["message"];
  CHECK(msg.rfind("0/1 nodes are available: 1 Insufficient cpu.", 0) == 0);
  settle();
  REQUIRE(eventsFor(reg, "big", "FailedScheduling").size() == 1);
  Json failed = eventsFor(reg, "big", "FailedScheduling")[0];
  CHECK(failed["type"] == "Warning");
  CHECK(failed["message"] == msg);
  CHECK(nodeOf(reg, "big").empty());
  CHECK(reg.get(pods(), "default", "big")["status"]["phase"] == "Pending");

  setNodeCapacity(reg, "4");
  settle();
  REQUIRE(nodeOf(reg, "big") == "n1");
  CHECK(podScheduled(reg.get(pods(), "default", "big"))["status"] == "True");
}

TEST_CASE("nodeSelector, taints, schedulerName and a preset nodeName are honoured") {
  test::SyncHarness h(makeScheduler);
  Registry& reg = h.reg;
  auto settle = [&] { h.settle({&pods(), &nodes()}); };
  setNodeCapacity(reg, "4", Json::array({{{"key", "dedicated"}, {"value", "lab"}, {"effect", "NoSchedule"}}}));

  reg.create(pods(), "default", makePod("untolerated", "100m"));
  reg.create(pods(), "default",
             makePod("tolerated", "100m",
                     {{"tolerations", {{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "lab"},
                                        {"effect", "NoSchedule"}}}}}));
  reg.create(pods(), "default",
             makePod("wrong-disk", "100m",
                     {{"nodeSelector", {{"disk", "hdd"}}}, {"tolerations", {{{"operator", "Exists"}}}}}));
  reg.create(pods(), "default", makePod("other-scheduler", "100m", {{"schedulerName", "my-scheduler"},
                                                                    {"tolerations", {{{"operator", "Exists"}}}}}));

  settle();

  REQUIRE(nodeOf(reg, "tolerated") == "n1");
  REQUIRE(!podScheduled(reg.get(pods(), "default", "untolerated")).is_null());
  REQUIRE(!podScheduled(reg.get(pods(), "default", "wrong-disk")).is_null());
  CHECK(podScheduled(reg.get(pods(), "default", "untolerated"))["message"].get<std::string>().rfind(
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: lab}.", 0) == 0);
  CHECK(podScheduled(reg.get(pods(), "default", "wrong-disk"))["message"].get<std::string>().rfind(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.", 0) == 0);
  CHECK(nodeOf(reg, "other-scheduler").empty());
  CHECK(podScheduled(reg.get(pods(), "default", "other-scheduler")).is_null());
}

TEST_CASE("binding sets nodeName once; a second binding is a conflict") {
  Api api;
  Registry& reg = *api.reg;
  reg.create(pods(), "default", makePod("p", "100m"));
  Json binding = {{"metadata", {{"name", "p"}}}, {"target", {{"kind", "Node"}, {"name", "n1"}}}};
  reg.update(pods(), "default", binding, "binding");
  Json p = reg.get(pods(), "default", "p");
  CHECK(p["spec"]["nodeName"] == "n1");
  CHECK(podScheduled(p)["status"] == "True");
  try {
    reg.update(pods(), "default", binding, "binding");
    FAIL("expected a conflict");
  } catch (const ApiError& e) {
    CHECK(e.code == 409);
  }
}

TEST_CASE("the event recorder folds repeats into count and lastTimestamp") {
  Api api;
  Registry& reg = *api.reg;
  Json pod = reg.create(pods(), "default", makePod("p", "100m"));
  EventRecorder rec(reg, "test-component", "host-1");
  rec.record(pod, "Warning", "BackOff", "Back-off restarting failed container");
  rec.record(pod, "Warning", "BackOff", "Back-off restarting failed container");
  rec.record(pod, "Normal", "Pulled", "Container image already present on machine");
  Json backoff = eventsFor(reg, "p", "BackOff");
  REQUIRE(backoff.size() == 1);
  CHECK(backoff[0]["count"] == 2);
  CHECK(backoff[0]["source"] == Json({{"component", "test-component"}, {"host", "host-1"}}));
  CHECK(backoff[0]["reportingComponent"] == "test-component");
  CHECK(backoff[0]["involvedObject"]["resourceVersion"] == metaOf(pod)["resourceVersion"]);
  CHECK(eventsFor(reg, "p", "Pulled").size() == 1);
  // Names are "<involved>.<16 hex digits>".
  std::string name = nameOf(backoff[0]);
  CHECK(name.size() == std::string("p.").size() + 16);
}
