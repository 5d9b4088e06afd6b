#include "kubelet/pod_probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace k1s {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

int msLeft(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : (int)ms;
}

// Connects with a deadline; returns the fd or -1 with `err` in Go's dial wording.
int dialTcp(const std::string& host, int port, Clock::time_point deadline, std::string& err) {
  std::string addr = host + ":" + std::to_string(port);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    err = "dial tcp: lookup " + host + ": no such host";
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("socket: ") + strerror(errno);
    return -1;
  }
  if (connect(fd, (sockaddr*)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
    err = "dial tcp " + addr + ": connect: " + strerror(errno);
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, msLeft(deadline)) <= 0) {
    err = "dial tcp " + addr + ": i/o timeout";
    close(fd);
    return -1;
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    std::string e = strerror(soerr);
    for (auto& c : e) c = (char)tolower((unsigned char)c);
    err = "dial tcp " + addr + ": connect: " + e;
    close(fd);
    return -1;
  }
  return fd;
}

ActionResult httpGet(const Json& h, const Json& container, const std::string& podIP, int timeoutSeconds) {
  std::string host = h.value("host", "");
  if (host.empty()) host = podIP;
  int port = resolvePort(h.contains("port") ? h["port"] : Json(), container);
  std::string path = h.value("path", "");
  if (path.empty() || path[0] != '/') path = "/" + path;
  std::string scheme = h.value("scheme", "HTTP");
  std::string url = (scheme == "HTTPS" ? "https://" : "http://") + host + ":" + std::to_string(port) + path;
  auto deadline = Clock::now() + std::chrono::seconds(timeoutSeconds < 1 ? 1 : timeoutSeconds);
  std::string err;
  Fd fd(dialTcp(host, port, deadline, err));
  if (fd.fd < 0) return {false, "Get \"" + url + "\": " + err};
  // No TLS client here: an HTTPS probe only checks that the port accepts connections.
  if (scheme == "HTTPS") return {true, ""};
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n";
  for (auto& hd : h.value("httpHeaders", Json::array())) req += hd.value("name", "") + ": " + hd.value("value", "") + "\r\n";
  req += "\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    pollfd p{fd.fd, POLLOUT, 0};
    if (poll(&p, 1, msLeft(deadline)) <= 0) return {false, "Get \"" + url + "\": context deadline exceeded"};
    ssize_t n = send(fd.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return {false, "Get \"" + url + "\": write: " + strerror(errno)};
    sent += n;
  }
  std::string resp;
  while (resp.find("\r\n") == std::string::npos) {
    pollfd p{fd.fd, POLLIN, 0};
    if (poll(&p, 1, msLeft(deadline)) <= 0)
      return {false, "Get \"" + url + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"};
    char buf[1024];
    ssize_t n = recv(fd.fd, buf, sizeof buf, 0);
    if (n <= 0) return {false, "Get \"" + url + "\": EOF"};
    resp.append(buf, n);
  }
  int code = 0;
  if (sscanf(resp.c_str(), "HTTP/%*s %d", &code) != 1) return {false, "Get \"" + url + "\": malformed HTTP response"};
  if (code >= 200 && code < 400) return {true, ""};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(code)};
}

ActionResult tcpSocket(const Json& t, const Json& container, const std::string& podIP, int timeoutSeconds) {
  std::string host = t.value("host", "");
  if (host.empty()) host = podIP;
  int port = resolvePort(t.contains("port") ? t["port"] : Json(), container);
  std::string err;
  Fd fd(dialTcp(host, port, Clock::now() + std::chrono::seconds(timeoutSeconds < 1 ? 1 : timeoutSeconds), err));
  if (fd.fd < 0) return {false, err};
  return {true, ""};
}

