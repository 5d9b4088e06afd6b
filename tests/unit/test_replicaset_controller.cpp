// The ReplicaSet controller against a real in-process API server (store + registry).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "apiserver/registry.h"
#include "apiserver/store.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/podutil.h"

#include "tests/unit/api_fixture.h"

using namespace k1s;

namespace {

const ResourceInfo& podsRes() { return *findResource("", "pods"); }
const ResourceInfo& rsRes() { return *findResource("apps", "replicasets"); }

struct RsCluster {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Registry> reg;
  std::unique_ptr<Controller> ctl;
  RsCluster() {
    char tmpl[] = "/tmp/k1s-rsctl-XXXXXX";
    dir = mkdtemp(tmpl);
    store = std::make_unique<Store>((dir / "db").string());
    reg = std::make_unique<Registry>(*store, ClusterConfig{});
    reg->bootstrap("127.0.0.1", 6443);
  }
  void start() {
    ControllerOptions o;
    o.nodeName = "node1";
    ctl = makeReplicaSetController(*reg, o);
    ctl->start();
  }
  ~RsCluster() {
    if (ctl) ctl->stop();
    ctl.reset();
    reg.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

using test::eventually;

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

void markReady(Registry& reg, const std::string& name) {
  for (int i = 0; i < 20; ++i) {
    Json p = reg.get(podsRes(), "default", name);
    p["status"]["phase"] = "Running";
    p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"},
                                              {"lastTransitionTime", nowRfc3339()}}});
    try {
      reg.update(podsRes(), "default", p, "status");
      return;
    } catch (const ApiError& e) {
      if (e.code != 409) throw;
    }
  }
  FAIL("could not mark pod ready: " << name);
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
  RsCluster c;
  c.start();
  Json rs = c.reg->create(rsRes(), "default", replicaSet("frontend", 3, "fe"));
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=fe").size() == 3; }));
  for (auto& p : activePods(*c.reg, "app=fe")) {
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
  REQUIRE(eventually([&] {
    return rsStatus(*c.reg, "frontend", "replicas") == 3 && rsStatus(*c.reg, "frontend", "fullyLabeledReplicas") == 3 &&
           rsStatus(*c.reg, "frontend", "observedGeneration") == 1;
  }));
  CHECK(rsStatus(*c.reg, "frontend", "readyReplicas") == 0);
  CHECK(hasEvent(*c.reg, "SuccessfulCreate", "Created pod: frontend-"));

  // Readiness flows into status.
  auto pods = activePods(*c.reg, "app=fe");
  markReady(*c.reg, pods[0]["metadata"]["name"]);
  markReady(*c.reg, pods[1]["metadata"]["name"]);
  CHECK(eventually([&] {
    return rsStatus(*c.reg, "frontend", "readyReplicas") == 2 && rsStatus(*c.reg, "frontend", "availableReplicas") == 2;
  }));
}

TEST_CASE("replicaset controller: a deleted pod is replaced; scaling down deletes not-ready pods first") {
  RsCluster c;
  c.start();
  c.reg->create(rsRes(), "default", replicaSet("web", 3, "web"));
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=web").size() == 3; }));
  std::string victim = activePods(*c.reg, "app=web")[0]["metadata"]["name"];
  c.reg->remove(podsRes(), "default", victim);
  REQUIRE(eventually([&] {
    auto pods = activePods(*c.reg, "app=web");
    if (pods.size() != 3) return false;
    for (auto& p : pods)
      if (p["metadata"]["name"] == victim) return false;
    return true;
  }));

  std::string keeper = activePods(*c.reg, "app=web")[1]["metadata"]["name"];
  markReady(*c.reg, keeper);
  REQUIRE(eventually([&] { return rsStatus(*c.reg, "web", "readyReplicas") == 1; }));
  c.reg->update(rsRes(), "default", {{"metadata", {{"name", "web"}}}, {"spec", {{"replicas", 1}}}}, "scale");
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=web").size() == 1; }));
  CHECK(activePods(*c.reg, "app=web")[0]["metadata"]["name"] == keeper);
  CHECK(eventually([&] { return rsStatus(*c.reg, "web", "replicas") == 1; }));
  CHECK(hasEvent(*c.reg, "SuccessfulDelete", "Deleted pod: web-"));
  // Stays at one: no flapping after the deletions are observed.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(activePods(*c.reg, "app=web").size() == 1);
}

TEST_CASE("replicaset controller: adopts matching orphans, releases pods that stop matching, leaves others' pods") {
  RsCluster c;
  c.reg->create(podsRes(), "default", barePod("orphan", "api"));
  // A matching pod controlled by someone else is neither adopted nor counted.
  Json foreign = barePod("foreign", "api");
  foreign["metadata"]["ownerReferences"] = Json::array(
      {{{"apiVersion", "v1"}, {"kind", "ReplicationController"}, {"name", "x"}, {"uid", "1234"}, {"controller", true}}});
  c.reg->create(podsRes(), "default", foreign);
  c.start();
  Json rs = c.reg->create(rsRes(), "default", replicaSet("api", 2, "api"));
  std::string uid = rs["metadata"]["uid"];
  auto ownedBy = [&](const Json& p) { return controllerUid(p) == uid; };
  REQUIRE(eventually([&] {
    int owned = 0;
    for (auto& p : activePods(*c.reg, "app=api")) owned += ownedBy(p);
    return owned == 2;
  }));
  CHECK(ownedBy(c.reg->get(podsRes(), "default", "orphan")));
  CHECK(controllerUid(c.reg->get(podsRes(), "default", "foreign")) == "1234");
  CHECK(activePods(*c.reg, "app=api").size() == 3);  // orphan + one created + foreign

  // Relabel the adopted pod: it is released and replaced.
  Json p = c.reg->get(podsRes(), "default", "orphan");
  c.reg->patch(podsRes(), "default", "orphan", PatchType::Merge, {{"metadata", {{"labels", {{"app", "other"}}}}}});
  REQUIRE(eventually([&] { return controllerUid(c.reg->get(podsRes(), "default", "orphan")).empty(); }));
  REQUIRE(eventually([&] {
    int owned = 0;
    for (auto& q : activePods(*c.reg, "app=api")) owned += ownedBy(q);
    return owned == 2;
  }));
  CHECK(c.reg->get(podsRes(), "default", "orphan")["metadata"].value("ownerReferences", Json::array()).empty());
}

TEST_CASE("replicaset controller: pods marked for deletion do not count") {
  RsCluster c;
  // A scheduled pod with a node is deleted gracefully: it stays, marked, until its kubelet finishes.
  Json pod = barePod("terminating", "db");
  pod["spec"]["nodeName"] = "node1";
  c.reg->create(podsRes(), "default", pod);
  c.start();
  Json rs = c.reg->create(rsRes(), "default", replicaSet("db", 1, "db"));
  REQUIRE(eventually([&] { return controllerUid(c.reg->get(podsRes(), "default", "terminating")) == rs["metadata"]["uid"]; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(activePods(*c.reg, "app=db").size() == 1);
  c.reg->remove(podsRes(), "default", "terminating");
  CHECK(c.reg->get(podsRes(), "default", "terminating")["metadata"].contains("deletionTimestamp"));
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=db").size() == 1; }));
  CHECK(activePods(*c.reg, "app=db")[0]["metadata"]["name"] != "terminating");
  CHECK(eventually([&] { return rsStatus(*c.reg, "db", "replicas") == 1; }));
}

TEST_CASE("replicaset controller: minReadySeconds delays availability") {
  RsCluster c;
  c.start();
  Json rs = replicaSet("slow", 1, "slow");
  rs["spec"]["minReadySeconds"] = 2;
  c.reg->create(rsRes(), "default", rs);
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=slow").size() == 1; }));
  markReady(*c.reg, activePods(*c.reg, "app=slow")[0]["metadata"]["name"]);
  REQUIRE(eventually([&] { return rsStatus(*c.reg, "slow", "readyReplicas") == 1; }));
  CHECK(rsStatus(*c.reg, "slow", "availableReplicas") == 0);
  // Nothing changes in the API after the pod turns ready: the controller itself comes back.
  CHECK(eventually([&] { return rsStatus(*c.reg, "slow", "availableReplicas") == 1; }, 6000));
}

TEST_CASE("replicaset controller: never creates more pods than asked while its creations arrive") {
  RsCluster c;
  c.start();
  std::string rv = c.reg->list(podsRes(), "default")["metadata"]["resourceVersion"];
  ListOptions lo;
  lo.resourceVersion = rv;
  auto w = c.reg->watch(podsRes(), "default", lo);
  c.reg->create(rsRes(), "default", replicaSet("many", 20, "many"));
  REQUIRE(eventually([&] { return activePods(*c.reg, "app=many").size() == 20; }));
  // Let any over-creation surface, then count every pod ever added.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int added = 0, deleted = 0;
  WatchEvent e;
  while (w->next(e, std::chrono::milliseconds(50))) {
    added += e.type == "ADDED";
    deleted += e.type == "DELETED";
  }
  CHECK(added == 20);
  CHECK(deleted == 0);
  CHECK(eventually([&] { return rsStatus(*c.reg, "many", "replicas") == 20; }));
}
