// The Deployment controller (with the ReplicaSet controller) against a real in-process API
// server, run step by step on the test thread (controller_fixture.h). Pods stay Pending without
// a kubelet; the tests mark them Ready through the status subresource to drive rollouts.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <set>

#include "apiserver/registry.h"
#include "apiserver/store.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "controller/podutil.h"

#include "tests/unit/controller_fixture.h"

using namespace k1s;

namespace {

const ResourceInfo& podR() { return *findResource("", "pods"); }
const ResourceInfo& rsR() { return *findResource("apps", "replicasets"); }
const ResourceInfo& deployR() { return *findResource("apps", "deployments"); }

// The Deployment and ReplicaSet controllers on a recording client and a fake clock, never
// started: settle() runs them step by step (informers catch up, queued keys synced) until
// nothing is left to do, so every check sees the state they settle in, and a check that
// "nothing happens" is exact.
struct DeployCluster : test::SyncHarness {
  DeployCluster() {
    ControllerOptions o;
    o.nodeName = "node1";
    add(makeReplicaSetController, o);
    add(makeDeploymentController, o);
  }
  int settle(const std::function<void()>& eachRound = {}) {
    return SyncHarness::settle({&deployR(), &rsR(), &podR()}, eachRound);
  }
  Json get(const std::string& name) { return reg.get(deployR(), "default", name); }
  std::vector<Json> replicaSets(const std::string& app) {
    ListOptions lo;
    lo.labelSelector = "app=" + app;
    std::vector<Json> out;
    Json all = reg.list(rsR(), "default", lo);
    for (auto& rs : all["items"]) out.push_back(rs);
    return out;
  }
  std::vector<Json> pods(const std::string& selector) {
    ListOptions lo;
    lo.labelSelector = selector;
    std::vector<Json> out;
    Json all = reg.list(podR(), "default", lo);
    for (auto& p : all["items"])
      if (!p["metadata"].contains("deletionTimestamp")) out.push_back(p);
    return out;
  }
  // Read-modify-write of the deployment, retried on conflicts with the controller.
  template <class F>
  void edit(const std::string& name, F change) {
    for (int i = 0; i < 50; ++i) {
      Json d = get(name);
      change(d);
      try {
        reg.update(deployR(), "default", d);
        return;
      } catch (const ApiError& e) {
        if (e.code != 409) throw;
      }
    }
    FAIL("could not update deployment " << name);
  }
  void markReady(const std::string& pod) {
    for (int i = 0; i < 50; ++i) {
      Json p = reg.get(podR(), "default", pod);
      p["status"]["phase"] = "Running";
      p["status"]["conditions"] =
          Json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", nowRfc3339()}}});
      try {
        reg.update(podR(), "default", p, "status");
        return;
      } catch (const ApiError& e) {
        if (e.code == 404) return;  // scaled away meanwhile
        if (e.code != 409) throw;
      }
    }
    FAIL("could not mark pod ready: " << pod);
  }
  int markAllReady(const std::string& selector) {
    int n = 0;
    for (auto& p : pods(selector))
      if (!isPodReady(p)) {
        markReady(p["metadata"]["name"]);
        ++n;
      }
    return n;
  }
  // What `kubectl scale` does: PUT the scale subresource (retried if it races a controller write).
  void scaleTo(const std::string& name, int replicas) {
    for (int i = 0; i < 50; ++i) {
      try {
        reg.update(deployR(), "default", {{"metadata", {{"name", name}}}, {"spec", {{"replicas", replicas}}}}, "scale");
        return;
      } catch (const ApiError& e) {
        if (e.code != 409) throw;
      }
    }
    FAIL("could not scale " << name);
  }
  bool hasEvent(const std::string& reason, const std::string& message) {
    Json all = reg.list(*findResource("", "events"), "default");
    for (auto& e : all["items"])
      if (e.value("reason", "") == reason && e.value("message", "") == message) return true;
    return false;
  }
};

Json deployment(const std::string& name, int replicas, const std::string& image) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", image}}})}}}}}}}};
}

std::string annotation(const Json& o, const std::string& key) {
  return o["metadata"].value("annotations", Json::object()).value(key, "");
}

