// Helpers shared by the API server's HTTP handlers.
#pragma once
#include <httplib.h>

#include <string>

#include "common/errors.h"
#include "common/json.h"

namespace k1s {

void sendJson(httplib::Response& res, int code, const Json& body);
void sendError(httplib::Response& res, const ApiError& e);
std::string queryParam(const httplib::Request& req, const char* name);
// Go's strconv.ParseBool, as kube reads boolean query parameters (1, t, T, TRUE, true, True).
bool queryBool(const httplib::Request& req, const char* name);
// True when the Accept header's first choice asks for `as=<what>`.
bool acceptsAs(const httplib::Request& req, const std::string& what);
// Parses a request body as JSON, YAML or Kubernetes protobuf per Content-Type; throws 400/415/413.
Json decodeBody(const httplib::Request& req, size_t maxBytes);
// True when the peer closed its side of the connection (TLS requests only).
bool peerClosed(const httplib::Request& req);

}  // namespace k1s
