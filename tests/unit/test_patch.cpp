// Merge, JSON and strategic merge patches, and kubectl apply's three-way patch.
#include <doctest/doctest.h>

#include "common/errors.h"
#include "common/patch.h"

using k1s::ApiError;
using k1s::Json;

namespace {

// A slice of kube's schema: the list strategies kubectl and the apiserver use.
std::optional<k1s::ListStrategy> podLookup(const std::vector<std::string>& path) {
  std::string p;
  for (const auto& s : path) p += (p.empty() ? "" : ".") + s;
  auto ends = [&](const std::string& suffix) {
    return p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends("spec.containers") || ends("spec.initContainers")) return k1s::ListStrategy{"merge", "name"};
  if (ends("containers.env")) return k1s::ListStrategy{"merge", "name"};
  if (ends("containers.ports")) return k1s::ListStrategy{"merge", "containerPort"};
  if (ends("spec.volumes")) return k1s::ListStrategy{"merge,retainKeys", "name", true};
  if (p == "metadata.finalizers") return k1s::ListStrategy{"merge", ""};
  if (p == "spec.strategy") return k1s::ListStrategy{"retainKeys", ""};
  return std::nullopt;
}
const k1s::ListStrategyLookup lookup = podLookup;

ApiError errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return ApiError(0, "", "");
}

Json smp(const Json& original, const Json& patch) { return k1s::strategicMergePatch(original, patch, lookup); }

Json twoContainers() {
  return Json::parse(R"({"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}})");
}

}  // namespace

// ------------------------------------------------------------------ merge patch

TEST_CASE("merge patch follows RFC 7386") {
  Json doc = Json::parse(R"({"a":"b","c":{"d":"e","f":"g"},"list":[1,2]})");
  Json out = k1s::mergePatch(doc, Json::parse(R"({"a":"z","c":{"f":null,"h":"i"},"list":[3]})"));
  CHECK(out == Json::parse(R"({"a":"z","c":{"d":"e","h":"i"},"list":[3]})"));
  // nulls inside a value for an absent key are pruned, not stored
  CHECK(k1s::mergePatch(Json::object(), Json::parse(R"({"a":{"b":null,"c":1}})")) ==
        Json::parse(R"({"a":{"c":1}})"));
  // a non-object patch replaces the document; a non-object target becomes an object
  CHECK(k1s::mergePatch(doc, Json::parse("[1]")) == Json::parse("[1]"));
  CHECK(k1s::mergePatch(Json("s"), Json::parse(R"({"a":1})")) == Json::parse(R"({"a":1})"));
}

// ------------------------------------------------------------------ JSON patch

TEST_CASE("JSON patch applies every op with pointer escaping") {
  Json doc = Json::parse(R"({"metadata":{"labels":{"a/b":"1","t~x":"2"}},"items":[1,2,3]})");
  Json ops = Json::parse(R"([
    {"op":"replace","path":"/metadata/labels/a~1b","value":"9"},
    {"op":"remove","path":"/metadata/labels/t~0x"},
    {"op":"add","path":"/items/-","value":4},
    {"op":"add","path":"/items/0","value":0},
    {"op":"test","path":"/items/4","value":4},
    {"op":"copy","from":"/items/1","path":"/first"},
    {"op":"move","from":"/metadata/labels","path":"/labels"}
  ])");
  Json out = k1s::jsonPatch(doc, ops);
  CHECK(out == Json::parse(R"({"metadata":{},"labels":{"a/b":"9"},"items":[0,1,2,3,4],"first":1})"));
  CHECK(doc["items"].size() == 3);  // input untouched
}

TEST_CASE("JSON patch failures answer like kube-apiserver") {
  Json doc = Json::parse(R"({"a":1,"l":[1]})");
  auto generic422 = [&](const char* ops) {
    ApiError e = errorOf([&] { k1s::jsonPatch(doc, Json::parse(ops)); });
    CHECK(e.code == 422);
    CHECK(e.reason == "Invalid");
    CHECK(std::string(e.what()) == "the server rejected our request due to an error in our request");
  };
  generic422(R"([{"op":"test","path":"/a","value":2}])");
  generic422(R"([{"op":"replace","path":"/missing","value":2}])");
  generic422(R"([{"op":"remove","path":"/missing"}])");
  generic422(R"([{"op":"add","path":"/no/such/parent","value":1}])");
  generic422(R"([{"op":"add","path":"/l/5","value":1}])");
  generic422(R"([{"op":"frobnicate","path":"/a"}])");
  // a failing op in the middle leaves nothing applied (the caller keeps the original)
  generic422(R"([{"op":"replace","path":"/a","value":5},{"op":"remove","path":"/zz"}])");
  CHECK(doc["a"] == 1);

  ApiError notList = errorOf([&] { k1s::jsonPatch(doc, Json::parse(R"({"op":"add"})")); });
  CHECK(notList.code == 400);
  CHECK(std::string(notList.what()) == "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  // test of null against a missing path passes, as in json-patch v4
  CHECK(k1s::jsonPatch(doc, Json::parse(R"([{"op":"test","path":"/nope","value":null}])")) == doc);
}

// ------------------------------------------------------------------ strategic merge patch

TEST_CASE("SMP merges keyed lists: changes in place, new items first (as kube)") {
  Json out = smp(twoContainers(), Json::parse(R"({"spec":{"containers":[{"name":"b","image":"z"}]}})"));
  CHECK(out == Json::parse(R"({"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"z"}]}})"));

  out = smp(twoContainers(), Json::parse(R"({"spec":{"containers":[{"name":"c","image":"w"}]}})"));
  REQUIRE(out["spec"]["containers"].size() == 3);
  CHECK(out["spec"]["containers"][0]["name"] == "c");
  CHECK(out["spec"]["containers"][1]["name"] == "a");
  CHECK(out["spec"]["containers"][2]["name"] == "b");
}

