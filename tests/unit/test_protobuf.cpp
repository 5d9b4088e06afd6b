// Protobuf request bodies as real kubectl sends them for its typed create verbs.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <random>

#include "apiserver/http_util.h"
#include "apiserver/protobuf.h"
#include "common/errors.h"

namespace {

using k1s::Json;

std::string unbase64(const std::string& b64) {
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), int(b64.size()));
  REQUIRE(n >= 0);
  size_t pad = b64.size() >= 2 && b64[b64.size() - 2] == '=' ? 2 : (!b64.empty() && b64.back() == '=' ? 1 : 0);
  out.resize(size_t(n) - pad);
  return out;
}

// Bodies recorded from kubectl 1.33 (1.32 for kNamespace132) against a stub
// server that saved each POST: `kubectl create namespace demo`, `create
// configmap c --from-literal=a=b`, `create secret generic s --from-literal=p=q`,
// `create secret generic b --from-file=blob=<bytes 00 ff 10 'bin'>`,
// `create deployment d --image=nginx --replicas=2 --port=80`, `create deployment
// z --image=nginx --replicas=0`, `create deployment cmd --image=busybox
// --replicas=2 --port=80 -- sleep 10`, `create service nodeport n --tcp=80:8080`,
// `create service clusterip web --tcp=5678:http`, `create serviceaccount sa1`.
// (`kubectl run` sends JSON, not protobuf.)
const char* kNamespace = "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEhwKFAoEZGVtbxIAGgAiACoAMgA4AEIAEgAaAgoAGgAiAA==";
const char* kNamespace132 = "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEh0KFQoFZGVtbzISABoAIgAqADIAOABCABIAGgIKABoAIgA=";
const char* kConfigMap = "azhzAAoPCgJ2MRIJQ29uZmlnTWFwEhsKEQoBYxIAGgAiACoAMgA4AEIAEgYKAWESAWIaACIA";
const char* kSecret = "azhzAAoMCgJ2MRIGU2VjcmV0Eh0KEQoBcxIAGgAiACoAMgA4AEIAEgYKAXASAXEaABoAIgA=";
const char* kBinarySecret = "azhzAAoMCgJ2MRIGU2VjcmV0EiUKEQoBYhIAGgAiACoAMgA4AEIAEg4KBGJsb2ISBgD/EGJpbhoAGgAiAA==";
const char* kDeployment =
    "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50ErABChsKAWQSABoAIgAqADIAOABCAFoICgNhcHASAWQSggEIAhIKCggKA2FwcBIBZBpqChoKABIA"
    "GgAiACoAMgA4AEIAWggKA2FwcBIBZBJMEi4KBW5naW54EgVuZ2lueCoAMgoKABAAGFAiACoAQgBqAHIAgAEAiAEAkAEAogEAGgAyAEIASgBSAFgA"
    "YABoAIIBAIoBAJoBAMIBACICCgAoADgAGgwIABAAGAAgACgAOAAaACIA";
const char* kDeploymentZero =
    "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50EqMBChsKAXoSABoAIgAqADIAOABCAFoICgNhcHASAXoSdggAEgoKCAoDYXBwEgF6Gl4KGgoAEgAa"
    "ACIAKgAyADgAQgBaCAoDYXBwEgF6EkASIgoFbmdpbngSBW5naW54KgBCAGoAcgCAAQCIAQCQAQCiAQAaADIAQgBKAFIAWABgAGgAggEAigEAmgEA"
    "wgEAIgIKACgAOAAaDAgAEAAYACAAKAA4ABoAIgA=";
const char* kDeploymentCommand =
    "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50EscBCh8KA2NtZBIAGgAiACoAMgA4AEIAWgoKA2FwcBIDY21kEpUBCAISDAoKCgNhcHASA2NtZBp7"
    "ChwKABIAGgAiACoAMgA4AEIAWgoKA2FwcBIDY21kElsSPQoHYnVzeWJveBIHYnVzeWJveBoFc2xlZXAaAjEwKgAyCgoAEAAYUCIAKgBCAGoAcgCA"
    "AQCIAQCQAQCiAQAaADIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEAIgIKACgAOAAaDAgAEAAYACAAKAA4ABoAIgA=";
