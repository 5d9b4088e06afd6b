// The API server's request helpers: query parameters read as Go's url.ParseQuery reads them.
#include <doctest/doctest.h>

#include "apiserver/http_resources.h"
#include "apiserver/http_util.h"
#include "common/errors.h"
#include "tests/unit/api_fixture.h"

namespace {

httplib::Request requestFor(const std::string& target) {
  httplib::Request req;
  req.method = "GET";
  req.target = target;
  req.path = target.substr(0, target.find('?'));
  return req;
}

}  // namespace

TEST_CASE("query parameters: a value keeps its own '=' (curl ?labelSelector=app=web)") {
  auto req = requestFor("/api/v1/namespaces/default/pods?labelSelector=app=web&fieldSelector=status.phase=Running");
  CHECK(k1s::queryParam(req, "labelSelector") == "app=web");
  CHECK(k1s::queryParam(req, "fieldSelector") == "status.phase=Running");
  CHECK(k1s::queryParam(req, "limit") == "");
}

TEST_CASE("query parameters: escapes, '+', the first occurrence, bare names") {
  auto req = requestFor("/api/v1/pods?labelSelector=tier+in+(a%2Cb)&limit=2&limit=3&watch&x%3Dy=1&bad=%zz");
  CHECK(k1s::queryParam(req, "labelSelector") == "tier in (a,b)");
  CHECK(k1s::queryParam(req, "limit") == "2");
  CHECK(k1s::queryParam(req, "watch") == "");
  CHECK(k1s::queryParam(req, "x=y") == "1");
  CHECK(k1s::queryParam(req, "bad") == "");
  CHECK(k1s::queryBool(requestFor("/api/v1/pods?watch=true"), "watch"));
  CHECK(!k1s::queryBool(requestFor("/api/v1/pods"), "watch"));
}

TEST_CASE("a subresource served elsewhere names its own resource in the 503") {
  // services/s/proxy used to say "pods/proxy is not available yet on this node".
  k1s::test::Api api;
  k1s::ApiServerOptions opts;
  for (auto [target, want] : {std::pair{"/api/v1/namespaces/default/services/s/proxy", "services/proxy"},
                              std::pair{"/api/v1/nodes/n/proxy", "nodes/proxy"},
                              std::pair{"/api/v1/namespaces/default/pods/p/log", "pods/log"}}) {
    auto req = requestFor(target);
    httplib::Response res;
    try {
      k1s::serveResource(*api.reg, opts, req, res);
      FAIL("no error for " << target);
    } catch (const k1s::ApiError& e) {
      CHECK(e.code == 503);
      CHECK(e.message == std::string(want) + " is not available yet on this node");
    }
  }
}
