// kiamol/ch03-numbers-web: a web page that asks the numbers API for a random number.
// The API address comes from RngApi__Url; the call has a 3 s budget (name lookup included),
// so a missing Service shows "RNG service unavailable!" quickly instead of hanging the page.
// The style sheet is read from /app/site.css, which is what differs between v1 and v2.
#include <fcntl.h>
#include <poll.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "images/common/lab_dns.h"
#include "images/common/lab_http.h"

namespace {

const char* kDefaultApiUrl = "http://numbers-api/sixeyed/kiamol/master/ch03/numbers/rng";
std::string apiUrl, styleSheet;

std::string htmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

using Clock = std::chrono::steady_clock;

int msLeft(Clock::time_point deadline) {
  return int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
}

// GET url within the deadline; the body of a 200 response, or nullopt for anything else.
std::optional<std::string> httpGet(const std::string& url, Clock::time_point deadline) {
  if (url.rfind("http://", 0) != 0) return std::nullopt;
  std::string rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string hostPort = rest.substr(0, slash), path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = hostPort;
  int port = 80;
  if (size_t colon = hostPort.rfind(':'); colon != std::string::npos) {
    host = hostPort.substr(0, colon);
    port = std::atoi(hostPort.c_str() + colon + 1);
  }
  auto addr = lab::resolveHost(host, deadline);
  if (!addr) {
    lab::logLine("cannot resolve " + host);
    return std::nullopt;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr = *addr;
  std::string response;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, std::max(0, msLeft(deadline))) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err == 0) {
      std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + hostPort +
                        "\r\nAccept: */*\r\nConnection: close\r\nUser-Agent: kiamol-numbers-web\r\n\r\n";
      size_t off = 0;
      while (off < req.size()) {
        ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
        if (n > 0) { off += size_t(n); continue; }
        if (n < 0 && errno == EAGAIN && ::poll(&p, 1, std::max(0, msLeft(deadline))) == 1) continue;
        break;
      }
      // Connection: close, so the response ends when the server closes its side.
      char buf[4096];
      pollfd in{fd, POLLIN, 0};
      while (off == req.size() && msLeft(deadline) > 0 && ::poll(&in, 1, msLeft(deadline)) == 1) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) { response.append(buf, size_t(n)); continue; }
        if (n < 0 && errno == EAGAIN) continue;
        ok = n == 0;
        break;
      }
    }
  }
  ::close(fd);
  if (!ok) {
    lab::logLine("no response from " + url);
    return std::nullopt;
  }
  size_t headerEnd = response.find("\r\n\r\n");
  if (headerEnd == std::string::npos || response.compare(0, 5, "HTTP/") != 0 || response.size() < 12)
    return std::nullopt;
  if (response.compare(9, 3, "200") != 0) {
    lab::logLine("API returned " + response.substr(9, 3));
    return std::nullopt;
  }
  std::string body = response.substr(headerEnd + 4);
  body.erase(body.find_last_not_of(" \r\n\t") + 1);
  return body;
}

std::string page(const std::string& result) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>KIAMOL Random Number Generator</title>\n<style>\n" << styleSheet << "</style>\n</head>\n<body>\n"
    << "<main>\n<h1>KIAMOL Random Number Generator</h1>\n"
    << "<form method=\"post\" action=\"/\">\n<button type=\"submit\" id=\"go\">Go!</button>\n</form>\n";
  if (!result.empty())
    o << "<p class=\"result\">" << htmlEscape(result) << "</p>\n"
      << "<p class=\"api\">(Using API at: " << htmlEscape(apiUrl) << ")</p>\n";
  o << "</main>\n</body>\n</html>\n";
  return o.str();
}

lab::Response handle(const lab::Request& req) {
  lab::Response res;
  res.contentType = "text/html; charset=utf-8";
  if (req.path == "/healthz") {
    res.contentType = "text/plain";
    res.body = "OK";
  } else if (req.path != "/" && req.path != "/index.html") {
    res.status = 404;
    res.body = "<h1>Not found</h1>\n";
  } else if (req.method == "POST") {
    auto number = httpGet(apiUrl, Clock::now() + std::chrono::seconds(3));
    res.body = page(number ? "Here it is: " + *number : "RNG service unavailable!");
  } else if (req.method == "GET" || req.method == "HEAD") {
    res.body = page("");
  } else {
    res.status = 405;
    res.body = "<h1>Method not allowed</h1>\n";
  }
  return res;
}

}  // namespace

int main() {
  apiUrl = lab::envOr("RngApi__Url", kDefaultApiUrl);
  std::ifstream css(lab::envOr("STYLE_SHEET", "/app/site.css"));
  styleSheet.assign(std::istreambuf_iterator<char>(css), std::istreambuf_iterator<char>());
  lab::logLine("using API at " + apiUrl);
  return lab::serve(std::stoi(lab::envOr("PORT", "80")), "numbers-web", handle);
}
