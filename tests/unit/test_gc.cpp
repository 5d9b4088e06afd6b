// The garbage collector against a real in-process API: background, foreground
// and orphan deletion, dependents with several owners, and a Deployment taken
// down with its ReplicaSets and pods.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>

#include "apiserver/registry.h"
#include "common/errors.h"
#include "common/meta.h"
#include "controller/controller.h"

#include "tests/unit/controller_fixture.h"

using namespace k1s;

namespace {

const ResourceInfo& pods() { return *findResource("", "pods"); }
const ResourceInfo& replicaSets() { return *findResource("apps", "replicasets"); }
const ResourceInfo& configMaps() { return *findResource("", "configmaps"); }

bool gone(Registry& reg, const ResourceInfo& r, const std::string& name) {
  try {
    reg.get(r, "default", name);
    return false;
  } catch (const ApiError& e) {
    return e.code == 404;
  }
}

Json podTemplate() {
  return {{"metadata", {{"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", {{{"name", "app"}, {"image", "numbers-api:v1"}}}}}}};
}

Json createOwnerRS(Registry& reg, const std::string& name) {
  return reg.create(replicaSets(), "default",
                    {{"metadata", {{"name", name}}},
                     {"spec", {{"replicas", 0}, {"selector", {{"matchLabels", {{"app", "web"}}}}}, {"template", podTemplate()}}}});
}

Json ownerRef(const Json& owner, bool block = true) {
  return {{"apiVersion", owner["apiVersion"]}, {"kind", owner["kind"]},   {"name", nameOf(owner)},
          {"uid", metaOf(owner)["uid"]},       {"controller", true}, {"blockOwnerDeletion", block}};
}

void createDependentPod(Registry& reg, const std::string& name, const Json& refs) {
  Json pod = podTemplate();
  pod["metadata"]["name"] = name;
  pod["metadata"]["ownerReferences"] = refs;
  reg.create(pods(), "default", pod);
}

DeleteOptions policy(const std::string& p) {
  DeleteOptions o;
  o.propagationPolicy = p;
  return o;
}

const ResourceInfo& deployments() { return *findResource("apps", "deployments"); }

// The collector (and whatever else the test adds) run step by step on the test thread
// (controller_fixture.h); settle() runs them until nothing is left to do, so "it stays" is exact.
struct GcFixture : test::SyncHarness {
  GcFixture() { add(makeGarbageCollector); }
  int settle() { return SyncHarness::settle({&deployments(), &replicaSets(), &pods(), &configMaps()}); }
};

}  // namespace

TEST_CASE("background deletion removes dependents whose every owner is gone") {
  GcFixture f;
  Json rs = createOwnerRS(f.reg, "rs1");
  Json cm = f.reg.create(configMaps(), "default", {{"metadata", {{"name", "other-owner"}}}});
  createDependentPod(f.reg, "only-child", Json::array({ownerRef(rs)}));
  Json second = ownerRef(cm);
  second["controller"] = false;
  createDependentPod(f.reg, "two-owners", Json::array({ownerRef(rs), second}));

  f.reg.remove(replicaSets(), "default", "rs1", policy("Background"));
  f.settle();
  CHECK(gone(f.reg, pods(), "only-child"));
  // A dependent with a surviving owner stays and loses the dangling reference.
  f.settle();
  REQUIRE(metaOf(f.reg.get(pods(), "default", "two-owners"))["ownerReferences"].size() == 1);
  CHECK(metaOf(f.reg.get(pods(), "default", "two-owners"))["ownerReferences"][0]["name"] == "other-owner");
}

TEST_CASE("foreground deletion removes dependents before the owner") {
  GcFixture f;
  Json rs = createOwnerRS(f.reg, "rs-fg");
  createDependentPod(f.reg, "fg-1", Json::array({ownerRef(rs)}));
  createDependentPod(f.reg, "fg-2", Json::array({ownerRef(rs)}));
  // A finalizer on one dependent shows the owner waiting for it.
  Json held = f.reg.get(pods(), "default", "fg-2");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  f.reg.update(pods(), "default", held);

  Json marked = f.reg.remove(replicaSets(), "default", "rs-fg", policy("Foreground"));
  CHECK(metaOf(marked).contains("deletionTimestamp"));
  f.settle();
  CHECK(gone(f.reg, pods(), "fg-1"));
  f.settle();
  REQUIRE(metaOf(f.reg.get(pods(), "default", "fg-2")).contains("deletionTimestamp"));
  // Settled, and the owner waits for its held dependent.
  Json owner = f.reg.get(replicaSets(), "default", "rs-fg");
  CHECK(metaOf(owner)["finalizers"] == Json::array({"foregroundDeletion"}));

  held = f.reg.get(pods(), "default", "fg-2");
  held["metadata"].erase("finalizers");
  f.reg.update(pods(), "default", held);
  f.settle();
  CHECK(gone(f.reg, pods(), "fg-2"));
  f.settle();
  CHECK(gone(f.reg, replicaSets(), "rs-fg"));
}

TEST_CASE("orphan deletion removes the owner and leaves dependents without the reference") {
  GcFixture f;
  Json rs = createOwnerRS(f.reg, "rs-or");
  createDependentPod(f.reg, "or-1", Json::array({ownerRef(rs)}));
  createDependentPod(f.reg, "or-2", Json::array({ownerRef(rs)}));
  f.settle();  // the collector's index sees the dependents before the owner goes
  f.reg.remove(replicaSets(), "default", "rs-or", policy("Orphan"));
  f.settle();
  REQUIRE(gone(f.reg, replicaSets(), "rs-or"));
  for (const char* name : {"or-1", "or-2"}) {
    Json p = f.reg.get(pods(), "default", name);
    CHECK_FALSE(metaOf(p).contains("deletionTimestamp"));
    CHECK(metaOf(p).value("ownerReferences", Json::array()).empty());
  }
  // And they stay: settled, nothing more is done to them.
  f.client.take();
  f.settle();
  CHECK(f.client.take().empty());
  CHECK_FALSE(gone(f.reg, pods(), "or-1"));
}

TEST_CASE("deleting a Deployment takes its ReplicaSets and pods; orphaning keeps them") {
  GcFixture f;
  f.add(makeDeploymentController);
  f.add(makeReplicaSetController);
  Registry& reg = f.reg;
  auto& deps = deployments();
  auto makeDeploy = [&](const std::string& name) {
    Json tpl = podTemplate();
    tpl["metadata"]["labels"] = {{"app", name}};
    reg.create(deps, "default",
               {{"metadata", {{"name", name}}},
                {"spec", {{"replicas", 2}, {"selector", {{"matchLabels", {{"app", name}}}}}, {"template", tpl}}}});
  };
  auto count = [&](const ResourceInfo& r, const std::string& app) {
    ListOptions lo;
    lo.labelSelector = "app=" + app;
    return reg.list(r, "default", lo)["items"].size();
  };

  makeDeploy("web");
  f.settle();
  REQUIRE((count(replicaSets(), "web") == 1 && count(pods(), "web") == 2));
  reg.remove(deps, "default", "web", policy("Background"));
  f.settle();
  CHECK((count(replicaSets(), "web") == 0 && count(pods(), "web") == 0));

  makeDeploy("keep");
  f.settle();
  REQUIRE((count(replicaSets(), "keep") == 1 && count(pods(), "keep") == 2));
  reg.remove(deps, "default", "keep", policy("Orphan"));
  f.settle();
  REQUIRE(gone(reg, deps, "keep"));
  CHECK(count(replicaSets(), "keep") == 1);  // settled: the orphans stay
  CHECK(count(pods(), "keep") == 2);
}
