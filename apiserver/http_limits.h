// Refusals decided before a request reaches the API handlers: what httplib would
// otherwise hold a connection for, or answer with an empty body (DESIGN rules 7, 8).
#pragma once
#include <httplib.h>

#include <cstddef>
#include <string_view>

namespace k1s {

// ASCII case-insensitive comparison (HTTP schemes and tokens).
bool asciiIEquals(std::string_view a, std::string_view b);

// Checks a request whose body httplib has not read yet: a method kube does not
// serve is 405, a Content-Length that is not a decimal number is 400 (Go's
// net/http refuses it at once; httplib read it as a huge length and waited for
// the read timeout), a declared length over `maxBody` is 413 without reading it.
// Returns true when `res` holds the refusal; the connection is then closed, as
// its unread body would otherwise be taken for the next request.
bool refuseBeforeBody(const httplib::Request& req, httplib::Response& res, size_t maxBody);

// For httplib's own error answers (a malformed request line, an unknown method,
// a URI over its limit, a body cut at its payload limit): gives the bare status
// code a Status body. Answers that already carry a body are left alone.
void statusForBareError(const httplib::Request& req, httplib::Response& res);

}  // namespace k1s
