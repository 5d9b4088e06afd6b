// The API server's request helpers: query parameters read as Go's url.ParseQuery reads them.
#include <doctest/doctest.h>

#include "apiserver/http_util.h"

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