TEST_CASE("SMP recurses into nested keyed lists and deletes with null") {
  Json orig = Json::parse(R"({"spec":{"containers":[{"name":"a","image":"x","args":["1","2"],
      "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}})");
  Json out = smp(orig, Json::parse(R"({"spec":{"containers":[{"name":"a","args":["3"],"image":null,
      "env":[{"name":"B","value":"20"}]}]}})"));
  const Json& c = out["spec"]["containers"][0];
  CHECK_FALSE(c.contains("image"));
  CHECK(c["args"] == Json::parse(R"(["3"])"));  // no strategy: replaced
  CHECK(c["env"] == Json::parse(R"([{"name":"A","value":"1"},{"name":"B","value":"20"}])"));
}

TEST_CASE("SMP unions primitive merge lists in kube's order") {
  Json orig = Json::parse(R"({"metadata":{"finalizers":["x","y"]}})");
  Json out = smp(orig, Json::parse(R"({"metadata":{"finalizers":["z","x"]}})"));
  CHECK(out["metadata"]["finalizers"] == Json::parse(R"(["z","x","y"])"));
}

TEST_CASE("SMP $patch directives") {
  SUBCASE("replace a map") {
    Json orig = Json::parse(R"({"spec":{"selector":{"app":"old","tier":"x"}}})");
    Json out = smp(orig, Json::parse(R"({"spec":{"selector":{"$patch":"replace","app":"new"}}})"));
    CHECK(out["spec"]["selector"] == Json::parse(R"({"app":"new"})"));
  }
  SUBCASE("replace a keyed list") {
    Json out = smp(twoContainers(), Json::parse(R"({"spec":{"containers":[{"$patch":"replace"},{"name":"c"}]}})"));
    CHECK(out["spec"]["containers"] == Json::parse(R"([{"name":"c"}])"));
  }
  SUBCASE("delete a list item by merge key") {
    Json out = smp(twoContainers(), Json::parse(R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})"));
    CHECK(out["spec"]["containers"] == Json::parse(R"([{"name":"b","image":"y"}])"));
  }
  SUBCASE("delete a map leaves it empty") {
    Json orig = Json::parse(R"({"spec":{"strategy":{"type":"Recreate"}}})");
    Json out = smp(orig, Json::parse(R"({"spec":{"strategy":{"$patch":"delete"}}})"));
    CHECK(out["spec"]["strategy"] == Json::object());
  }
  SUBCASE("a directive never reaches the stored object") {
    Json out = smp(Json::object(), Json::parse(R"({"spec":{"containers":[{"name":"a","$patch":"delete"},{"name":"b"}]}})"));
    CHECK(out == Json::parse(R"({"spec":{"containers":[{"name":"b"}]}})"));
  }
  SUBCASE("unknown or merge directive in a map is a 400 with kube's message (kube: a bare 500)") {
    ApiError e = errorOf([&] { smp(twoContainers(), Json::parse(R"({"spec":{"$patch":"merge"}})")); });
    CHECK(e.code == 400);
    CHECK(e.reason == "BadRequest");
    CHECK(std::string(e.what()) == "unknown patch type: merge in map: map[$patch:merge]");
  }
  SUBCASE("delete item without its merge key") {
    ApiError e = errorOf([&] { smp(twoContainers(), Json::parse(R"({"spec":{"containers":[{"$patch":"delete"}]}})")); });
    CHECK(e.code == 400);
    CHECK(std::string(e.what()) == "map: map[$patch:delete] does not contain declared merge key: name");
  }
}

