// kube-apiserver's input limits (DESIGN rule 8) on each parser: JSON depth and UTF-8,
// YAML alias expansion and documents that consume nothing, JSON-patch copy growth,
// and the request checks made before a body is read.
#include <doctest/doctest.h>

#include <string>

#include "apiserver/http_limits.h"
#include "apiserver/http_util.h"
#include "common/errors.h"
#include "common/json_limits.h"
#include "common/patch.h"
#include "common/yaml.h"

using k1s::Json;

namespace {

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// go-yaml's billion laughs: nine levels of nine aliases of the level below.
std::string aliasBomb() {
  std::string y = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    char prev = char(c - 1);
    y += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) y += std::string(i ? "," : "") + "*" + prev;
    y += "]\n";
  }
  return y;
}

httplib::Request withHeaders(const std::string& method, std::initializer_list<std::pair<const char*, const char*>> h) {
  httplib::Request req;
  req.method = method;
  req.path = req.target = "/api/v1/namespaces/default/configmaps";
  for (auto& [k, v] : h) req.headers.emplace(k, v);
  return req;
}

}  // namespace

TEST_CASE("JSON: nesting deeper than 10000 is refused before parsing, as Go's decoder") {
  CHECK(k1s::parseJsonBounded(nested(10000)).is_array());
  CHECK(errorOf([] { k1s::parseJsonBounded(nested(10001)); }) == "exceeded max depth");
  CHECK(errorOf([] { k1s::parseJsonBounded(std::string(50000, '[')); }) == "exceeded max depth");
  // brackets inside strings do not count
  CHECK(k1s::parseJsonBounded("{\"a\":\"" + std::string(20000, '[') + "\"}")["a"].get<std::string>().size() == 20000);
  CHECK(k1s::jsonNestingDepth(R"({"a":"\"[[","b":[{}]})") == 3);
}

