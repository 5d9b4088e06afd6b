// Type resolution against a canned discovery document, and table printing
// from canned Table replies, as kubectl prints them.
#include <doctest/doctest.h>

#include <sstream>

#include "cli/kubectl_discovery.h"
#include "cli/kubectl_print.h"

using namespace k1s::cli;
using k1s::Json;

static Discovery cannedDiscovery() {
  Discovery d;
  d.addResourceList(Json::parse(R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
    {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"],"categories":["all"]},
    {"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},
    {"name":"services","singularName":"service","namespaced":true,"kind":"Service","verbs":["get"],"shortNames":["svc"],"categories":["all"]},
    {"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["get"],"shortNames":["ns"]},
    {"name":"endpoints","singularName":"endpoints","namespaced":true,"kind":"Endpoints","verbs":["get"],"shortNames":["ep"]}]})"));
  d.addResourceList(Json::parse(R"({"kind":"APIResourceList","groupVersion":"apps/v1","resources":[
    {"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["get"],"shortNames":["deploy"],"categories":["all"]},
    {"name":"replicasets","singularName":"replicaset","namespaced":true,"kind":"ReplicaSet","verbs":["get"],"shortNames":["rs"],"categories":["all"]}]})"));
  return d;
}

TEST_CASE("resource types resolve by plural, singular, short name, kind and kind.group") {
  auto d = cannedDiscovery();
  for (auto name : {"deployments", "deployment", "deploy", "Deployment", "deployments.apps", "deploy.apps",
                    "deployment.v1.apps"}) {
    auto* r = d.resolve(name);
    REQUIRE_MESSAGE(r, name);
    CHECK(r->kind == "Deployment");
  }
  CHECK(d.resolve("po")->plural == "pods");
  CHECK(d.resolve("svc")->kindPrefix() == "service");
  CHECK(d.resolve("deploy")->kindPrefix() == "deployment.apps");
  CHECK(d.resolve("log") == nullptr);  // subresources are not types
  CHECK(d.resolve("foo") == nullptr);
  CHECK(d.resolve("pods.apps") == nullptr);
  CHECK(d.resolveMany("all").size() == 4);
  CHECK(d.byKind("apps/v1", "ReplicaSet")->plural == "replicasets");
}

TEST_CASE("collection and item paths") {
  auto d = cannedDiscovery();
  CHECK(d.resolve("deploy")->itemPath("lab", "web") == "/apis/apps/v1/namespaces/lab/deployments/web");
  CHECK(d.resolve("po")->collectionPath("") == "/api/v1/pods");
  CHECK(d.resolve("ns")->itemPath("default", "lab") == "/api/v1/namespaces/lab");
}

static const char* kPodTable = R"({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42"},
  "columnDefinitions":[{"name":"Name","type":"string","priority":0},{"name":"Ready","type":"string","priority":0},
    {"name":"Status","type":"string","priority":0},{"name":"Restarts","type":"string","priority":0},
    {"name":"Age","type":"string","priority":0},{"name":"IP","type":"string","priority":1},
    {"name":"Node","type":"string","priority":1}],
  "rows":[{"cells":["numbers-api-7c9d8-abcde","1/1","Running","0","12s","10.244.0.5","k1s"],
           "object":{"kind":"PartialObjectMetadata","metadata":{"name":"numbers-api-7c9d8-abcde","namespace":"default","labels":{"app":"numbers-api","pod-template-hash":"7c9d8"}}}},
          {"cells":["web","0/1","ContainerCreating","0","3s",null,"k1s"],
           "object":{"kind":"PartialObjectMetadata","metadata":{"name":"web","namespace":"lab"}}}]})";

static std::string render(const Json& table, const TableOptions& o) {
  TabWriter tw;
  tw.add(tableHeader(table, o));
  for (auto& r : tableRows(table, o)) tw.add(r);
  std::ostringstream out;
  tw.flush(out);
  return out.str();
}

TEST_CASE("default table: upper-case headers, 3-space padding, no wide columns") {
  CHECK(render(Json::parse(kPodTable), {}) ==
        "NAME                      READY   STATUS              RESTARTS   AGE\n"
        "numbers-api-7c9d8-abcde   1/1     Running             0          12s\n"
        "web                       0/1     ContainerCreating   0          3s\n");
}

TEST_CASE("wide, all-namespaces, labels and kind prefixes") {
  TableOptions o;
  o.wide = true;
  o.withNamespace = true;
  o.showLabels = true;
  o.kindPrefix = "pod";
  CHECK(render(Json::parse(kPodTable), o) ==
        "NAMESPACE   NAME                          READY   STATUS              RESTARTS   AGE   IP           NODE   LABELS\n"
        "default     pod/numbers-api-7c9d8-abcde   1/1     Running             0          12s   10.244.0.5   k1s    app=numbers-api,pod-template-hash=7c9d8\n"
        "lab         pod/web                       0/1     ContainerCreating   0          3s    <none>       k1s    <none>\n");
}

TEST_CASE("tab writer remembers widths across flushes (watch rows line up)") {
  TabWriter tw;
  std::ostringstream out;
  tw.add({"NAME", "READY"});
  tw.add({"numbers-api", "1/1"});
  tw.flush(out);
  tw.add({"web", "0/1"});
  tw.flush(out);
  CHECK(out.str() == "NAME          READY\nnumbers-api   1/1\nweb           0/1\n");
}

TEST_CASE("JSON output and Go-compatible compact JSON") {
  CHECK(toKubectlJson(Json{{"b", 1}, {"a", "x"}}) == "{\n    \"a\": \"x\",\n    \"b\": 1\n}");
  CHECK(goJsonCompact(Json{{"cmd", "a<b && c>d"}}) == R"({"cmd":"a\u003cb \u0026\u0026 c\u003ed"})");
  auto list = wrapList({Json{{"kind", "Pod"}}});
  CHECK(list["kind"] == "List");
  CHECK(list["metadata"]["resourceVersion"] == "");
}
