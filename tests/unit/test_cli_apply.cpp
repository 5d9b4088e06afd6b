// Client-side apply: the stored annotation and the create/patch/unchanged decision.
#include <doctest/doctest.h>

#include "cli/kubectl_apply.h"

using namespace k1s::cli;
using k1s::Json;
using k1s::ListStrategyLookup;

static Json deployment(int replicas, const std::string& image) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "numbers-api"}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", "numbers-api"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "numbers-api"}}}}},
              {"spec", {{"containers", {{{"name", "api"}, {"image", image}}}}}}}}}}};
}

static const ListStrategyLookup& lookup() {
  static ListStrategyLookup l = listStrategiesFromOpenApi(nullptr, "apps/v1", "Deployment");
  return l;
}

TEST_CASE("last-applied annotation is kubectl's: compact sorted JSON, empty annotations kept, newline") {
  Json m = withLastApplied(deployment(2, "numbers-api:v1"));
  std::string a = m["metadata"]["annotations"][kLastAppliedAnnotation];
  CHECK(a.rfind(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":"numbers-api",)", 0) == 0);
  CHECK(a.back() == '\n');
  // Re-applying an object that already carries the annotation does not nest it.
  CHECK(withLastApplied(m) == m);
}

TEST_CASE("apply decides create, unchanged and patch") {
  Json modified = withLastApplied(deployment(2, "numbers-api:v1"));
  CHECK(planApply(modified, nullptr, lookup(), true).action == ApplyPlan::Create);

  // The live object has server-set fields on top of what was applied.
  Json live = modified;
  live["metadata"]["uid"] = "u1";
  live["metadata"]["resourceVersion"] = "7";
  live["spec"]["strategy"] = {{"type", "RollingUpdate"}};
  live["status"] = {{"replicas", 2}};
  auto same = planApply(modified, live, lookup(), true);
  CHECK(same.action == ApplyPlan::Unchanged);

  Json changed = withLastApplied(deployment(3, "numbers-api:v2"));
  auto plan = planApply(changed, live, lookup(), true);
  REQUIRE(plan.action == ApplyPlan::Patch);
  CHECK(plan.body["spec"]["replicas"] == 3);
  // Containers merge by name: the patch names the container instead of replacing the list.
  auto containers = plan.body["spec"]["template"]["spec"]["containers"];
  REQUIRE(containers.is_array());
  CHECK(containers[0]["name"] == "api");
  CHECK(containers[0]["image"] == "numbers-api:v2");
  CHECK(plan.body["metadata"]["annotations"].contains(kLastAppliedAnnotation));
  CHECK_FALSE(plan.missingAnnotation);
}

TEST_CASE("apply removes what was applied before and is gone from the file") {
  Json before = deployment(2, "x");
  before["metadata"]["labels"] = {{"tier", "backend"}};
  Json live = withLastApplied(before);
  Json plan = planApply(withLastApplied(deployment(2, "x")), live, lookup(), true).body;
  CHECK(plan["metadata"]["labels"]["tier"].is_null());
}

TEST_CASE("live objects without last-applied are flagged (kubectl warns) and still patched") {
  Json live = deployment(1, "x");
  auto plan = planApply(withLastApplied(deployment(1, "x")), live, lookup(), true);
  CHECK(plan.missingAnnotation);
  CHECK(plan.action == ApplyPlan::Patch);  // at least the annotation is added
}

TEST_CASE("list strategies come from the OpenAPI document, well-known keys otherwise") {
  Json doc = Json::parse(R"({"components":{"schemas":{
    "io.k8s.api.core.v1.Service":{"type":"object","x-kubernetes-group-version-kind":[{"group":"","version":"v1","kind":"Service"}],
      "properties":{"spec":{"allOf":[{"$ref":"#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}]}}},
    "io.k8s.api.core.v1.ServiceSpec":{"type":"object","properties":{
      "ports":{"type":"array","items":{"type":"object"},"x-kubernetes-patch-merge-key":"port","x-kubernetes-patch-strategy":"merge"},
      "externalIPs":{"type":"array","items":{"type":"string"}}}}}}})");
  auto l = listStrategiesFromOpenApi(doc, "v1", "Service");
  auto ports = l({"spec", "ports"});
  REQUIRE(ports);
  CHECK(ports->mergeKey == "port");
  CHECK_FALSE(l({"spec", "externalIPs"}));  // known to the schema and atomic
  auto fallback = listStrategiesFromOpenApi(nullptr, "apps/v1", "Deployment");
  CHECK(fallback({"spec", "template", "spec", "containers", "ports"})->mergeKey == "containerPort");
  CHECK(fallback({"spec", "template", "spec", "containers", "env"})->mergeKey == "name");
}
