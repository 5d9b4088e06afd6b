// The namespace and service-account controllers against a real in-process API, run step by
// step on the test thread with a fake clock (controller_fixture.h): a deleted namespace is
// emptied, waits for content with finalizers (phase Terminating, conditions saying why), then
// goes; every namespace gets `default`.
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

const ResourceInfo& res(const std::string& group, const std::string& plural) { return *findResource(group, plural); }

bool gone(Registry& reg, const ResourceInfo& r, const std::string& ns, const std::string& name) {
  try {
    reg.get(r, ns, name);
    return false;
  } catch (const ApiError& e) {
    return e.code == 404;
  }
}

Json conditionOf(const Json& ns, const std::string& type) {
  for (auto& c : ns["status"].value("conditions", Json::array()))
    if (c["type"] == type) return c;
  return nullptr;
}

}  // namespace

TEST_CASE("a deleted namespace is emptied, waits for finalizers, then disappears") {
  test::SyncHarness h(makeNamespaceController);
  Registry& reg = h.reg;
  auto& nsRes = res("", "namespaces");
  auto settle = [&] { h.settle({&nsRes}); };
  reg.create(nsRes, "", {{"metadata", {{"name", "doomed"}}}});
  reg.create(res("", "configmaps"), "doomed", {{"metadata", {{"name", "settings"}}}, {"data", {{"a", "b"}}}});
  reg.create(res("", "services"), "doomed",
             {{"metadata", {{"name", "web"}}}, {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}});
  reg.create(res("", "pods"), "doomed",
             {{"metadata", {{"name", "held"}, {"finalizers", {"example.com/hold"}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "numbers-api:v1"}}}}}}});

  reg.remove(nsRes, "", "doomed");
  CHECK(reg.get(nsRes, "", "doomed")["status"]["phase"] == "Terminating");
  settle();
  CHECK(gone(reg, res("", "configmaps"), "doomed", "settings"));
  CHECK(gone(reg, res("", "services"), "doomed", "web"));
  // The held pod keeps the namespace, and the conditions say so.
  Json c = conditionOf(reg.get(nsRes, "", "doomed"), "NamespaceFinalizersRemaining");
  REQUIRE(!c.is_null());
  CHECK(c["status"] == "True");
  Json ns = reg.get(nsRes, "", "doomed");
  CHECK(ns["status"]["phase"] == "Terminating");
  CHECK(conditionOf(ns, "NamespaceContentRemaining")["message"] ==
        "Some resources are remaining: pods. has 1 resource instances");
  CHECK(conditionOf(ns, "NamespaceFinalizersRemaining")["message"] ==
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
  CHECK(ns["spec"]["finalizers"] == Json::array({"kubernetes"}));
  // New content is refused meanwhile.
  CHECK_THROWS_AS(reg.create(res("", "configmaps"), "doomed", {{"metadata", {{"name", "late"}}}}), ApiError);

  Json pod = reg.get(res("", "pods"), "doomed", "held");
  pod["metadata"].erase("finalizers");
  reg.update(res("", "pods"), "doomed", pod);
  // Nothing the controller watches changed: it comes back on its own, half a second later.
  settle();
  CHECK_FALSE(gone(reg, nsRes, "", "doomed"));
  CHECK(h.queue().waiting() >= 1);
  h.clock.advance(std::chrono::milliseconds(500));
  settle();
  CHECK(gone(reg, nsRes, "", "doomed"));
}

TEST_CASE("an empty namespace is removed promptly") {
  test::SyncHarness h(makeNamespaceController);
  Registry& reg = h.reg;
  auto& nsRes = res("", "namespaces");
  reg.create(nsRes, "", {{"metadata", {{"name", "empty"}}}});
  reg.remove(nsRes, "", "empty");
  h.settle({&nsRes});  // without the clock moving
  CHECK(gone(reg, nsRes, "", "empty"));
}

TEST_CASE("every active namespace gets a default service account, recreated when deleted") {
  test::SyncHarness h(makeServiceAccountController);
  Registry& reg = h.reg;
  auto& sa = res("", "serviceaccounts");
  auto settle = [&] { h.settle({&res("", "namespaces"), &sa}); };
  settle();
  CHECK_FALSE(gone(reg, sa, "default", "default"));
  CHECK_FALSE(gone(reg, sa, "kube-system", "default"));
  reg.create(res("", "namespaces"), "", {{"metadata", {{"name", "team-a"}}}});
  settle();
  CHECK_FALSE(gone(reg, sa, "team-a", "default"));
  reg.remove(sa, "team-a", "default");
  settle();
  CHECK_FALSE(gone(reg, sa, "team-a", "default"));
}
