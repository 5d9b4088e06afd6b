#include "apiserver/http_util.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <string_view>

#include "apiserver/protobuf.h"
#include "common/json_limits.h"
#include "common/yaml.h"

namespace k1s {

void sendJson(httplib::Response& res, int code, const Json& body) {
  res.status = code;
  res.set_content(dumpForWire(body), "application/json");
}

void sendError(httplib::Response& res, const ApiError& e) { sendJson(res, e.code, e.toStatus()); }

namespace {

// Go's url.QueryUnescape: %XX and '+' as a space; false on a broken escape.
bool queryUnescape(std::string_view in, std::string& out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      int hi = i + 1 < in.size() ? hex(in[i + 1]) : -1, lo = i + 2 < in.size() ? hex(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return false;
      out += char(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

}  // namespace

// Read from the raw query as Go's url.ParseQuery reads it: a value runs from the
// first '=' to the next '&', so `?labelSelector=app=web` from curl means app=web
// (httplib's own parser keeps only what follows the last '='). The first
// occurrence wins, as in Go's Values.Get.
std::string queryParam(const httplib::Request& req, const char* name) {
  auto q = req.target.find('?');
  if (q == std::string::npos) return req.has_param(name) ? req.get_param_value(name) : "";
  std::string_view query(req.target);
  query.remove_prefix(q + 1);
  std::string key, value;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq), v = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (!queryUnescape(k, key) || key != name) continue;
    // Go keeps invalid UTF-8 in a query value; every use of it here ends in a Status
    // message (a selector error, say), which must stay valid JSON: U+FFFD, as Go prints it.
    if (queryUnescape(v, value)) return coerceUtf8(value);
  }
  return "";
}

bool queryBool(const httplib::Request& req, const char* name) {
  auto v = queryParam(req, name);
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

bool acceptsAs(const httplib::Request& req, const std::string& what) {
  std::string accept = req.get_header_value("Accept");
  // Only the first media range counts: kubectl lists Table first, JSON as fallback.
  auto first = accept.substr(0, accept.find(','));
  return first.find("as=" + what + ";") != std::string::npos ||
         (first.size() >= what.size() + 3 && first.compare(first.size() - what.size() - 3, std::string::npos, "as=" + what) == 0);
}

Json decodeBody(const httplib::Request& req, size_t maxBytes) {
  if (req.body.size() > maxBytes)
    throw tooLarge("Request entity too large: limit is " + std::to_string(maxBytes));  // kube's limitedReadBody
  std::string ct = req.get_header_value("Content-Type");
  auto semi = ct.find(';');
  std::string media = ct.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (req.body.empty()) throw badRequest("the request body is empty");
  // The patch types are bodies of PATCH only, and `*/*` names no decoder: kube's
  // NegotiateInputSerializer refuses both on POST and PUT with 415.
  bool patch = req.method == "PATCH";
  if (media.empty() || media == "application/json" ||
      (patch && (media == "application/merge-patch+json" || media == "application/json-patch+json" ||
                 media == "application/strategic-merge-patch+json"))) {
    try {
      return parseJsonBounded(req.body);
    } catch (std::exception& e) {
      throw badRequest(std::string("couldn't get version/kind; json parse error: ") + e.what());
    }
  }
  if (media == "application/yaml" || (patch && media == "application/apply-patch+yaml") ||
      media == "application/x-yaml" || media == "text/yaml") {
    try {
      return parseYaml(req.body);
    } catch (std::exception& e) {
      throw badRequest(std::string("error converting YAML to JSON: ") + e.what());
    }
  }
  // kubectl 1.32+ sends its typed create verbs as protobuf; answers stay JSON.
  if (media == "application/vnd.kubernetes.protobuf") return protobufToJson(req.body);
  throw unsupportedMediaType(ct);
}

bool peerClosed(const httplib::Request& req) {
  if (!req.ssl) return false;
  int fd = SSL_get_fd(req.ssl);
  if (fd < 0) return false;
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace k1s