const char* kServiceNodePort =
    "azhzAAoNCgJ2MRIHU2VydmljZRJiChsKAW4SABoAIgAqADIAOABCAFoICgNhcHASAW4SPwobCgc4MC04MDgwEgNUQ1AYUCIHCAAQkD8aACgAEggK"
    "A2FwcBIBbhoAIghOb2RlUG9ydDoAQgBSAFoAYABoABoCCgAaACIA";
const char* kServiceClusterIP =
    "azhzAAoNCgJ2MRIHU2VydmljZRJvCh8KA3dlYhIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViEkgKIQoJNTY3OC1odHRwEgNUQ1AYriwiCggBEAAa"
    "BGh0dHAoABIKCgNhcHASA3dlYhoAIglDbHVzdGVySVA6AEIAUgBaAGAAaAAaAgoAGgAiAA==";
const char* kServiceAccount = "azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFQoTCgNzYTESABoAIgAqADIAOABCABoAIgA=";

Json decode(const char* b64) { return k1s::protobufToJson(unbase64(b64)); }

// A tiny protobuf writer, for bodies kubectl has no verb for.
std::string varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out += char(v ? b | 0x80 : b);
  } while (v);
  return out;
}
std::string num(int field, int64_t v) { return varint(uint64_t(field) << 3) + varint(uint64_t(v)); }
std::string msg(int field, const std::string& body) { return varint((uint64_t(field) << 3) | 2) + varint(body.size()) + body; }
std::string entry(int field, const std::string& key, const std::string& valueBody) {
  return msg(field, msg(1, key) + valueBody);
}
std::string envelope(const std::string& apiVersion, const std::string& kind, const std::string& raw) {
  return std::string("k8s\0", 4) + msg(1, msg(1, apiVersion) + msg(2, kind)) + msg(2, raw) + msg(3, "") + msg(4, "");
}

int statusOf(const std::string& body) {
  try {
    k1s::protobufToJson(body);
  } catch (const k1s::ApiError& e) {
    return e.code;
  }
  return 0;
}

}  // namespace

TEST_CASE("protobuf: kubectl create namespace, 1.33 and 1.32") {
  Json ns = decode(kNamespace);
  CHECK(ns["apiVersion"] == "v1");
  CHECK(ns["kind"] == "Namespace");
  CHECK(ns["metadata"]["name"] == "demo");
  // Go writes every string field, empty or not; kube's JSON leaves the empty ones out.
  CHECK_FALSE(ns["metadata"].contains("namespace"));
  CHECK_FALSE(ns["metadata"].contains("generateName"));
  CHECK_FALSE(ns["metadata"].contains("uid"));
  CHECK(ns["metadata"]["creationTimestamp"].is_null());
  CHECK(ns["spec"] == Json::object());
  CHECK(decode(kNamespace132)["metadata"]["name"] == "demo2");
}

TEST_CASE("protobuf: configmap and secrets keep their data, bytes as base64") {
  Json cm = decode(kConfigMap);
  CHECK(cm["kind"] == "ConfigMap");
  CHECK(cm["metadata"]["name"] == "c");
  CHECK(cm["data"] == Json{{"a", "b"}});

  Json s = decode(kSecret);
  CHECK(s["metadata"]["name"] == "s");
  CHECK(s["data"] == Json{{"p", "cQ=="}});  // base64 of "q"
  CHECK_FALSE(s.contains("type"));          // kubectl left it empty: the server defaults it

  Json b = decode(kBinarySecret);
  CHECK(b["data"]["blob"] == "AP8QYmlu");  // 00 ff 10 'b' 'i' 'n'
  CHECK_NOTHROW((void)b.dump());
}

