// The lab page (apiserver/ui/index.html.inc), embedded as a raw string: the compiler's dependency
// scan sees the #include, so editing the page rebuilds this file without any build-system rule.
#include "apiserver/ui.h"

#include <httplib.h>

#include <string_view>

namespace k1s {

namespace {

constexpr std::string_view kIndexHtml =
#include "apiserver/ui/index.html.inc"
    ;

}  // namespace

bool serveUi(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (path != "/ui" && path.rfind("/ui/", 0) != 0) return false;
  // Served at /ui too (not redirected): `k1s proxy` relays status and body but not Location.
  if (path != "/ui" && path != "/ui/" && path != "/ui/index.html") {
    res.status = 404;
    res.set_content("404 page not found\n", "text/plain; charset=utf-8");
    return true;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("405 method not allowed\n", "text/plain; charset=utf-8");
    return true;
  }
  // The page may talk only to this origin and load nothing from elsewhere (it is offline by design).
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                 "img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.status = 200;
  res.set_content(std::string(kIndexHtml), "text/html; charset=utf-8");
  return true;
}

}  // namespace k1s