TEST_CASE("SMP: list items of the wrong shape are a 400 with kube's message, never a 500") {
  // Found by bench/http_mutate.py: kube answers these with a bare 500.
  auto check400 = [&](const char* patch, const std::string& msg) {
    ApiError e = errorOf([&] { smp(twoContainers(), Json::parse(patch)); });
    CHECK(e.code == 400);
    CHECK(e.reason == "BadRequest");
    CHECK(e.message == msg);
  };
  check400(R"({"spec":{"containers":[0]}})",
           "list element types are not identical: [[map[image:x name:a] map[image:y name:b]] [0]]");
  check400(R"({"spec":{"containers":["x"]}})",
           "list element types are not identical: [[map[image:x name:a] map[image:y name:b]] [x]]");
  check400(R"({"spec":{"containers":[{"image":"z"}]}})",
           "map: map[image:z] does not contain declared merge key: name");
  check400(R"({"spec":{"containers":[{"name":"a"}],"$setElementOrder/containers":[1]}})",
           "expected a map[string]interface {}, but received a int64");
}

TEST_CASE("SMP $retainKeys clears unlisted fields and validates the patch") {
  Json orig = Json::parse(R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})");
  Json out = smp(orig, Json::parse(R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})"));
  CHECK(out["spec"]["strategy"] == Json::parse(R"({"type":"Recreate"})"));

  ApiError e = errorOf([&] {
    smp(orig, Json::parse(R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":2}}}})"));
  });
  CHECK(e.code == 400);
  CHECK(std::string(e.what()) == "invalid patch format of retainKeys");
}

TEST_CASE("SMP $deleteFromPrimitiveList removes values") {
  Json orig = Json::parse(R"({"metadata":{"finalizers":["a","b","c"]}})");
  Json out = smp(orig, Json::parse(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})"));
  CHECK(out["metadata"]["finalizers"] == Json::parse(R"(["a","c"])"));
  ApiError e = errorOf([&] { smp(orig, Json::parse(R"({"metadata":{"$deleteFromPrimitiveList":["b"]}})")); });
  CHECK(e.code == 400);
  CHECK(std::string(e.what()) == "invalid patch format of primitive list");
}

TEST_CASE("SMP $setElementOrder orders the result") {
  Json out = smp(twoContainers(), Json::parse(R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
      "containers":[{"name":"a","image":"q"}]}})"));
  CHECK(out["spec"]["containers"] == Json::parse(R"([{"name":"b","image":"y"},{"name":"a","image":"q"}])"));
  CHECK_FALSE(out["spec"].contains("$setElementOrder/containers"));

  // server-only items keep their place relative to the live order
  Json three = Json::parse(R"({"spec":{"containers":[{"name":"a"},{"name":"s"},{"name":"b"}]}})");
  out = smp(three, Json::parse(R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}})"));
  CHECK(out["spec"]["containers"] == Json::parse(R"([{"name":"s"},{"name":"b"},{"name":"a"}])"));

  ApiError e = errorOf([&] { smp(three, Json::parse(R"({"spec":{"$setElementOrderX":[]}})")); });
  CHECK(e.code == 400);
  CHECK(std::string(e.what()) == "invalid patch format of setElementOrder list");
}

TEST_CASE("SMP replaces lists without strategy and rejects non-object patches") {
  Json orig = Json::parse(R"({"spec":{"tolerations":[{"key":"a"}]}})");
  CHECK(smp(orig, Json::parse(R"({"spec":{"tolerations":[{"key":"b"}]}})"))["spec"]["tolerations"] ==
        Json::parse(R"([{"key":"b"}])"));
  ApiError e = errorOf([&] { smp(orig, Json::parse("[1]")); });
  CHECK(e.code == 400);
}

// ------------------------------------------------------------------ three-way (kubectl apply)

namespace {

Json deployment(const std::string& image, const Json& env) {
  Json d = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
    "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web"}},
    "spec":{"containers":[{"name":"web","image":""}]}}}})");
  d["spec"]["template"]["spec"]["containers"][0]["image"] = image;
  if (!env.is_null()) d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
  return d;
}

// What the server holds after create: defaults and status added.
Json live(Json d) {
  auto& pod = d["spec"]["template"]["spec"];
  pod["dnsPolicy"] = "ClusterFirst";
  pod["containers"][0]["imagePullPolicy"] = "IfNotPresent";
  d["metadata"]["uid"] = "u1";
  d["status"] = {{"replicas", 2}};
  return d;
}

Json applyAll(const Json& last, const Json& modified, const Json& current) {
  Json patch = k1s::createThreeWayMergePatch(last, modified, current, lookup);
  return k1s::strategicMergePatch(current, patch, lookup);
}

}  // namespace

