// `k1s port-forward TYPE/NAME [LOCAL:]REMOTE... [--address A,B]`: listens
// locally and carries each accepted connection to localhost:REMOTE inside the
// pod over its own WebSocket (/pods/NAME/portforward?ports=REMOTE, channel
// protocol: channel 0 data, channel 1 errors, each opened by a 2-byte
// little-endian port). One WebSocket per connection keeps connections
// independent: a refused one reports its error and the forward keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "cli/kubectl_streams.h"

namespace k1s::cli {

namespace {

struct PortPair {
  std::string localText, remoteText;  // as given (remote may be a port name)
  int local = 0, remote = 0;
};

std::mutex outMu;  // lines from connection threads never interleave

void say(std::ostream& o, const std::string& line) {
  std::lock_guard<std::mutex> l(outMu);
  o << line << std::endl;
}

// klog's error line, as kubectl's port-forward prints connection failures.
std::string klogError(const std::string& msg) {
  char ts[64];
  auto now = std::chrono::system_clock::now();
  time_t t = std::chrono::system_clock::to_time_t(now);
  tm tmv{};
  localtime_r(&t, &tmv);
  long us = static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000);
  snprintf(ts, sizeof ts, "E%02d%02d %02d:%02d:%02d.%06ld %7d portforward.go:424] ", tmv.tm_mon + 1, tmv.tm_mday,
           tmv.tm_hour, tmv.tm_min, tmv.tm_sec, us, static_cast<int>(getpid()));
  return ts + msg;
}

bool parsePortNumber(const std::string& s, int& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = atoi(s.c_str());
  return out <= 65535;
}

std::vector<PortPair> splitPorts(const std::vector<std::string>& specs) {
  std::vector<PortPair> out;
  for (auto& s : specs) {
    PortPair p;
    auto colon = s.find(':');
    if (colon == std::string::npos) {
      p.localText = p.remoteText = s;
    } else {
      p.localText = s.substr(0, colon);
      p.remoteText = s.substr(colon + 1);
      if (p.localText.empty()) p.localText = "0";  // ":80": any free local port
    }
    out.push_back(p);
  }
  return out;
}

// A container port of the pod by name ("http"), as kubectl resolves named ports.
int podNamedPort(const Json& pod, const std::string& name) {
  for (auto& c : pod.value("spec", Json::object()).value("containers", Json::array()))
    for (auto& p : c.value("ports", Json::array()))
      if (p.value("name", "") == name) return p.value("containerPort", 0);
  throw CliError("error: Pod '" + pod["metadata"].value("name", "") + "' does not have a named port '" + name + "'");
}

// kubectl's translateServicePortToTargetPort: the Service port given on the
// command line becomes the pod port its targetPort points at.
void translateServicePorts(std::vector<PortPair>& ports, const Json& svc, const Json& pod) {
  std::string svcName = svc["metadata"].value("name", "");
  const Json svcPorts = svc.value("spec", Json::object()).value("ports", Json::array());  // sp points into this
  for (auto& p : ports) {
    int portnum = 0;
    const Json* sp = nullptr;
    if (!parsePortNumber(p.remoteText, portnum)) {
      for (auto& s : svcPorts)
        if (s.value("name", "") == p.remoteText) sp = &s;
      if (!sp) throw CliError("error: Service '" + svcName + "' does not have a named port '" + p.remoteText + "'");
      portnum = sp->value("port", 0);
      if (p.localText == p.remoteText) p.localText = std::to_string(portnum);
    }
    sp = nullptr;
    for (auto& s : svcPorts)
      if (s.value("port", 0) == portnum) sp = &s;
    if (!sp) throw CliError("error: Service " + svcName + " does not have a service port " + std::to_string(portnum));
    Json tp = sp->value("targetPort", Json());
    int target = portnum;
    if (tp.is_number_integer() && tp.get<int>() != 0) target = tp.get<int>();
    if (tp.is_string()) {
      std::string t = tp.get<std::string>();
      if (!parsePortNumber(t, target)) target = podNamedPort(pod, t);
    }
    p.remoteText = std::to_string(target);
  }
}

// "localhost" means both loopbacks (either may be missing, like kubectl).
struct ListenAddr {
  std::string ip;
  bool v6 = false;
  bool optional = false;
};

std::vector<ListenAddr> listenAddresses(const Kubectl& k) {
  std::vector<std::string> given;
  for (auto& v : k.args.all("address")) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      if (comma > start) given.push_back(v.substr(start, comma - start));
      start = comma + 1;
    }
  }
  if (given.empty()) given = {"localhost"};
  std::vector<ListenAddr> out;
  for (auto& a : given) {
    if (a == "localhost") {
      out.push_back({"127.0.0.1", false, true});
      out.push_back({"::1", true, true});
      continue;
    }
    in_addr a4;
    in6_addr a6;
    if (inet_pton(AF_INET, a.c_str(), &a4) == 1) out.push_back({a, false, false});
    else if (inet_pton(AF_INET6, a.c_str(), &a6) == 1) out.push_back({a, true, false});
    else throw CliError("error: " + a + " is not a valid IP");
  }
  // Both loopbacks optional only while nothing else was asked for.
  bool onlyLocalhost = given.size() == 1 && given[0] == "localhost";
  if (!onlyLocalhost)
    for (auto& l : out) l.optional = false;
  return out;
}

