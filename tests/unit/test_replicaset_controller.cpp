// The ReplicaSet controller, synchronously (controller_fixture.h): caches seeded from a real
// in-process API, sync(key) on the test thread, the writes checked.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>

#include "apiserver/registry.h"
#include "apiserver/store.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/podutil.h"

#include "tests/unit/controller_fixture.h"

using namespace k1s;

namespace {

const ResourceInfo& podsRes() { return *findResource("", "pods"); }
const ResourceInfo& rsRes() { return *findResource("apps", "replicasets"); }

// The controller on a recording client and a fake clock, never started: each test seeds the
// caches from the API (catchUp), calls sync, and checks the writes.
struct Rs : test::SyncHarness {
  Rs() : SyncHarness(makeReplicaSetController, options()) {}
  static ControllerOptions options() {
    ControllerOptions o;
    o.nodeName = "node1";
    return o;
  }
  // The informers see the API as it is now (replica sets first: pod handlers look up owners).
  void observe() {
    catchUp(rsRes());
    catchUp(podsRes());
  }
  void syncRs(const std::string& name) {
    observe();
    sync("default/" + name);
  }
};


Json replicaSet(const std::string& name, int replicas, const std::string& app) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", app}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", app}, {"tier", "web"}}}}},
              {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "nginx"}}})}}}}}}}};
}

Json barePod(const std::string& name, const std::string& app) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
          {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
}

std::vector<Json> activePods(Registry& reg, const std::string& selector) {
  ListOptions lo;
  lo.labelSelector = selector;
  std::vector<Json> out;
  Json all = reg.list(podsRes(), "default", lo);
  for (auto& p : all["items"])
    if (!p["metadata"].contains("deletionTimestamp")) out.push_back(p);
  return out;
}

// Ready since `since` (seconds since the epoch), as the kubelet would report it.
void markReady(Registry& reg, const std::string& name, std::time_t since) {
  Json p = reg.get(podsRes(), "default", name);
  p["status"]["phase"] = "Running";
  p["status"]["conditions"] =
      Json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", test::rfc3339(since)}}});
  reg.update(podsRes(), "default", p, "status");
}

int64_t rsStatus(Registry& reg, const std::string& name, const char* field) {
  Json rs = reg.get(rsRes(), "default", name);
  return rs.value("status", Json::object()).value(field, int64_t(0));
}

