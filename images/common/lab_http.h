// A tiny HTTP/1.1 server for the lab images: one thread per connection, one request per
// connection (Connection: close), so it needs nothing beyond libc and links statically.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

namespace lab {

struct Request {
  std::string method, path, query, version, body, peer;
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct Response {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

inline const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline bool sendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one request (headers, then Content-Length bytes of body); false on a malformed or cut one.
inline bool readRequest(int fd, Request& req) {
  std::string buf;
  char chunk[4096];
  size_t headerEnd;
  while ((headerEnd = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > 64 * 1024) return false;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
  size_t lineEnd = buf.find("\r\n");
  std::string first = buf.substr(0, lineEnd);
  size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return false;
  req.method = first.substr(0, sp1);
  std::string target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  req.version = first.substr(sp2 + 1);
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  size_t pos = lineEnd + 2;
  while (pos < headerEnd) {
    size_t e = buf.find("\r\n", pos);
    std::string line = buf.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    req.headers[lower(line.substr(0, colon))] = value;
  }
  size_t want = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    // Digits only: std::stoul threw on "x" or a 30-digit value, and an exception leaving a
    // connection thread ends the whole process.
    const std::string& v = it->second;
    size_t end = v.find_last_not_of(" \t") + 1;
    if (v.empty() || end > 8 || v.find_first_not_of("0123456789") < end) return false;
    want = std::strtoul(v.c_str(), nullptr, 10);
  }
  if (want > 1024 * 1024) return false;
  req.body = buf.substr(headerEnd + 4);
  while (req.body.size() < want) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    req.body.append(chunk, static_cast<size_t>(n));
  }
  req.body.resize(want);
  return true;
}

inline void logLine(const std::string& line) {
  char ts[32];
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);  // gmtime's one static buffer is shared by every connection thread
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &utc);
  // stdout is a pipe to the container log: flush per line so `kubectl logs` sees it at once.
  std::printf("%s %s\n", ts, line.c_str());
  std::fflush(stdout);
}

using Handler = std::function<Response(const Request&)>;

inline void serveConnection(int fd, std::string peer, const Handler& handler) {
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // a client that never reads cannot hold us
  Request req;
  req.peer = std::move(peer);
  Response res;
  try {
    if (!readRequest(fd, req)) {
      res.status = 400;
      res.body = "bad request\n";
    } else {
      res = handler(req);
      logLine(req.method + " " + req.path + " " + std::to_string(res.status) + " from " + req.peer);
    }
  } catch (...) {  // nothing may escape a connection thread: it would end the process
    res = Response{500, "text/plain; charset=utf-8", "internal error\n"};
  }
  std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " + reasonPhrase(res.status) +
                     "\r\nContent-Type: " + res.contentType + "\r\nContent-Length: " +
                     std::to_string(res.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (sendAll(fd, head) && req.method != "HEAD") sendAll(fd, res.body);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

// Listens on 0.0.0.0:port (and [::]:port when IPv6 is there) and serves forever.
// SIGTERM ends the process at once: there is no state worth draining.
// At most this many connections are served at once; accept waits for a free slot, so a flood
// queues in the listen backlog instead of creating threads until memory or pids run out.
constexpr int kMaxConnections = 256;

// Owns one connection slot for a connection thread's lifetime.
struct ConnectionSlots {
  std::mutex mu;
  std::condition_variable freed;
  int used = 0;
  void acquire() {
    std::unique_lock lock(mu);
    freed.wait(lock, [&] { return used < kMaxConnections; });
    used++;
  }
  void release() {
    std::lock_guard lock(mu);
    used--;
    freed.notify_one();
  }
};

inline int serve(int port, const std::string& name, Handler handler) {
  signal(SIGTERM, [](int) { _exit(0); });
  signal(SIGINT, [](int) { _exit(0); });
  // A write to a pipe or socket whose reader is gone must be an error, not the end of the process.
  signal(SIGPIPE, SIG_IGN);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    std::fprintf(stderr, "%s: cannot listen on :%d: %s\n", name.c_str(), port, std::strerror(errno));
    return 1;
  }
  logLine(name + " listening on :" + std::to_string(port));
  static ConnectionSlots slots;  // outlives every detached connection thread
  for (;;) {
    slots.acquire();
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int c = ::accept(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    if (c < 0) {
      slots.release();
      continue;
    }
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    try {
      std::thread([c, p = std::string(ip), &handler] {
        serveConnection(c, p, handler);
        slots.release();
      }).detach();
    } catch (const std::system_error&) {  // no thread (memory, pids limit): drop this client, keep serving
      ::close(c);
      slots.release();
    }
  }
}

inline std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace lab
