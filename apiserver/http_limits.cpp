#include "apiserver/http_limits.h"

#include <string>

#include "apiserver/http_util.h"
#include "common/errors.h"

namespace k1s {

namespace {

bool servedMethod(const std::string& m) {
  return m == "GET" || m == "HEAD" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "OPTIONS";
}

ApiError methodNotAllowed() {
  return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

}  // namespace

bool asciiIEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool refuseBeforeBody(const httplib::Request& req, httplib::Response& res, size_t maxBody) {
  auto refuse = [&](const ApiError& e) {
    sendError(res, e);
    res.set_header("Connection", "close");
    return true;
  };
  if (!servedMethod(req.method)) return refuse(methodNotAllowed());
  if (!req.has_header("Content-Length")) return false;
  // Go's net/http: strconv.ParseUint(v, 10, 63) after trimming spaces; no sign, no hex.
  std::string v = req.get_header_value("Content-Length");
  auto b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
  std::string_view digits = b == std::string::npos ? std::string_view() : std::string_view(v).substr(b, e - b + 1);
  bool number = !digits.empty() && digits.size() <= 18;  // 18 digits stay below 2^63
  for (char c : digits) number = number && c >= '0' && c <= '9';
  if (!number) return refuse(badRequest("bad Content-Length: \"" + v + "\""));
  if (std::stoull(std::string(digits)) > maxBody)
    return refuse(tooLarge("Request entity too large: limit is " + std::to_string(maxBody)));
  return false;
}

void statusForBareError(const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty() || res.status < 400) return;
  switch (res.status) {
    case 400:
      // httplib refuses a request line with a method it does not know before any handler runs;
      // a whole request line (method, target, version) with such a method is kube's 405, a
      // line that is not one at all stays a 400.
      if (!req.version.empty() && !servedMethod(req.method)) return sendError(res, methodNotAllowed());
      return sendError(res, badRequest("the request could not be parsed"));
    case 404: return sendError(res, ApiError(404, "NotFound", "the server could not find the requested resource"));
    case 405: return sendError(res, methodNotAllowed());
    case 413: return sendError(res, tooLarge("Request entity too large: the request body is too large"));
    case 414: return sendError(res, ApiError(414, "RequestURITooLong", "the request URI is too long"));
    case 431:
      return sendError(res, ApiError(431, "RequestHeaderFieldsTooLarge", "the request header fields are too large"));
    default: return sendError(res, ApiError(res.status, "InternalError", "Internal error occurred: the request failed"));
  }
}

}  // namespace k1s