bool hasEvent(Registry& reg, const std::string& reason, const std::string& messagePrefix) {
  Json all = reg.list(*findResource("", "events"), "default");
  for (auto& e : all["items"])
    if (e.value("reason", "") == reason && e.value("message", "").rfind(messagePrefix, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("replicaset controller: creates pods from the template, owned and named by generateName") {
  Rs c;
  Json rs = c.reg.create(rsRes(), "default", replicaSet("frontend", 3, "fe"));
  c.syncRs("frontend");
  CHECK(c.client.count("create pods default/frontend-") == 3);
  CHECK(c.client.count("update replicasets/status default/frontend") == 1);
  c.client.take();
  REQUIRE(activePods(c.reg, "app=fe").size() == 3);
  for (auto& p : activePods(c.reg, "app=fe")) {
    std::string name = p["metadata"]["name"];
    CHECK(name.rfind("frontend-", 0) == 0);
    CHECK(name.size() == std::string("frontend-").size() + 5);
    CHECK(p["metadata"]["generateName"] == "frontend-");
    CHECK(p["metadata"]["labels"]["tier"] == "web");
    auto& refs = p["metadata"]["ownerReferences"];
    REQUIRE(refs.size() == 1);
    CHECK(refs[0]["kind"] == "ReplicaSet");
    CHECK(refs[0]["apiVersion"] == "apps/v1");
    CHECK(refs[0]["name"] == "frontend");
    CHECK(refs[0]["uid"] == rs["metadata"]["uid"]);
    CHECK(refs[0]["controller"] == true);
    CHECK(refs[0]["blockOwnerDeletion"] == true);
  }
  CHECK(rsStatus(c.reg, "frontend", "observedGeneration") == 1);
  CHECK(hasEvent(c.reg, "SuccessfulCreate", "Created pod: frontend-"));

  // Once the informer shows the creations, the next sync reports them and creates nothing.
  c.syncRs("frontend");
  CHECK(c.client.take() == std::vector<std::string>{"update replicasets/status default/frontend"});
  CHECK(rsStatus(c.reg, "frontend", "replicas") == 3);
  CHECK(rsStatus(c.reg, "frontend", "fullyLabeledReplicas") == 3);
  CHECK(rsStatus(c.reg, "frontend", "readyReplicas") == 0);

  // Readiness flows into status.
  auto pods = activePods(c.reg, "app=fe");
  markReady(c.reg, pods[0]["metadata"]["name"], c.clock.wallSeconds());
  markReady(c.reg, pods[1]["metadata"]["name"], c.clock.wallSeconds());
  c.syncRs("frontend");
  CHECK(c.client.take() == std::vector<std::string>{"update replicasets/status default/frontend"});
  CHECK(rsStatus(c.reg, "frontend", "readyReplicas") == 2);
  CHECK(rsStatus(c.reg, "frontend", "availableReplicas") == 2);
  // Nothing changed: nothing written.
  c.syncRs("frontend");
  CHECK(c.client.take().empty());
}

TEST_CASE("replicaset controller: a deleted pod is replaced; scaling down deletes not-ready pods first") {
  Rs c;
  c.reg.create(rsRes(), "default", replicaSet("web", 3, "web"));
  c.syncRs("web");
  REQUIRE(activePods(c.reg, "app=web").size() == 3);
  c.observe();
  std::string victim = activePods(c.reg, "app=web")[0]["metadata"]["name"];
  c.reg.remove(podsRes(), "default", victim);
  c.client.take();
  c.syncRs("web");
  CHECK(c.client.count("create pods default/web-") == 1);
  auto pods = activePods(c.reg, "app=web");
  REQUIRE(pods.size() == 3);
  for (auto& p : pods) CHECK(p["metadata"]["name"] != victim);

  std::string keeper = pods[1]["metadata"]["name"];
  markReady(c.reg, keeper, c.clock.wallSeconds());
  c.reg.update(rsRes(), "default", {{"metadata", {{"name", "web"}}}, {"spec", {{"replicas", 1}}}}, "scale");
  c.client.take();
  c.syncRs("web");
  CHECK(c.client.count("delete pods default/web-") == 2);
  REQUIRE(activePods(c.reg, "app=web").size() == 1);
  CHECK(activePods(c.reg, "app=web")[0]["metadata"]["name"] == keeper);
  CHECK(hasEvent(c.reg, "SuccessfulDelete", "Deleted pod: web-"));
  // Once the deletions are observed: no flapping, only the status catches up.
  c.client.take();
  c.syncRs("web");
  CHECK(c.client.take() == std::vector<std::string>{"update replicasets/status default/web"});
  CHECK(rsStatus(c.reg, "web", "replicas") == 1);
  CHECK(rsStatus(c.reg, "web", "readyReplicas") == 1);
}

TEST_CASE("replicaset controller: adopts matching orphans, releases pods that stop matching, leaves others' pods") {
  Rs c;
  c.reg.create(podsRes(), "default", barePod("orphan", "api"));
  // A matching pod controlled by someone else is neither adopted nor counted.
  Json foreign = barePod("foreign", "api");
  foreign["metadata"]["ownerReferences"] = Json::array(
      {{{"apiVersion", "v1"}, {"kind", "ReplicationController"}, {"name", "x"}, {"uid", "1234"}, {"controller", true}}});
  c.reg.create(podsRes(), "default", foreign);
  Json rs = c.reg.create(rsRes(), "default", replicaSet("api", 2, "api"));
  std::string uid = rs["metadata"]["uid"];
  auto owned = [&] {
    int n = 0;
    for (auto& p : activePods(c.reg, "app=api")) n += controllerUid(p) == uid;
    return n;
  };
  c.syncRs("api");
  CHECK(c.client.count("patch pods default/orphan") == 1);  // adopted
  CHECK(c.client.count("create pods") == 1);
  CHECK(c.client.count("patch pods default/foreign") == 0);
  CHECK(owned() == 2);
  CHECK(controllerUid(c.reg.get(podsRes(), "default", "orphan")) == uid);
  CHECK(controllerUid(c.reg.get(podsRes(), "default", "foreign")) == "1234");
  CHECK(activePods(c.reg, "app=api").size() == 3);  // orphan + one created + foreign

  // Relabel the adopted pod: it is released and replaced.
  c.reg.patch(podsRes(), "default", "orphan", PatchType::Merge, {{"metadata", {{"labels", {{"app", "other"}}}}}});
  c.client.take();
  c.syncRs("api");
  CHECK(c.client.count("patch pods default/orphan") == 1);  // released
  CHECK(c.client.count("create pods") == 1);
  CHECK(c.reg.get(podsRes(), "default", "orphan")["metadata"].value("ownerReferences", Json::array()).empty());
  CHECK(owned() == 2);
}

TEST_CASE("replicaset controller: pods marked for deletion do not count") {
  Rs c;
  // A scheduled pod with a node is deleted gracefully: it stays, marked, until its kubelet finishes.
  Json pod = barePod("terminating", "db");
  pod["spec"]["nodeName"] = "node1";
  c.reg.create(podsRes(), "default", pod);
  Json rs = c.reg.create(rsRes(), "default", replicaSet("db", 1, "db"));
  c.syncRs("db");
  CHECK(c.client.count("patch pods default/terminating") == 1);  // adopted, and enough
  CHECK(c.client.count("create pods") == 0);
  CHECK(controllerUid(c.reg.get(podsRes(), "default", "terminating")) == rs["metadata"]["uid"]);
  c.reg.remove(podsRes(), "default", "terminating");
  CHECK(c.reg.get(podsRes(), "default", "terminating")["metadata"].contains("deletionTimestamp"));
  c.client.take();
  c.syncRs("db");
  CHECK(c.client.count("create pods default/db-") == 1);
  REQUIRE(activePods(c.reg, "app=db").size() == 1);
  CHECK(activePods(c.reg, "app=db")[0]["metadata"]["name"] != "terminating");
  c.syncRs("db");
  CHECK(rsStatus(c.reg, "db", "replicas") == 1);
}

TEST_CASE("replicaset controller: minReadySeconds delays availability, and the controller comes back on time") {
  Rs c;
  Json rs = replicaSet("slow", 1, "slow");
  rs["spec"]["minReadySeconds"] = 2;
  c.reg.create(rsRes(), "default", rs);
  c.syncRs("slow");
  REQUIRE(activePods(c.reg, "app=slow").size() == 1);
  markReady(c.reg, activePods(c.reg, "app=slow")[0]["metadata"]["name"], c.clock.wallSeconds());
  c.observe();
  c.drainQueue();  // the keys the informer events queued
  c.sync("default/slow");
  CHECK(rsStatus(c.reg, "slow", "readyReplicas") == 1);
  CHECK(rsStatus(c.reg, "slow", "availableReplicas") == 0);
  // Nothing changes in the API when the pod turns available: the sync asked to come back after
  // minReadySeconds (+1 s for the timestamps' rounding), on the controller's clock.
  CHECK(c.queue().waiting() == 1);
  c.clock.advance(std::chrono::milliseconds(2999));
  CHECK(c.queue().length() == 0);
  c.clock.advance(std::chrono::milliseconds(1));
  CHECK(c.drainQueue() == std::vector<std::string>{"default/slow"});
  c.catchUp(rsRes());  // the status the last sync wrote
  c.sync("default/slow");
  CHECK(rsStatus(c.reg, "slow", "availableReplicas") == 1);
  CHECK(c.queue().waiting() == 0);
}

TEST_CASE("replicaset controller: never creates more pods than asked while its creations arrive") {
  Rs c;
  c.reg.create(rsRes(), "default", replicaSet("many", 20, "many"));
  c.syncRs("many");
  CHECK(c.client.count("create pods") == 20);  // in batches of 1, 2, 4, 8, 5
  c.client.take();
  // The pod informer has shown none of them yet: a sync on its stale cache creates nothing.
  c.catchUp(rsRes());
  c.sync("default/many");
  CHECK(c.client.count("create pods") == 0);
  // Half of them shown: still waiting for the rest.
  auto created = c.reg.listShared(podsRes(), "default").items;
  REQUIRE(created.size() == 20);
  for (size_t i = 0; i < 10; ++i) c.seed(podsRes(), *created[i]);
  c.sync("default/many");
  CHECK(c.client.count("create pods") == 0);
  // All shown: nothing to create or delete.
  c.syncRs("many");
  CHECK(c.client.count("create pods") == 0);
  CHECK(c.client.count("delete pods") == 0);
  CHECK(activePods(c.reg, "app=many").size() == 20);
  CHECK(rsStatus(c.reg, "many", "replicas") == 20);
}