TEST_CASE("JSON: invalid UTF-8 in a string becomes U+FFFD; outside strings it stays a syntax error") {
  CHECK(k1s::parseJsonBounded("{\"a\":\"x\xffy\"}")["a"] == "x\xEF\xBF\xBDy");
  CHECK(k1s::coerceUtf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");   // overlong '/', one U+FFFD per byte
  CHECK(k1s::coerceUtf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(k1s::coerceUtf8("h\xC3\xA9 \xF0\x9F\x98\x80") == "h\xC3\xA9 \xF0\x9F\x98\x80");  // valid stays
  CHECK_THROWS(k1s::parseJsonBounded("\xff"));
  // and a Status that quotes such a name still serialises
  Json st = k1s::notFound("configmaps", "a\xff").toStatus();
  CHECK(k1s::dumpForWire(st).find("a\xEF\xBF\xBD") != std::string::npos);
}

TEST_CASE("JSON: depth of a built value and its text size, without recursion") {
  Json deep = Json::array();
  Json* cur = &deep;
  for (int i = 0; i < 20000; ++i) {
    cur->push_back(Json::array());
    cur = &(*cur)[0];
  }
  CHECK(k1s::jsonDeeperThan(deep));
  CHECK_FALSE(k1s::jsonDeeperThan(Json::parse(nested(10000))));
  Json v = Json::parse(R"({"a":[1,"x",null],"b":{}})");
  CHECK(k1s::jsonTextSize(v, 1000) == v.dump().size());
  CHECK(k1s::jsonTextSize(Json(std::string(5000, 'x')), 100) > 100);
}

TEST_CASE("YAML: a document that consumes nothing is an error, not an endless LoadAll") {
  CHECK(errorOf([] { k1s::parseYamlDocuments(",a"); }).find("did not find expected node content") != std::string::npos);
  CHECK(errorOf([] { k1s::parseYaml(",a"); }).find("yaml: ") == 0);
  CHECK(k1s::parseYamlDocuments("a: 1\n---\nb: 2\n---\n").size() == 2);  // the control
}

TEST_CASE("YAML: alias expansion is bounded as go-yaml bounds it (CVE-2019-11253)") {
  std::string err = errorOf([] { k1s::parseYaml(aliasBomb()); });
  CHECK(err.find("document contains excessive aliasing") != std::string::npos);
  // a few aliases, as real manifests use them, still expand
  Json j = k1s::parseYaml("base: &b {x: 1}\nitems: [*b, *b, *b]\n");
  CHECK(j["items"].size() == 3);
  CHECK(j["items"][2]["x"] == 1);
  // go-yaml's rule: over 100 alias nodes and 1000 nodes, at most 99% from aliases. An alias
  // of an anchor of S nodes decodes 1 + S nodes, S of them from the alias: the share passes
  // 99% once S passes 99.
  auto aliases = [](int anchorItems, int count) {
    std::string y = "a: &a [";
    for (int i = 0; i < anchorItems; ++i) y += std::string(i ? "," : "") + "x";
    y += "]\nb: [";
    for (int i = 0; i < count; ++i) y += std::string(i ? "," : "") + "*a";
    return y + "]\n";
  };
  CHECK(errorOf([&] { k1s::parseYaml(aliases(150, 1000)); }).find("excessive aliasing") != std::string::npos);
  CHECK(k1s::parseYaml(aliases(20, 2000))["b"].size() == 2000);  // 21/22 of the nodes: allowed
  std::string fine = "a: &a [x]\nb: [";
  for (int i = 0; i < 200; ++i) fine += std::string(i ? "," : "") + "*a";
  fine += "]\n";
  CHECK(k1s::parseYaml(fine)["b"].size() == 200);
}

TEST_CASE("YAML: bytes that are not UTF-8 are refused, as go-yaml's reader does") {
  CHECK(errorOf([] { k1s::parseYaml("a: \"\xff\"\n"); }) == "yaml: invalid leading UTF-8 octet");
  CHECK(k1s::parseYaml("a: \"\xC3\xA9\"\n")["a"] == "\xC3\xA9");
}

TEST_CASE("YAML: deep nesting is an error, not a crash") {
  CHECK(errorOf([] { k1s::parseYaml(std::string(50000, '[')); }).find("yaml: exceeded max depth of") == 0);
  CHECK_THROWS(k1s::parseYaml("x: " + std::string(50000, '{')));
  CHECK_THROWS(k1s::parseYaml(nested(20000)));  // JSON through the YAML entry
}

TEST_CASE("JSON patch: copies may add at most 3 MiB (json-patch AccumulatedCopySizeLimit as kube sets it)") {
  Json doc = {{"data", {{"a", std::string(100 * 1024, 'x')}}}};
  Json ops = Json::array();
  for (int i = 0; i < 40; ++i)  // 40 x 100 KiB = 4 MiB of copies
    ops.push_back({{"op", "copy"}, {"from", "/data/a"}, {"path", "/data/c" + std::to_string(i)}});
  try {
    k1s::jsonPatch(doc, ops);
    FAIL("the copy bomb applied");
  } catch (const k1s::ApiError& e) {
    CHECK(e.code == 422);  // kube: every failed op is NewGenericServerResponse(422)
    CHECK(e.reason == "Invalid");
  }
  ops.erase(ops.begin() + 20, ops.end());  // 2 MiB: allowed
  CHECK(k1s::jsonPatch(doc, ops)["data"].size() == 21);
  // the doubling bomb: copy the whole list into itself
  Json bomb = Json::array();
  bomb.push_back({{"op", "add"}, {"path", "/data/l"}, {"value", Json::array({std::string(1024, 'x')})}});
  for (int i = 0; i < 24; ++i) bomb.push_back({{"op", "copy"}, {"from", "/data/l"}, {"path", "/data/l/0"}});
  CHECK_THROWS_AS(k1s::jsonPatch(doc, bomb), k1s::ApiError);
}

TEST_CASE("request checks before the body: Content-Length, methods, bearer scheme") {
  httplib::Response res;
  CHECK(k1s::refuseBeforeBody(withHeaders("POST", {{"Content-Length", "-5"}}), res, 3 << 20));
  CHECK(res.status == 400);
  CHECK(res.get_header_value("Connection") == "close");
  CHECK(Json::parse(res.body)["reason"] == "BadRequest");
  res = {};
  CHECK(k1s::refuseBeforeBody(withHeaders("POST", {{"Content-Length", "18446744073709551617"}}), res, 3 << 20));
  CHECK(res.status == 400);
  res = {};
  CHECK(k1s::refuseBeforeBody(withHeaders("POST", {{"Content-Length", "4194304"}}), res, 3 << 20));
  CHECK(res.status == 413);
  CHECK(Json::parse(res.body)["message"] == "Request entity too large: limit is 3145728");
  res = {};
  CHECK_FALSE(k1s::refuseBeforeBody(withHeaders("POST", {{"Content-Length", "3145728"}}), res, 3 << 20));
  CHECK_FALSE(k1s::refuseBeforeBody(withHeaders("GET", {}), res, 3 << 20));
  CHECK(k1s::refuseBeforeBody(withHeaders("TRACE", {}), res, 3 << 20));
  CHECK(res.status == 405);
  CHECK(Json::parse(res.body)["reason"] == "MethodNotAllowed");
  CHECK(k1s::asciiIEquals("bearer", "BeArEr"));
  CHECK_FALSE(k1s::asciiIEquals("bearer", "bearer "));
}

TEST_CASE("bodies: patch media types only on PATCH, */* never (kube 415)") {
  auto req = withHeaders("POST", {{"Content-Type", "application/merge-patch+json"}});
  req.body = "{}";
  CHECK_THROWS_WITH_AS(k1s::decodeBody(req, 3 << 20), doctest::Contains("the body of the request"), k1s::ApiError);
  req.headers = {{"Content-Type", "*/*"}};
  try {
    k1s::decodeBody(req, 3 << 20);
    FAIL("*/* decoded");
  } catch (const k1s::ApiError& e) {
    CHECK(e.code == 415);
  }
  req.method = "PATCH";
  req.headers = {{"Content-Type", "application/merge-patch+json"}};
  CHECK(k1s::decodeBody(req, 3 << 20).is_object());
  req.method = "POST";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = nested(10001);
  try {
    k1s::decodeBody(req, 3 << 20);
    FAIL("too deep decoded");
  } catch (const k1s::ApiError& e) {
    CHECK(e.code == 400);
    CHECK(std::string(e.what()).find("exceeded max depth") != std::string::npos);
  }
}