ActionResult execAction(const Json& e, Runtime& rt, const std::string& id, int timeoutSeconds) {
  std::vector<std::string> argv;
  for (auto& a : e.value("command", Json::array()))
    if (a.is_string()) argv.push_back(a);
  if (argv.empty()) return {false, "exec: no command"};
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return {false, std::string("pipe: ") + strerror(errno)};
  Fd rd(pipefd[0]);
  Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int pid;
  try {
    pid = rt.exec(id, argv, {}, devnull.fd, pipefd[1], pipefd[1], false);
  } catch (std::exception& ex) {
    close(pipefd[1]);
    return {false, ex.what()};
  }
  close(pipefd[1]);
  std::string out;
  auto deadline = Clock::now() + std::chrono::seconds(timeoutSeconds < 1 ? 1 : timeoutSeconds);
  bool timedOut = false;
  while (true) {
    pollfd p{rd.fd, POLLIN, 0};
    int r = poll(&p, 1, msLeft(deadline));
    if (r == 0) {
      timedOut = true;
      break;
    }
    if (r < 0 && errno == EINTR) continue;
    char buf[4096];
    ssize_t n = read(rd.fd, buf, sizeof buf);
    if (n <= 0) break;
    if (out.size() < 10240) out.append(buf, n);
  }
  if (timedOut) {
    kill(pid, SIGKILL);
    rt.waitExec(pid);
    return {false, "command timed out: \"" + argv[0] + "\" timed out after " + std::to_string(timeoutSeconds) + "s"};
  }
  int code = rt.waitExec(pid);
  if (code == 0) return {true, out};
  if (out.empty()) {
    std::string cmd;
    for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return {false, "command \"" + cmd + "\" exited with " + std::to_string(code)};
  }
  return {false, out};
}

}  // namespace

int resolvePort(const Json& port, const Json& container) {
  if (port.is_number_integer()) return port.get<int>();
  if (port.is_string()) {
    std::string s = port;
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoi(s);
    for (auto& p : container.value("ports", Json::array()))
      if (p.value("name", "") == s) return p.value("containerPort", 0);
  }
  return 0;
}

ActionResult runAction(const Json& action, const Json& container, Runtime& rt, const std::string& containerId,
                       const std::string& podIP, int timeoutSeconds) {
  if (action.contains("exec")) return execAction(action["exec"], rt, containerId, timeoutSeconds);
  if (action.contains("httpGet")) return httpGet(action["httpGet"], container, podIP, timeoutSeconds);
  if (action.contains("tcpSocket")) return tcpSocket(action["tcpSocket"], container, podIP, timeoutSeconds);
  if (action.contains("sleep")) {
    std::this_thread::sleep_for(std::chrono::seconds(action["sleep"].value("seconds", 0)));
    return {true, ""};
  }
  return {false, "unsupported probe handler"};
}

const char* ProbeWorker::kindName(Kind k) {
  switch (k) {
    case Kind::Liveness: return "Liveness";
    case Kind::Readiness: return "Readiness";
    case Kind::Startup: return "Startup";
  }
  return "";
}

ProbeWorker::ProbeWorker(Kind kind, Json probe, Json container, Runtime& rt, std::string containerId,
                         std::string podIP, Callbacks cb)
    : kind_(kind), probe_(std::move(probe)), container_(std::move(container)), rt_(rt), id_(std::move(containerId)),
      podIP_(std::move(podIP)), cb_(std::move(cb)) {
  success_ = kind == Kind::Liveness;
  thread_ = std::thread([this] { run(); });
}

ProbeWorker::~ProbeWorker() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProbeWorker::run() {
  auto num = [&](const char* k, int d) {
    return probe_.contains(k) && probe_[k].is_number_integer() ? probe_[k].get<int>() : d;
  };
  int initialDelay = num("initialDelaySeconds", 0), period = std::max(1, num("periodSeconds", 10));
  int timeout = std::max(1, num("timeoutSeconds", 1));
  int successThreshold = std::max(1, num("successThreshold", 1));
  int failureThreshold = std::max(1, num("failureThreshold", 3));
  auto wait = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    return !cv_.wait_for(l, d, [&] { return stop_; });
  };
  if (!wait(std::chrono::seconds(initialDelay))) return;
  int successes = 0, failures = 0;
  while (true) {
    bool gated = kind_ != Kind::Startup && cb_.startupDone && !cb_.startupDone();
    bool finished = fired_ || (kind_ == Kind::Startup && success_);
    if (!gated && !finished) {
      ActionResult r = runAction(probe_, container_, rt_, id_, podIP_, timeout);
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stop_) return;
      }
      if (r.ok) {
        failures = 0;
        if (++successes >= successThreshold && !success_) {
          success_ = true;
          if (cb_.changed) cb_.changed();
        }
      } else {
        successes = 0;
        std::string msg = r.message;
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
        if (cb_.failed) cb_.failed(std::string(kindName(kind_)) + " probe failed: " + msg);
        if (++failures >= failureThreshold && (success_ || kind_ == Kind::Startup)) {
          // Liveness and startup failures end this container instance; the
          // worker stays quiet until the kubelet replaces it.
          success_ = false;
          fired_ = kind_ != Kind::Readiness;
          if (cb_.changed) cb_.changed();
        }
      }
    }
    if (!wait(std::chrono::seconds(period))) return;
  }
}

}  // namespace k1s
