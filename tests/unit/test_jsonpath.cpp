// kubectl's JSONPath dialect and custom-columns cells, on objects shaped like
// real API replies.
#include <doctest/doctest.h>

#include "cli/jsonpath.h"

using namespace k1s::cli;
using k1s::Json;

static Json podList() {
  return Json::parse(R"({"apiVersion":"v1","kind":"List","items":[
    {"metadata":{"name":"web-1","labels":{"app":"web","app.kubernetes.io/name":"w"}},
     "spec":{"containers":[{"name":"nginx","image":"nginx:1"},{"name":"side","image":"busybox"}]},
     "status":{"phase":"Running","restartCount":2,"podIP":"10.0.0.5"}},
    {"metadata":{"name":"job-2","labels":{"app":"job"}},
     "spec":{"containers":[{"name":"main","image":"busybox"}]},
     "status":{"phase":"Succeeded","restartCount":0}}]})");
}

static std::string run(const std::string& tmpl, const Json& data, bool allowMissing = true) {
  JsonPath p(tmpl);
  p.allowMissingKeys(allowMissing);
  return p.execute(data);
}

TEST_CASE("jsonpath: fields, wildcards and literals") {
  auto d = podList();
  CHECK(run("{.items[*].metadata.name}", d) == "web-1 job-2");
  CHECK(run("{.items[0].status.restartCount}", d) == "2");
  CHECK(run("{.items[-1].metadata.name}", d) == "job-2");
  CHECK(run("{.kind}{\"\\n\"}", d) == "List\n");
  CHECK(run("name: {.items[1].metadata.name}!", d) == "name: job-2!");
  CHECK(run("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", d) == "w");
  CHECK(run("{.items[0].metadata.labels['app.kubernetes.io/name']}", d) == "w");
  CHECK(run("{.items[0].metadata.labels}", d) == R"({"app":"web","app.kubernetes.io/name":"w"})");
  CHECK(run("{.items[0].spec.containers[*].name}", d) == "nginx side");
  CHECK(run("{$.kind}", d) == "List");
  CHECK(run("{.items[0].metadata.labels.*}", d) == "web w");
}

TEST_CASE("jsonpath: slices, unions, recursive descent") {
  auto d = podList();
  CHECK(run("{.items[0:1].metadata.name}", d) == "web-1");
  CHECK(run("{.items[:].metadata.name}", d) == "web-1 job-2");
  CHECK(run("{.items[::2].metadata.name}", d) == "web-1");
  CHECK(run("{.items[0].spec.containers[0,1].image}", d) == "nginx:1 busybox");
  CHECK(run("{.items[0].metadata['name','labels']}", d) == R"(web-1 {"app":"web","app.kubernetes.io/name":"w"})");
  CHECK(run("{..image}", d) == "nginx:1 busybox busybox");
}

TEST_CASE("jsonpath: filters") {
  auto d = podList();
  CHECK(run("{.items[?(@.status.phase==\"Running\")].metadata.name}", d) == "web-1");
  CHECK(run("{.items[?(@.status.phase!='Running')].metadata.name}", d) == "job-2");
  CHECK(run("{.items[?(@.status.restartCount>1)].metadata.name}", d) == "web-1");
  CHECK(run("{.items[?(@.status.restartCount<=0)].metadata.name}", d) == "job-2");
  CHECK(run("{.items[?(@.status.podIP)].metadata.name}", d) == "web-1");
  CHECK(run("{.items[0].spec.containers[?(@.name==\"side\")].image}", d) == "busybox");
}

TEST_CASE("jsonpath: range blocks print once per element") {
  auto d = podList();
  CHECK(run("{range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}{\"\\n\"}{end}", d) ==
        "web-1\tRunning\njob-2\tSucceeded\n");
  CHECK(run("{range .items[*]}[{range .spec.containers[*]}{.name},{end}]{end}", d) == "[nginx,side,][main,]");
}

TEST_CASE("jsonpath: missing keys and errors") {
  auto d = podList();
  CHECK(run("{.items[*].status.podIP}", d) == "10.0.0.5");
  CHECK(run("{.nothing}", d) == "");
  CHECK_THROWS_WITH_AS(run("{.nothing}", d, false), "nothing is not found", JsonPathError);
  CHECK_THROWS_WITH_AS(run("{.items[5]}", d, false), "array index out of bounds: index 5, length 2", JsonPathError);
  CHECK_THROWS_WITH_AS(run("{.kind[0]}", d), "string is not array or slice", JsonPathError);
  CHECK_THROWS_WITH_AS(JsonPath("{.items[0}"), "unterminated array", JsonPathError);
  CHECK_THROWS_WITH_AS(JsonPath("{.items"), "unclosed action", JsonPathError);
  CHECK_THROWS_WITH_AS(JsonPath("{end}"), "not in range, nothing to end", JsonPathError);
  CHECK_THROWS_AS(JsonPath("{range .items[*]}{.x}"), JsonPathError);
}

TEST_CASE("jsonpath: scalar printing follows Go") {
  Json d = Json::parse(R"({"f":1.5,"i":3,"b":true,"n":null,"big":1e21,"esc":"<a&b>","arr":["<x>"]})");
  CHECK(run("{.f} {.i} {.b} {.n}", d) == "1.5 3 true null");
  CHECK(run("{.esc}", d) == "<a&b>");
  CHECK(run("{.arr}", d) == R"(["\u003cx\u003e"])");
  CHECK(run("{.big}", d) == "1e+21");
}

TEST_CASE("custom-columns: specs, relaxed paths, cells") {
  CHECK(relaxedJsonPath("metadata.name") == "{.metadata.name}");
  CHECK(relaxedJsonPath(".metadata.name") == "{.metadata.name}");
  CHECK(relaxedJsonPath("{.metadata.name}") == "{.metadata.name}");
  auto cols = parseCustomColumns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,IP:status.podIP,L:.metadata.labels");
  REQUIRE(cols.size() == 4);
  CHECK(cols[0].header == "NAME");
  auto d = podList();
  CHECK(customColumnCells(cols, d["items"][0]) ==
        std::vector<std::string>{"web-1", "nginx:1,busybox", "10.0.0.5", "map[app:web app.kubernetes.io/name:w]"});
  CHECK(customColumnCells(cols, d["items"][1]) == std::vector<std::string>{"job-2", "busybox", "<none>", "map[app:job]"});
  CHECK_THROWS_AS(parseCustomColumns("NAME"), JsonPathError);
  CHECK_THROWS_AS(parseCustomColumns(""), JsonPathError);
  auto fileCols = parseCustomColumnsFile("NAME   PHASE\n.metadata.name   .status.phase\n");
  REQUIRE(fileCols.size() == 2);
  CHECK(customColumnCells(fileCols, d["items"][1]) == std::vector<std::string>{"job-2", "Succeeded"});
  CHECK_THROWS_AS(parseCustomColumnsFile("A B\n.x\n"), JsonPathError);
}