TEST_CASE("three-way patch: image change keeps server defaults and status") {
  Json last = deployment("nginx:1", nullptr);
  Json mod = deployment("nginx:2", nullptr);
  Json cur = live(last);
  Json patch = k1s::createThreeWayMergePatch(last, mod, cur, lookup);
  CHECK(patch == Json::parse(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"web"}],
      "containers":[{"name":"web","image":"nginx:2"}]}}}})"));
  Json out = k1s::strategicMergePatch(cur, patch, lookup);
  const auto& c = out["spec"]["template"]["spec"]["containers"][0];
  CHECK(c["image"] == "nginx:2");
  CHECK(c["imagePullPolicy"] == "IfNotPresent");
  CHECK(out["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst");
  CHECK(out["status"]["replicas"] == 2);
}

TEST_CASE("three-way patch: no change gives an empty patch") {
  Json last = deployment("nginx:1", nullptr);
  CHECK(k1s::createThreeWayMergePatch(last, last, live(last), lookup) == Json::object());
}

TEST_CASE("three-way patch: env var dropped from the file is deleted by key") {
  Json env2 = Json::parse(R"([{"name":"A","value":"1"},{"name":"B","value":"2"}])");
  Json last = deployment("nginx:1", env2);
  Json mod = deployment("nginx:1", Json::parse(R"([{"name":"A","value":"1"}])"));
  Json cur = live(last);
  Json patch = k1s::createThreeWayMergePatch(last, mod, cur, lookup);
  const Json& c = patch["spec"]["template"]["spec"]["containers"][0];
  CHECK(c["name"] == "web");
  CHECK(c["env"] == Json::parse(R"([{"name":"B","$patch":"delete"}])"));
  CHECK(c["$setElementOrder/env"] == Json::parse(R"([{"name":"A"}])"));
  Json out = k1s::strategicMergePatch(cur, patch, lookup);
  CHECK(out["spec"]["template"]["spec"]["containers"][0]["env"] == Json::parse(R"([{"name":"A","value":"1"}])"));
}

TEST_CASE("three-way patch: removed fields become null, fields others set survive") {
  Json last = deployment("nginx:1", nullptr);
  last["metadata"]["labels"]["team"] = "a";
  Json mod = deployment("nginx:1", nullptr);
  Json cur = live(last);
  cur["metadata"]["labels"]["added-by-someone"] = "x";
  cur["metadata"]["annotations"] = {{"note", "kept"}};
  Json patch = k1s::createThreeWayMergePatch(last, mod, cur, lookup);
  CHECK(patch == Json::parse(R"({"metadata":{"labels":{"team":null}}})"));
  Json out = k1s::strategicMergePatch(cur, patch, lookup);
  CHECK_FALSE(out["metadata"]["labels"].contains("team"));
  CHECK(out["metadata"]["labels"]["added-by-someone"] == "x");
  CHECK(out["metadata"]["annotations"]["note"] == "kept");
}

TEST_CASE("three-way patch: reordering and adding containers") {
  Json last = Json::parse(R"({"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}})");
  Json mod = Json::parse(R"({"spec":{"containers":[{"name":"c","image":"3"},{"name":"b","image":"2"},{"name":"a","image":"1"}]}})");
  Json out = applyAll(last, mod, last);
  CHECK(out == mod);
}

TEST_CASE("three-way patch: primitive merge list deletions keep server-added values") {
  Json last = Json::parse(R"({"metadata":{"finalizers":["a","b"]}})");
  Json mod = Json::parse(R"({"metadata":{"finalizers":["a"]}})");
  Json cur = Json::parse(R"({"metadata":{"finalizers":["a","b","c"]}})");
  Json patch = k1s::createThreeWayMergePatch(last, mod, cur, lookup);
  CHECK(patch["metadata"]["$deleteFromPrimitiveList/finalizers"] == Json::parse(R"(["b"])"));
  CHECK(patch["metadata"]["$setElementOrder/finalizers"] == Json::parse(R"(["a"])"));
  Json out = k1s::strategicMergePatch(cur, patch, lookup);
  CHECK(out["metadata"]["finalizers"] == Json::parse(R"(["a","c"])"));
}

TEST_CASE("three-way patch: retainKeys strategy switch drops the old sub-struct") {
  Json last = Json::parse(R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})");
  Json mod = Json::parse(R"({"spec":{"strategy":{"type":"Recreate"}}})");
  Json patch = k1s::createThreeWayMergePatch(last, mod, last, lookup);
  CHECK(patch["spec"]["strategy"]["$retainKeys"] == Json::parse(R"(["type"])"));
  Json out = k1s::strategicMergePatch(last, patch, lookup);
  CHECK(out["spec"]["strategy"] == Json::parse(R"({"type":"Recreate"})"));
}

TEST_CASE("three-way patch: a container removed from the file is deleted") {
  Json last = twoContainers();
  Json mod = Json::parse(R"({"spec":{"containers":[{"name":"b","image":"y"}]}})");
  Json out = applyAll(last, mod, twoContainers());
  CHECK(out == mod);
}
