// YAML as kubectl reads manifests (sigs.k8s.io/yaml typing) and prints -o yaml.
#include <doctest/doctest.h>

#include "common/yaml.h"

using k1s::Json;
using k1s::parseYaml;
using k1s::parseYamlDocuments;
using k1s::toYaml;

namespace {

// What kubectl get deployment -o yaml prints for a freshly created deployment.
const char* kDeploymentYaml = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
  creationTimestamp: "2024-05-01T10:00:00Z"
  generation: 1
  labels:
    app: web
  name: web
  namespace: default
  resourceVersion: "1234"
  uid: 0b5e6f3c-1111-4a2b-9c3d-123456789abc
spec:
  progressDeadlineSeconds: 600
  replicas: 2
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: web
    spec:
      containers:
      - args:
        - --port=80
        - -v
        env:
        - name: MODE
          value: "true"
        - name: EMPTY
          value: ""
        image: nginx:1.25
        imagePullPolicy: IfNotPresent
        name: nginx
        ports:
        - containerPort: 80
          protocol: TCP
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
status: {}
)";

}  // namespace

TEST_CASE("yaml: a Deployment round-trips byte for byte") {
  Json d = parseYaml(kDeploymentYaml);
  CHECK(d["spec"]["replicas"] == 2);
  CHECK(d["metadata"]["resourceVersion"] == "1234");
  CHECK(d["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z");
  CHECK(d["spec"]["template"]["metadata"]["creationTimestamp"].is_null());
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "true");
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["resources"] == Json::object());
  CHECK(toYaml(d) == kDeploymentYaml);
}