TEST_CASE("protobuf: kubectl create deployment") {
  Json d = decode(kDeployment);
  CHECK(d["apiVersion"] == "apps/v1");
  CHECK(d["kind"] == "Deployment");
  CHECK(d["metadata"]["name"] == "d");
  CHECK(d["metadata"]["labels"] == Json{{"app", "d"}});
  CHECK(d["spec"]["replicas"] == 2);
  CHECK(d["spec"]["selector"]["matchLabels"] == Json{{"app", "d"}});
  CHECK(d["spec"]["template"]["metadata"]["labels"] == Json{{"app", "d"}});
  auto& c = d["spec"]["template"]["spec"]["containers"];
  REQUIRE(c.size() == 1);
  CHECK(c[0]["name"] == "nginx");
  CHECK(c[0]["image"] == "nginx");
  CHECK(c[0]["ports"] == Json::parse(R"([{"containerPort":80}])"));
  CHECK_FALSE(c[0].contains("tty"));  // false, non-pointer: left out as in JSON
  CHECK(c[0]["resources"] == Json::object());

  // replicas is a pointer in Go: a 0 on the wire was asked for.
  CHECK(decode(kDeploymentZero)["spec"]["replicas"] == 0);

  Json cmd = decode(kDeploymentCommand);
  CHECK(cmd["spec"]["template"]["spec"]["containers"][0]["command"] == Json::parse(R"(["sleep","10"])"));
}

TEST_CASE("protobuf: kubectl create service, int and named target ports") {
  Json np = decode(kServiceNodePort);
  CHECK(np["kind"] == "Service");
  CHECK(np["spec"]["type"] == "NodePort");
  CHECK(np["spec"]["selector"] == Json{{"app", "n"}});
  CHECK(np["spec"]["ports"] == Json::parse(R"([{"name":"80-8080","port":80,"protocol":"TCP","targetPort":8080}])"));

  Json ci = decode(kServiceClusterIP);
  CHECK(ci["spec"]["type"] == "ClusterIP");
  CHECK(ci["spec"]["ports"][0]["port"] == 5678);
  CHECK(ci["spec"]["ports"][0]["targetPort"] == "http");
  CHECK_FALSE(ci["spec"].contains("clusterIP"));

  CHECK(decode(kServiceAccount)["metadata"]["name"] == "sa1");
}

TEST_CASE("protobuf: inline structs, quantities, times, negatives, unknown fields") {
  std::string container = msg(1, "c") + msg(2, "busybox") + msg(3, "sleep") + msg(3, "10") +
                          // livenessProbe: ProbeHandler (field 1) is inline in JSON
                          msg(10, msg(1, msg(1, msg(1, "true"))) + num(2, 5)) +
                          // readinessProbe.httpGet.port as a named IntOrString
                          msg(11, msg(1, msg(2, msg(2, num(1, 1) + msg(3, "http"))))) +
                          msg(8, entry(1, "memory", msg(2, msg(1, "64Mi"))));
  std::string spec = msg(1, msg(1, "tmp") + msg(2, msg(2, ""))) +  // volumes[0]: inline VolumeSource.emptyDir {}
                     msg(2, container) + num(4, 0) +               // terminationGracePeriodSeconds: 0 (pointer)
                     num(11, 0) +                                  // hostNetwork: false (plain, left out)
                     num(25, -5) +                                 // priority: ten-byte negative varint
                     entry(7, "disk", msg(2, "ssd")) + num(999, 7) + msg(998, "future field");
  std::string status = msg(7, num(1, 1700000000) + num(2, 500));
  std::string meta = msg(1, "p") + entry(11, "app", msg(2, "x")) + msg(8, num(1, 86400));
  Json pod = k1s::protobufToJson(envelope("v1", "Pod", msg(1, meta) + msg(2, spec) + msg(3, status)));

  CHECK(pod["metadata"]["name"] == "p");
  CHECK(pod["metadata"]["labels"] == Json{{"app", "x"}});
  CHECK(pod["metadata"]["creationTimestamp"] == "1970-01-02T00:00:00Z");
  CHECK(pod["status"]["startTime"] == "2023-11-14T22:13:20Z");
  auto& s = pod["spec"];
  CHECK(s["volumes"] == Json::parse(R"([{"name":"tmp","emptyDir":{}}])"));
  CHECK(s["terminationGracePeriodSeconds"] == 0);
  CHECK_FALSE(s.contains("hostNetwork"));
  CHECK(s["priority"] == -5);
  CHECK(s["nodeSelector"] == Json{{"disk", "ssd"}});
  auto& c = s["containers"][0];
  CHECK(c["command"] == Json::parse(R"(["sleep","10"])"));
  CHECK(c["livenessProbe"] == Json::parse(R"({"exec":{"command":["true"]},"initialDelaySeconds":5})"));
  CHECK(c["readinessProbe"]["httpGet"]["port"] == "http");
  CHECK(c["resources"]["limits"]["memory"] == "64Mi");
}