int listenOn(const ListenAddr& a, int port, std::string& err) {
  int fd = socket(a.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (a.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, a.ip.c_str(), &s6->sin6_addr);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, a.ip.c_str(), &s4->sin_addr);
    len = sizeof *s4;
  }
  std::string where = std::string(a.v6 ? "tcp6 [" : "tcp4 ") + a.ip + (a.v6 ? "]:" : ":") + std::to_string(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 128) != 0) {
    err = "unable to create listener: Error listen " + where + ": bind: " +
          (errno == EADDRINUSE ? std::string("address already in use") : std::string(strerror(errno)));
    ::close(fd);
    return -1;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

bool sendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

struct Forward {
  Kubectl* k;  // only its output streams are used from connection threads
  ConnectionConfig conn;
  std::string ns, pod;
};

// Carries one accepted connection until either side is done.
void serveConnection(Forward& f, int sock, PortPair pp) {
  say(f.k->out, "Handling connection for " + std::to_string(pp.local));
  std::string where = std::to_string(pp.local) + " -> " + std::to_string(pp.remote);
  std::shared_ptr<ws::Connection> conn;
  std::string proto;
  try {
    conn = openPodWebSocket(f.conn, "/api/v1/namespaces/" + f.ns + "/pods/" + f.pod + "/portforward?ports=" +
                                      std::to_string(pp.remote),
                            {"v5.channel.k8s.io", "v4.channel.k8s.io"}, &proto);
  } catch (const StatusError& e) {
    say(f.k->err, klogError("an error occurred forwarding " + where + ": " + formatStatusError(e.status)));
    ::close(sock);
    if (e.code == 404) {  // the pod is gone: nothing left to forward to (kubectl stops too)
      say(f.k->err, "error: lost connection to pod");
      std::cout.flush();
      std::_Exit(1);
    }
    return;
  } catch (const std::exception& e) {
    say(f.k->err, klogError("an error occurred forwarding " + where + ": " + e.what()));
    ::close(sock);
    return;
  }
  bool v5 = proto == "v5.channel.k8s.io";
  int one = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  // Local -> pod on a second thread; pod -> local here.
  std::thread up([conn, sock, v5] {
    // The frame header and the channel byte go into the room in front of what recv() put in the
    // buffer; the masking is done in place: no copy per message.
    std::vector<char> buf(kFrameHeadroom + 65536);
    char* in = buf.data() + kFrameHeadroom;
    for (;;) {
      ssize_t n = ::recv(sock, in, buf.size() - kFrameHeadroom, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      in[-1] = static_cast<char>(kChanStdin);  // channel 0: the port's data
      if (!conn->sendInPlace(ws::Opcode::Binary, in - 1, static_cast<size_t>(n) + 1, kFrameHeadroom - 1)) return;
    }
    // The local side finished sending: half-close towards the pod when the
    // protocol can say so, otherwise end the whole stream.
    if (v5) conn->sendBinary(std::string{static_cast<char>(kChanClose), 0});
    else conn->close();
  });
  bool sawDataHeader = false, sawErrorHeader = false;
  std::string error;
  ws::Message m;
  try {
    while (conn->read(m)) {
      if (m.data.empty()) continue;
      auto ch = static_cast<unsigned char>(m.data[0]);
      if (ch == kChanClose) {  // v5: the pod closed its end; pass the EOF on, keep sending up
        if (m.data.size() == 2 && m.data[1] == 0) ::shutdown(sock, SHUT_WR);
        continue;
      }
      if (ch == 0) {
        size_t skip = 1;
        if (!sawDataHeader) {  // the first message of a channel names its port
          sawDataHeader = true;
          skip = std::min<size_t>(3, m.data.size());
        }
        if (m.data.size() > skip && !sendAll(sock, m.data.data() + skip, m.data.size() - skip)) break;
      } else if (ch == 1) {
        size_t skip = 1;
        if (!sawErrorHeader) {
          sawErrorHeader = true;
          skip = std::min<size_t>(3, m.data.size());
        }
        error.append(m.data, skip, std::string::npos);
      }
    }
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (!error.empty()) say(f.k->err, klogError("an error occurred forwarding " + where + ": " + error));
  ::shutdown(sock, SHUT_RDWR);  // unblocks the upward thread
  conn->close();
  conn->shutdown();
  up.join();
  ::close(sock);
}

}  // namespace

int cmdPortForward(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.size() < 2)
    throw CliError("error: TYPE/NAME and list of ports are required for port-forward\nSee 'k1s port-forward -h' for "
                   "help and examples");
  std::string ns = k.ns();
  auto ports = splitPorts({pos.begin() + 1, pos.end()});
  auto addrs = listenAddresses(k);
  Json pod = podForObject(k, pos[0], ns, podRunningTimeout(k));
  std::string phase = pod.value("status", Json::object()).value("phase", "");
  if (phase != "Running")
    throw CliError("error: unable to forward port because pod is not running. Current status=" + phase);
  if (Json svc = serviceForArg(k, pos[0], ns); svc.is_object()) translateServicePorts(ports, svc, pod);
  for (auto& p : ports) {
    // A port name is looked up in the pod first; given alone ("http") it names the local port too.
    if (!parsePortNumber(p.remoteText, p.remote)) {
      p.remote = podNamedPort(pod, p.remoteText);
      if (p.localText == p.remoteText) p.localText = std::to_string(p.remote);
    }
    if (!parsePortNumber(p.localText, p.local))
      throw CliError("error: error parsing local port '" + p.localText + "': strconv.ParseUint: parsing \"" +
                     p.localText + "\": invalid syntax");
    if (p.remote == 0) throw CliError("error: Remote port must be > 0");
  }

  // Ctrl-C and SIGTERM are taken by sigwait below; block them before any thread starts.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto fwd = std::make_shared<Forward>();
  fwd->k = &k;
  fwd->ns = ns;
  fwd->pod = pod["metadata"].value("name", "");
  fwd->conn = k.client().config();

  std::vector<std::pair<int, PortPair>> listeners;
  std::vector<std::string> failedPairs;
  for (auto& p : ports) {
    std::vector<std::string> errors;
    int opened = 0;
    int port = p.local;
    for (auto& a : addrs) {
      std::string err;
      int fd = listenOn(a, port, err);
      if (fd < 0) {
        errors.push_back(err);
        continue;
      }
      if (port == 0) port = boundPort(fd);  // the other loopback takes the same port
      PortPair bound = p;
      bound.local = port;
      listeners.emplace_back(fd, bound);
      ++opened;
      say(k.out, std::string("Forwarding from ") + (a.v6 ? "[" + a.ip + "]" : a.ip) + ":" + std::to_string(port) +
                     " -> " + std::to_string(p.remote));
    }
    bool required = std::any_of(addrs.begin(), addrs.end(), [](const ListenAddr& a) { return !a.optional; });
    if (opened == 0 || (required && !errors.empty())) {
      std::string all;
      for (auto& e : errors) all += (all.empty() ? "" : " ") + e;
      say(k.err, "Unable to listen on port " + std::to_string(p.local) +
                     ": Listeners failed to create with the following errors: [" + all + "]");
      if (opened == 0) failedPairs.push_back("{" + std::to_string(p.local) + " " + std::to_string(p.remote) + "}");
    }
  }
  if (listeners.empty()) {
    std::string all;
    for (auto& f : failedPairs) all += (all.empty() ? "" : " ") + f;
    throw CliError("error: unable to listen on any of the requested ports: [" + all + "]");
  }
  for (auto& [fd, pp] : listeners) {
    std::thread([fwd, fd = fd, pp = pp] {
      for (;;) {
        int s = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (s < 0) {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
            if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
          }
          return;
        }
        std::thread([fwd, s, pp] { serveConnection(*fwd, s, pp); }).detach();
      }
    }).detach();
  }
  int sig = 0;
  sigwait(&stop, &sig);
  // Ctrl-C ends the forward (exit 0, as kubectl); connection threads end with the process.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(0);
}

}  // namespace k1s::cli