TEST_CASE("yaml: strings are quoted only when they would read back as something else") {
  struct Case {
    std::string value, printed;
  };
  const Case cases[] = {
      {"80", "\"80\""},           {"true", "\"true\""},         {"", "\"\""},
      {"yes", "\"yes\""},         {"off", "\"off\""},           {"null", "\"null\""},
      {"~", "\"~\""},             {"1.5", "\"1.5\""},           {"0755", "\"0755\""},
      {"1_000", "\"1_000\""},     {"-1", "\"-1\""},             {"1e3", "\"1e3\""},
      {"2024-01-01", "\"2024-01-01\""},                         {"10:30", "\"10:30\""},
      {".inf", "\".inf\""},       {"*", "'*'"},                 {"-", "'-'"},
      {"- x", "'- x'"},           {"a: b", "'a: b'"},           {"a #b", "'a #b'"},
      {" lead", "' lead'"},       {"trail ", "'trail '"},       {"'q'", "'''q'''"},
      {"@x", "'@x'"},             {"{x}", "'{x}'"},             {"---", "'---'"},
      {"it's", "it's"},           {"nginx:1.25", "nginx:1.25"}, {"a#b", "a#b"},
      {"25%", "25%"},             {"a,b", "a,b"},               {"y.z", "y.z"},
      {"héllo", "héllo"},         {"tab\there", "\"tab\\there\""},
      {"say \"hi\"", "say \"hi\""},                             {"\x01", "\"\\x01\""},
      {"\xF0\x9F\x98\x80", "\"\\U0001F600\""},                  {"line \nnext", "\"line \\nnext\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    CHECK(toYaml(Json{{"k", c.value}}) == "k: " + c.printed + "\n");
    CHECK(parseYaml(toYaml(Json{{"k", c.value}}))["k"] == c.value);
  }
}

TEST_CASE("yaml: scalars, empty collections, nesting and key order") {
  CHECK(toYaml(Json::parse(R"({"i":3,"f":0.5,"big":1000000.5,"t":true,"z":null,"e":{},"l":[]})")) ==
        "big: 1.0000005e+06\ne: {}\nf: 0.5\ni: 3\nl: []\nt: true\nz: null\n");
  CHECK(toYaml(Json::parse("[[1,2],[3],{}]")) == "- - 1\n  - 2\n- - 3\n- {}\n");
  CHECK(toYaml(Json::parse(R"([{"a":1,"b":[{"c":2}]}])")) == "- a: 1\n  b:\n  - c: 2\n");
  // Keys sort as go-yaml does: upper before lower case, digit runs numerically.
  CHECK(toYaml(Json::parse(R"({"a10":1,"a9":2,"B":3,"a":4,"a-b":5})")) == "B: 3\na: 4\na-b: 5\na9: 2\na10: 1\n");
  CHECK(toYaml(Json::parse(R"({"80":"x"})")) == "\"80\": x\n");
  CHECK(toYaml(Json::parse(R"({"n":1,"on":2})")) == "\"n\": 1\n\"on\": 2\n");  // YAML 1.1 booleans
  CHECK(toYaml(Json("plain")) == "plain\n");
  CHECK(toYaml(Json::object()) == "{}\n");
}

TEST_CASE("yaml: multi-line strings print as literal blocks") {
  CHECK(toYaml(Json{{"s", "a\nb\n"}}) == "s: |\n  a\n  b\n");
  CHECK(toYaml(Json{{"s", "a\nb"}}) == "s: |-\n  a\n  b\n");
  CHECK(toYaml(Json{{"s", "a\n\nb\n\n"}}) == "s: |+\n  a\n\n  b\n\n");
  CHECK(toYaml(Json{{"m", {{"s", "x\n"}, {"t", 1}}}}) == "m:\n  s: |\n    x\n  t: 1\n");
  CHECK(toYaml(Json::parse(R"(["one\ntwo\n"])")) == "- |\n  one\n  two\n");
  // A literal block reads back as the same string.
  for (const char* s : {"a\nb\n", "a\nb", "a\n\nb\n\n", "  indented\nx\n"}) {
    CAPTURE(s);
    CHECK(parseYaml(toYaml(Json{{"s", s}}))["s"] == s);
  }
}

TEST_CASE("yaml: long strings fold at 80 columns like go-yaml v2") {
  std::string words;
  for (int i = 0; i < 20; ++i) words += (i ? " " : "") + std::string("word") + std::to_string(i);
  std::string out = toYaml(Json{{"message", words}});
  CHECK(out ==
        "message: word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11\n"
        "  word12 word13 word14 word15 word16 word17 word18 word19\n");
  CHECK(parseYaml(out)["message"] == words);
  std::string quoted = "error: " + words;  // ": " forces single quotes, folded the same way
  out = toYaml(Json{{"m", quoted}});
  CHECK(out.find("'error: word0") != std::string::npos);
  CHECK(out.find("\n  ") != std::string::npos);
  CHECK(parseYaml(out)["m"] == quoted);
}

TEST_CASE("yaml: plain scalars are typed as sigs.k8s.io/yaml types them") {
  Json j = parseYaml(R"(
a: yes
b: 'yes'
c: 0755
d: 0x1F
e: 1_000
f: 1.5
g: ~
h: 2024-01-01
i: |
  x
j: 08
k: on
80: eighty
l: "true"
m: !!str 12
neg: -5
o: 12345678901234567890
p:
q: >-
  folded
  text
r: 1e3
s: [1, "2", three]
)");
  CHECK(j["a"] == true);
  CHECK(j["b"] == "yes");
  CHECK(j["c"] == 493);
  CHECK(j["d"] == 31);
  CHECK(j["e"] == 1000);
  CHECK(j["f"] == 1.5);
  CHECK(j["g"].is_null());
  CHECK(j["h"] == "2024-01-01");
  CHECK(j["i"] == "x\n");
  CHECK(j["j"].is_number_float());
  CHECK(j["j"] == 8.0);
  CHECK(j["k"] == true);
  CHECK(j["80"] == "eighty");
  CHECK(j["l"] == "true");
  CHECK(j["m"] == "12");
  CHECK(j["neg"] == -5);
  CHECK(j["o"] == 12345678901234567890ULL);
  CHECK(j["p"].is_null());
  CHECK(j["q"] == "folded text");
  CHECK(j["r"] == 1000.0);
  CHECK(j["s"] == Json::parse(R"([1, "2", "three"])"));
}

TEST_CASE("yaml: anchors and merge keys") {
  Json j = parseYaml("base: &b {x: 1, z: 2}\nderived:\n  <<: *b\n  z: 3\n");
  CHECK(j["derived"] == Json::parse(R"({"x":1,"z":3})"));
  // As with sigs.k8s.io/yaml, YAML 1.1 boolean keys become "true"/"false".
  CHECK(parseYaml("y: 1\nno: 2\n") == Json::parse(R"({"true":1,"false":2})"));
}

TEST_CASE("yaml: multi-document input skips comments and empty documents") {
  auto docs = parseYamlDocuments(R"(# leading comment
---
apiVersion: v1
kind: ConfigMap   # trailing comment
metadata:
  name: one
---
---
# only a comment here
---
apiVersion: v1
kind: Pod
metadata:
  name: two
...
)");
  REQUIRE(docs.size() == 2);
  CHECK(docs[0]["kind"] == "ConfigMap");
  CHECK(docs[0]["metadata"]["name"] == "one");
  CHECK(docs[1]["metadata"]["name"] == "two");
  CHECK(parseYamlDocuments("").empty());
  CHECK(parseYamlDocuments("# nothing\n").empty());
}

TEST_CASE("yaml: JSON input is accepted") {
  auto docs = parseYamlDocuments("{\n\t\"kind\": \"Pod\",\n\t\"spec\": {\"x\": [1, 2]}\n}\n");
  REQUIRE(docs.size() == 1);
  CHECK(docs[0]["spec"]["x"] == Json::parse("[1,2]"));
  CHECK(parseYaml(R"({"a": "yes"})")["a"] == "yes");
}

TEST_CASE("yaml: bad YAML is an error naming the line") {
  try {
    parseYamlDocuments("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [1, 2\n");
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.rfind("yaml: line ", 0) == 0);
  }
  try {
    parseYaml("a: b\n c: d: e\n");
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("line 2") != std::string::npos);
  }
  CHECK_THROWS_AS(parseYaml("a: .inf\n"), std::runtime_error);
}