const Json* condition(const Json& d, const std::string& type) {
  if (!d.contains("status") || !d["status"].contains("conditions")) return nullptr;
  for (auto& c : d["status"]["conditions"])
    if (c["type"] == type) return &c;
  return nullptr;
}

std::string conditionReason(const Json& d, const std::string& type) {
  auto* c = condition(d, type);
  return c ? c->value("reason", "") : "";
}

int64_t st(const Json& d, const char* f) { return d.value("status", Json::object()).value(f, int64_t(0)); }

// What `kubectl rollout status` waits for.
bool rolledOut(const Json& d) {
  int64_t want = d["spec"]["replicas"];
  return d["metadata"]["generation"] == st(d, "observedGeneration") && st(d, "updatedReplicas") == want &&
         st(d, "replicas") == want && st(d, "availableReplicas") == want;
}

// Drives a rollout to completion by marking pods ready (one at a time), checking after every
// step of the controllers that pods stay within replicas+maxSurge and availability within
// replicas-maxUnavailable. Returns the number of pods marked ready plus one.
int driveRollingUpdate(DeployCluster& c, const std::string& name, int replicas, int maxSurge, int maxUnavailable) {
  auto bounds = [&] {
    auto pods = c.pods("app=" + name);
    int ready = 0;
    for (auto& p : pods) ready += isPodReady(p);
    int64_t specSum = 0;
    for (auto& rs : c.replicaSets(name)) specSum += rs["spec"].value("replicas", 0);
    CHECK(int(pods.size()) <= replicas + maxSurge);
    CHECK(specSum <= replicas + maxSurge);
    CHECK(ready >= replicas - maxUnavailable);
  };
  for (int steps = 1; steps <= 100; ++steps) {
    c.settle(bounds);  // the bounds hold after every step of the controllers, not only at rest
    auto pods = c.pods("app=" + name);
    if (rolledOut(c.get(name)) && int(pods.size()) == replicas) return steps;
    // One new pod at a time turns ready, so the rollout takes many small steps.
    for (auto& p : pods)
      if (!isPodReady(p)) {
        c.markReady(p["metadata"]["name"]);
        break;
      }
  }
  FAIL("rollout of " << name << " did not finish");
  return 0;
}

}  // namespace