TEST_CASE("protobuf: malformed bodies are 400s") {
  std::string ns = unbase64(kNamespace);
  CHECK(statusOf("") == 400);
  CHECK(statusOf("{\"kind\":\"Namespace\"}") == 400);
  CHECK(statusOf(ns.substr(0, ns.size() - 3)) == 400);                         // truncated
  CHECK(statusOf(envelope("v1", "Frobnicator", "")) == 400);                   // unknown kind
  CHECK(statusOf(envelope("v1", "", "")) == 400);                              // no kind
  CHECK(statusOf(envelope("v1", "Namespace", num(1, 3))) == 400);              // metadata as a varint
  CHECK(statusOf(envelope("v1", "Namespace", msg(1, msg(1, "\xff\xfe")))) == 400);  // not UTF-8
  CHECK(statusOf(std::string("k8s\0", 4) + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff") == 400);
}

TEST_CASE("protobuf: embedded objects (RawExtension) decode, up to a depth limit") {
  auto nest = [](int levels) {
    std::string inner = envelope("v1", "Namespace", msg(1, msg(1, "inner")));
    for (int i = 0; i < levels; ++i) inner = envelope("v1", "WatchEvent", msg(1, "ADDED") + msg(2, msg(1, inner)));
    return inner;
  };
  Json ev = k1s::protobufToJson(nest(2));
  CHECK(ev["type"] == "ADDED");
  CHECK(ev["object"]["object"]["kind"] == "Namespace");
  CHECK(ev["object"]["object"]["metadata"]["name"] == "inner");
  CHECK(statusOf(nest(100)) == 400);
}

TEST_CASE("protobuf: decodeBody takes the protobuf media type") {
  httplib::Request req;
  req.body = unbase64(kConfigMap);
  req.headers.emplace("Content-Type", "application/vnd.kubernetes.protobuf");
  CHECK(k1s::decodeBody(req, 1 << 20)["data"]["a"] == "b");
  req.headers.clear();
  req.headers.emplace("Content-Type", "application/cbor");
  try {
    k1s::decodeBody(req, 1 << 20);
    FAIL("expected 415");
  } catch (const k1s::ApiError& e) {
    CHECK(e.code == 415);
  }
}

TEST_CASE("protobuf: random mutations of real bodies only ever throw ApiError") {
  std::vector<std::string> seeds;
  for (const char* b : {kNamespace, kConfigMap, kSecret, kBinarySecret, kDeployment, kDeploymentCommand,
                        kServiceNodePort, kServiceClusterIP, kServiceAccount})
    seeds.push_back(unbase64(b));
  std::mt19937 rng(1234);
  int decoded = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 5) {
        case 0: body[at] = char(rng()); break;                       // overwrite a byte
        case 1: body[at] = char(body[at] ^ (1 << (rng() % 8))); break;  // flip a bit
        case 2: body.resize(at); break;                              // truncate
        case 3: body.insert(at, 1, char(rng())); break;              // insert a byte
        default: body.insert(at, body.substr(at, rng() % 16)); break;  // repeat a run
      }
    }
    try {
      Json out = k1s::protobufToJson(body);
      (void)out.dump();  // whatever decodes must also serialize (valid UTF-8)
      ++decoded;
    } catch (const k1s::ApiError& e) {
      CHECK(e.code == 400);
      ++rejected;
    }
  }
  CHECK(decoded > 0);
  CHECK(rejected > 0);
}