TEST_CASE("deployment controller: a Deployment gets one ReplicaSet named by the template hash, and its pods") {
  DeployCluster c;
  Json d = c.reg.create(deployR(), "default", deployment("web", 3, "nginx:1"));
  c.settle();
  REQUIRE((c.replicaSets("web").size() == 1 && c.pods("app=web").size() == 3));
  Json rs = c.replicaSets("web")[0];
  std::string hash = rs["metadata"]["labels"][kPodTemplateHashLabel];
  CHECK(!hash.empty());
  CHECK(hash.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
  CHECK(rs["metadata"]["name"] == "web-" + hash);
  CHECK(rs["spec"]["selector"]["matchLabels"][kPodTemplateHashLabel] == hash);
  CHECK(rs["spec"]["template"]["metadata"]["labels"][kPodTemplateHashLabel] == hash);
  auto& ref = rs["metadata"]["ownerReferences"][0];
  CHECK(ref["kind"] == "Deployment");
  CHECK(ref["apiVersion"] == "apps/v1");
  CHECK(ref["name"] == "web");
  CHECK(ref["uid"] == d["metadata"]["uid"]);
  CHECK(ref["controller"] == true);
  CHECK(ref["blockOwnerDeletion"] == true);
  CHECK(annotation(rs, "deployment.kubernetes.io/revision") == "1");
  CHECK(annotation(rs, "deployment.kubernetes.io/desired-replicas") == "3");
  CHECK(annotation(rs, "deployment.kubernetes.io/max-replicas") == "4");  // 3 + 25% rounded up
  for (auto& p : c.pods("app=web")) {
    CHECK(p["metadata"]["labels"][kPodTemplateHashLabel] == hash);
    CHECK(p["metadata"]["name"].get<std::string>().rfind("web-" + hash + "-", 0) == 0);
    CHECK(controllerUid(p) == rs["metadata"]["uid"]);
  }
  // The same template always hashes the same.
  CHECK(computePodTemplateHash(c.get("web")["spec"]["template"], std::nullopt) == hash);

  c.settle();
  Json x = c.get("web");
  REQUIRE((st(x, "replicas") == 3 && st(x, "updatedReplicas") == 3 && st(x, "observedGeneration") == 1));
  CHECK(annotation(x, "deployment.kubernetes.io/revision") == "1");
  CHECK(conditionReason(x, "Available") == "MinimumReplicasUnavailable");
  CHECK(c.hasEvent("ScalingReplicaSet", "Scaled up replica set web-" + hash + " to 3"));

  c.markAllReady("app=web");
  c.settle();
  REQUIRE(rolledOut(c.get("web")));
  c.settle();
  REQUIRE(conditionReason(c.get("web"), "Progressing") == "NewReplicaSetAvailable");
  x = c.get("web");
  CHECK(st(x, "readyReplicas") == 3);
  CHECK(st(x, "unavailableReplicas") == 0);
  CHECK(conditionReason(x, "Available") == "MinimumReplicasAvailable");
  CHECK(condition(x, "Available")->value("status", "") == "True");
  CHECK(condition(x, "Progressing")->value("message", "") ==
        "ReplicaSet \"web-" + hash + "\" has successfully progressed.");
}

TEST_CASE("deployment controller: a rolling update stays within maxSurge and maxUnavailable") {
  DeployCluster c;
  Json d = deployment("roll", 4, "app:v1");
  d["spec"]["strategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", "25%"}}}};
  d["metadata"]["annotations"]["kubernetes.io/change-cause"] = "first";
  c.reg.create(deployR(), "default", d);
  c.settle();
  REQUIRE(c.pods("app=roll").size() == 4);
  c.markAllReady("app=roll");
  c.settle();
  REQUIRE(rolledOut(c.get("roll")));
  std::string oldRs = c.replicaSets("roll")[0]["metadata"]["name"];
  CHECK(annotation(c.replicaSets("roll")[0], "kubernetes.io/change-cause") == "first");

  c.edit("roll", [](Json& x) {
    x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v2";
    x["metadata"]["annotations"]["kubernetes.io/change-cause"] = "second";
  });
  int steps = driveRollingUpdate(c, "roll", 4, 1, 1);
  CHECK(steps >= 4);  // four pods replaced one by one

  auto sets = c.replicaSets("roll");
  REQUIRE(sets.size() == 2);
  for (auto& rs : sets) {
    if (rs["metadata"]["name"] == oldRs) {
      CHECK(rs["spec"]["replicas"] == 0);
      CHECK(annotation(rs, "deployment.kubernetes.io/revision") == "1");
      CHECK(annotation(rs, "kubernetes.io/change-cause") == "first");
    } else {
      CHECK(rs["spec"]["replicas"] == 4);
      CHECK(annotation(rs, "deployment.kubernetes.io/revision") == "2");
      CHECK(annotation(rs, "kubernetes.io/change-cause") == "second");
      CHECK(rs["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v2");
    }
  }
  for (auto& p : c.pods("app=roll")) CHECK(p["spec"]["containers"][0]["image"] == "app:v2");
  Json x = c.get("roll");
  CHECK(annotation(x, "deployment.kubernetes.io/revision") == "2");
  c.settle();
  CHECK(conditionReason(c.get("roll"), "Progressing") == "NewReplicaSetAvailable");
  CHECK(c.hasEvent("ScalingReplicaSet", "Scaled down replica set " + oldRs + " to 3 from 4"));
}

TEST_CASE("deployment controller: percentages round surge up and unavailability down") {
  DeployCluster c;
  Json d = deployment("big", 10, "app:v1");
  // 30% of 10 surges 3; 25% of 10 = 2.5 allows 2 unavailable.
  d["spec"]["strategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "30%"}, {"maxUnavailable", "25%"}}}};
  c.reg.create(deployR(), "default", d);
  c.settle();
  REQUIRE(c.pods("app=big").size() == 10);
  CHECK(annotation(c.replicaSets("big")[0], "deployment.kubernetes.io/max-replicas") == "13");
  c.markAllReady("app=big");
  c.settle();
  REQUIRE(rolledOut(c.get("big")));
  c.edit("big", [](Json& x) { x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v2"; });
  // The rollout opens at 13 pods: 3 new by surge, then 2 old go (unavailable) and 2 more new come.
  c.settle();
  REQUIRE(c.pods("app=big").size() == 13);
  driveRollingUpdate(c, "big", 10, 3, 2);
  for (auto& p : c.pods("app=big")) CHECK(p["spec"]["containers"][0]["image"] == "app:v2");
}

TEST_CASE("deployment controller: rolling back to an old template reuses its ReplicaSet with a new revision") {
  DeployCluster c;
  c.reg.create(deployR(), "default", deployment("undo", 2, "app:v1"));
  c.settle();
  REQUIRE(c.pods("app=undo").size() == 2);
  c.markAllReady("app=undo");
  c.settle();
  REQUIRE(rolledOut(c.get("undo")));
  Json v1 = c.replicaSets("undo")[0];
  Json v1Template = v1["spec"]["template"];
  c.edit("undo", [](Json& x) { x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v2"; });
  driveRollingUpdate(c, "undo", 2, 1, 0);

  // What `kubectl rollout undo` does: copy the old ReplicaSet's template, minus the hash label.
  c.edit("undo", [&](Json& x) {
    Json t = v1Template;
    t["metadata"]["labels"].erase(kPodTemplateHashLabel);
    x["spec"]["template"] = t;
  });
  driveRollingUpdate(c, "undo", 2, 1, 0);
  auto sets = c.replicaSets("undo");
  CHECK(sets.size() == 2);  // no third ReplicaSet
  Json reused = c.reg.get(rsR(), "default", v1["metadata"]["name"]);
  CHECK(reused["metadata"]["uid"] == v1["metadata"]["uid"]);
  CHECK(reused["spec"]["replicas"] == 2);
  CHECK(annotation(reused, "deployment.kubernetes.io/revision") == "3");
  CHECK(annotation(reused, "deployment.kubernetes.io/revision-history") == "1");
  CHECK(annotation(c.get("undo"), "deployment.kubernetes.io/revision") == "3");
}

TEST_CASE("deployment controller: scaling through the scale subresource") {
  DeployCluster c;
  c.reg.create(deployR(), "default", deployment("sc", 2, "app:v1"));
  c.settle();
  REQUIRE(c.pods("app=sc").size() == 2);
  std::string rs = c.replicaSets("sc")[0]["metadata"]["name"];
  c.scaleTo("sc", 5);
  c.settle();
  REQUIRE(c.pods("app=sc").size() == 5);
  CHECK(c.replicaSets("sc").size() == 1);
  c.settle();
  REQUIRE(annotation(c.reg.get(rsR(), "default", rs), "deployment.kubernetes.io/desired-replicas") == "5");
  c.scaleTo("sc", 1);
  c.settle();
  REQUIRE(c.pods("app=sc").size() == 1);
  // The event is written after the scale that let the pods go, so it may trail them.
  c.settle();
  CHECK(c.hasEvent("ScalingReplicaSet", "Scaled up replica set " + rs + " to 5 from 2"));
  c.settle();
  CHECK(c.hasEvent("ScalingReplicaSet", "Scaled down replica set " + rs + " to 1 from 5"));
  Json scale = c.reg.get(deployR(), "default", "sc", "scale");
  CHECK(scale["spec"]["replicas"] == 1);
  c.settle();
  CHECK((st(c.get("sc"), "replicas") == 1 && st(c.get("sc"), "observedGeneration") == 3));
}

TEST_CASE("deployment controller: a deleted pod is replaced") {
  DeployCluster c;
  c.reg.create(deployR(), "default", deployment("heal", 2, "app:v1"));
  c.settle();
  REQUIRE(c.pods("app=heal").size() == 2);
  std::string victim = c.pods("app=heal")[0]["metadata"]["name"];
  c.reg.remove(podR(), "default", victim);
  c.settle();
  auto pods = c.pods("app=heal");
  REQUIRE(pods.size() == 2);
  CHECK(pods[0]["metadata"]["name"] != victim);
  CHECK(pods[1]["metadata"]["name"] != victim);
  CHECK(c.replicaSets("heal").size() == 1);
}

TEST_CASE("deployment controller: Recreate never runs old and new pods together") {
  DeployCluster c;
  Json d = deployment("rec", 3, "app:v1");
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  c.reg.create(deployR(), "default", d);
  c.settle();
  REQUIRE(c.pods("app=rec").size() == 3);
  c.markAllReady("app=rec");
  c.settle();
  REQUIRE(rolledOut(c.get("rec")));
  std::string oldHash = c.replicaSets("rec")[0]["metadata"]["labels"][kPodTemplateHashLabel];
  c.edit("rec", [](Json& x) { x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v2"; });
  int newPods = 0;
  auto neverTogether = [&] {
    int oldPods = 0;
    newPods = 0;
    for (auto& p : c.pods("app=rec")) (p["metadata"]["labels"][kPodTemplateHashLabel] == oldHash ? oldPods : newPods)++;
    CHECK_FALSE((oldPods > 0 && newPods > 0));
  };
  bool done = false;
  for (int step = 0; step < 20 && !done; ++step) {
    c.settle(neverTogether);  // checked after every step of the controllers
    c.markAllReady("app=rec");
    c.settle(neverTogether);
    done = newPods == 3 && rolledOut(c.get("rec"));
  }
  CHECK(done);
  CHECK(c.replicaSets("rec").size() == 2);
}

TEST_CASE("deployment controller: revisionHistoryLimit deletes the oldest scaled-down ReplicaSets") {
  DeployCluster c;
  Json d = deployment("hist", 1, "app:v1");
  d["spec"]["revisionHistoryLimit"] = 1;
  c.reg.create(deployR(), "default", d);
  c.settle();
  REQUIRE(c.pods("app=hist").size() == 1);
  c.markAllReady("app=hist");
  c.settle();
  REQUIRE(rolledOut(c.get("hist")));
  for (int v = 2; v <= 4; ++v) {
    c.edit("hist", [&](Json& x) {
      x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v" + std::to_string(v);
    });
    driveRollingUpdate(c, "hist", 1, 1, 0);
  }
  // The current ReplicaSet plus one old one (the newest old revision).
  c.settle();
  REQUIRE(c.replicaSets("hist").size() == 2);
  std::set<std::string> revisions;
  for (auto& rs : c.replicaSets("hist")) revisions.insert(annotation(rs, "deployment.kubernetes.io/revision"));
  CHECK(revisions == std::set<std::string>{"3", "4"});
}

TEST_CASE("deployment controller: a paused deployment scales but does not roll out until resumed") {
  DeployCluster c;
  c.reg.create(deployR(), "default", deployment("pz", 2, "app:v1"));
  c.settle();
  REQUIRE(c.pods("app=pz").size() == 2);
  c.markAllReady("app=pz");
  c.settle();
  REQUIRE(rolledOut(c.get("pz")));
  c.edit("pz", [](Json& x) { x["spec"]["paused"] = true; });
  c.settle();
  REQUIRE(conditionReason(c.get("pz"), "Progressing") == "DeploymentPaused");
  CHECK(condition(c.get("pz"), "Progressing")->value("status", "") == "Unknown");

  c.edit("pz", [](Json& x) {
    x["spec"]["template"]["spec"]["containers"][0]["image"] = "app:v2";
    x["spec"]["replicas"] = 3;
  });
  c.settle();
  REQUIRE(c.pods("app=pz").size() == 3);
  c.settle();
  REQUIRE(st(c.get("pz"), "observedGeneration") == c.get("pz")["metadata"]["generation"]);
  CHECK(c.replicaSets("pz").size() == 1);  // settled, and no rollout while paused
  for (auto& p : c.pods("app=pz")) CHECK(p["spec"]["containers"][0]["image"] == "app:v1");

  c.markAllReady("app=pz");
  c.settle();
  REQUIRE(st(c.get("pz"), "availableReplicas") == 3);
  c.edit("pz", [](Json& x) { x["spec"]["paused"] = false; });
  c.settle();
  REQUIRE(c.replicaSets("pz").size() == 2);
  driveRollingUpdate(c, "pz", 3, 1, 0);
  for (auto& p : c.pods("app=pz")) CHECK(p["spec"]["containers"][0]["image"] == "app:v2");
  c.settle();
  CHECK(conditionReason(c.get("pz"), "Progressing") == "NewReplicaSetAvailable");
}

TEST_CASE("deployment controller: progressDeadlineSeconds marks a stuck rollout") {
  DeployCluster c;
  Json d = deployment("stuck", 1, "app:v1");
  d["spec"]["progressDeadlineSeconds"] = 1;
  c.reg.create(deployR(), "default", d);
  c.settle();
  REQUIRE(c.pods("app=stuck").size() == 1);
  // Never ready: after the deadline the rollout is reported as failed.
  c.settle();
  CHECK(conditionReason(c.get("stuck"), "Progressing") != "ProgressDeadlineExceeded");
  // The sync asked to come back when the deadline passes (on the fake clock): a second later
  // (and one more for the timestamps' second precision), the rollout is reported as failed.
  c.clock.advance(std::chrono::seconds(3));
  c.settle();
  REQUIRE(conditionReason(c.get("stuck"), "Progressing") == "ProgressDeadlineExceeded");
  Json x = c.get("stuck");
  CHECK(condition(x, "Progressing")->value("status", "") == "False");
  CHECK(condition(x, "Progressing")->value("message", "") ==
        "ReplicaSet \"" + c.replicaSets("stuck")[0]["metadata"]["name"].get<std::string>() +
            "\" has timed out progressing.");
  CHECK(conditionReason(x, "Available") == "MinimumReplicasUnavailable");
}

TEST_CASE("deployment controller: a foreign ReplicaSet holding the name bumps collisionCount") {
  DeployCluster c;
  Json d = deployment("col", 1, "app:v1");
  d["spec"]["paused"] = true;  // paused: no ReplicaSet yet, so the name can be taken first
  c.reg.create(deployR(), "default", d);
  std::string hash = computePodTemplateHash(c.get("col")["spec"]["template"], std::nullopt);
  Json blocker = {{"apiVersion", "apps/v1"},
                  {"kind", "ReplicaSet"},
                  {"metadata", {{"name", "col-" + hash}}},
                  {"spec",
                   {{"replicas", 0},
                    {"selector", {{"matchLabels", {{"app", "other"}}}}},
                    {"template",
                     {{"metadata", {{"labels", {{"app", "other"}}}}},
                      {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "x"}}})}}}}}}}};
  c.reg.create(rsR(), "default", blocker);
  c.edit("col", [](Json& x) { x["spec"]["paused"] = false; });
  c.settle();
  REQUIRE((c.replicaSets("col").size() == 1 && c.pods("app=col").size() == 1));
  Json rs = c.replicaSets("col")[0];
  CHECK(rs["metadata"]["name"] != "col-" + hash);
  CHECK(rs["metadata"]["name"] == "col-" + computePodTemplateHash(c.get("col")["spec"]["template"], 1));
  CHECK(st(c.get("col"), "collisionCount") == 1);
  CHECK(controllerUid(c.reg.get(rsR(), "default", "col-" + hash)).empty());  // the foreign one is left alone
}

TEST_CASE("deployment controller: a re-created Deployment adopts its orphaned ReplicaSet and pods") {
  DeployCluster c;
  c.reg.create(deployR(), "default", deployment("adopt", 2, "app:v1"));
  c.settle();
  REQUIRE(c.pods("app=adopt").size() == 2);
  std::string rsName = c.replicaSets("adopt")[0]["metadata"]["name"];
  std::set<std::string> podNames;
  for (auto& p : c.pods("app=adopt")) podNames.insert(p["metadata"]["name"]);
  // As after `kubectl delete deployment --cascade=orphan`: the ReplicaSet loses its owner.
  c.reg.remove(deployR(), "default", "adopt");
  c.reg.patch(rsR(), "default", rsName, PatchType::Merge, {{"metadata", {{"ownerReferences", nullptr}}}});

  Json d = c.reg.create(deployR(), "default", deployment("adopt", 2, "app:v1"));
  c.settle();
  REQUIRE(controllerUid(c.reg.get(rsR(), "default", rsName)) == d["metadata"]["uid"]);
  c.settle();
  REQUIRE(st(c.get("adopt"), "replicas") == 2);
  CHECK(c.replicaSets("adopt").size() == 1);
  std::set<std::string> now;
  for (auto& p : c.pods("app=adopt")) now.insert(p["metadata"]["name"]);
  CHECK(now == podNames);
}
