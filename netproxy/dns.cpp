// Cluster DNS server: one UDP loop and one TCP acceptor (a thread per TCP
// connection, bounded, with an idle timeout). Cluster names come from the
// zone; other names from /etc/hosts; else the upstream if set, else REFUSED.
#include "netproxy/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/errors.h"
#include "common/informer.h"
#include "common/log.h"
#include "netproxy/dns_wire.h"
#include "netproxy/dns_zone.h"

namespace k1s {

using namespace dns;

namespace {

constexpr int kMaxTcpConnections = 64;
constexpr int kTcpIdleMs = 10000;
constexpr int kPollMs = 200;  // how quickly loops notice stop()

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

sockaddr_in makeAddr(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) throw std::runtime_error("dns: bad listen IP " + ip);
  return a;
}

// /etc/hosts, re-read when its modification time changes.
class HostsFile {
 public:
  explicit HostsFile(std::string path) : path_(std::move(path)) {}
  // Addresses of `name` (empty when unknown); `known` tells whether the name exists at all.
  std::vector<std::string> lookup(const std::string& name, bool& known) {
    std::lock_guard<std::mutex> l(mu_);
    reload();
    auto it = byName_.find(name);
    known = it != byName_.end();
    return known ? it->second : std::vector<std::string>{};
  }
  std::string reverse(const std::string& ip) {
    std::lock_guard<std::mutex> l(mu_);
    reload();
    auto it = byIP_.find(ip);
    return it == byIP_.end() ? "" : it->second;
  }

 private:
  void reload() {
    struct stat st{};
    if (stat(path_.c_str(), &st) != 0) return;
    if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec) return;
    mtime_ = st.st_mtim;
    byName_.clear();
    byIP_.clear();
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      line = line.substr(0, line.find('#'));
      std::istringstream ls(line);
      std::string ip, name;
      if (!(ls >> ip)) continue;
      while (ls >> name) {
        name = lower(name);
        while (!name.empty() && name.back() == '.') name.pop_back();
        byName_[name].push_back(ip);
        byIP_.emplace(ip, name);
      }
    }
  }
  std::string path_;
  std::mutex mu_;
  timespec mtime_{};
  std::map<std::string, std::vector<std::string>> byName_;
  std::map<std::string, std::string> byIP_;
};

bool writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += size_t(w);
  }
  return true;
}

}  // namespace

struct ClusterDns::Impl {
  Client& client;
  DnsOptions opts;
  Informer services, slices, pods;
  ClusterZone zone;
  HostsFile hosts{"/etc/hosts"};
  Fd udp, tcp;
  std::atomic<bool> stopping{false};
  bool started = false;
  std::thread udpThread, tcpThread;
  std::mutex connMu;
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Conn> conns;

  Impl(Client& c, DnsOptions o)
      : client(c),
        opts(std::move(o)),
        services(c, *findResource("", "services")),
        slices(c, *findResource("discovery.k8s.io", "endpointslices")),
        pods(c, *findResource("", "pods")),
        zone(services, slices, pods, opts.clusterDomain) {}

  // The whole answer to one query packet ("" = send nothing).
  std::string handle(const uint8_t* p, size_t n, bool overTcp) {
    Query q;
    ParseResult pr = parseQuery(p, n, q);
    if (pr == ParseResult::Drop) return "";
    Response r;
    r.id = q.id;
    r.queryFlags = q.flags;
    r.recursionAvailable = !opts.upstream.empty();
    if (pr == ParseResult::FormErr) {
      r.rcode = FormErr;
      r.hasQuestion = false;
      return encodeResponse(r, kMaxUdpPlain);
    }
    r.q = q.q;
    r.edns = q.edns;
    size_t limit = overTcp ? 65535 : q.edns ? std::min<size_t>(q.udpSize, 4096) : kMaxUdpPlain;
    if (q.edns && q.ednsVersion != 0) {
      r.rcode = NotImp;  // BADVERS would need the extended rcode; EDNS1 does not exist anyway
      return encodeResponse(r, limit);
    }
    if ((q.flags & kOpcodeMask) != 0) {
      r.rcode = NotImp;
      return encodeResponse(r, limit);
    }
    if (q.q.cls != 1 && q.q.cls != 255) {
      r.rcode = Refused;
      return encodeResponse(r, limit);
    }
    Answer a = zone.resolve(q.q);
    if (a.handled) {
      r.authoritative = true;
      r.rcode = a.rcode;
      r.answer = std::move(a.answer);
      r.authority = std::move(a.authority);
      r.additional = std::move(a.additional);
      chaseCname(r);
      return encodeResponse(r, limit);
    }
    if (fromHosts(r)) return encodeResponse(r, limit);
    if (!opts.upstream.empty()) {
      std::string reply = forward(p, n);
      if (!reply.empty()) return reply;
      r.rcode = ServFail;
      return encodeResponse(r, limit);
    }
    r.rcode = Refused;
    return encodeResponse(r, limit);
  }

  // An ExternalName CNAME whose target we know (cluster or /etc/hosts) gets
  // the target's addresses too, so stub resolvers need no second query.
  void chaseCname(Response& r) {
    if (r.answer.size() != 1 || r.answer[0].type != CNAME || r.q.type == CNAME) return;
    size_t off = 0;
    std::string target;
    const auto* rd = reinterpret_cast<const uint8_t*>(r.answer[0].rdata.data());
    if (!readName(rd, r.answer[0].rdata.size(), off, target)) return;
    Question tq{target, r.q.type, 1};
    Answer ta = zone.resolve(tq);
    if (ta.handled) {
      for (auto& rr : ta.answer) r.answer.push_back(rr);
      return;
    }
    bool known = false;
    for (const auto& ip : hosts.lookup(target, known)) addAddress(r.answer, target, r.q.type, ip);
  }

  static void addAddress(std::vector<RR>& out, const std::string& name, uint16_t qtype, const std::string& ip) {
    std::string v4 = rdataA(ip), v6 = v4.empty() ? rdataAAAA(ip) : "";
    RR rr;
    rr.name = name;
    rr.ttl = kTtl;
    if (!v4.empty() && (qtype == A || qtype == ANY)) {
      rr.type = A;
      rr.rdata = v4;
      out.push_back(rr);
    } else if (!v6.empty() && (qtype == AAAA || qtype == ANY)) {
      rr.type = AAAA;
      rr.rdata = v6;
      out.push_back(rr);
    }
  }

  bool fromHosts(Response& r) {
    const std::string& name = r.q.name;
    const std::string arpa = ".in-addr.arpa";
    if (name.size() > arpa.size() && name.compare(name.size() - arpa.size(), arpa.size(), arpa) == 0) {
      std::string rest = name.substr(0, name.size() - arpa.size());
      std::vector<std::string> parts;
      std::istringstream ps(rest);
      for (std::string x; std::getline(ps, x, '.');) parts.push_back(x);
      if (parts.size() != 4) return false;
      std::string host = hosts.reverse(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0]);
      if (host.empty() || encodeName(host).empty()) return false;
      if (r.q.type == PTR || r.q.type == ANY) {
        RR rr;
        rr.name = name;
        rr.type = PTR;
        rr.ttl = kTtl;
        rr.rdata = rdataName(host);
        r.answer.push_back(rr);
      }
      return true;
    }
    bool known = false;
    auto ips = hosts.lookup(name, known);
    if (!known) return false;
    for (const auto& ip : ips) addAddress(r.answer, name, r.q.type, ip);
    return true;  // a known name without the asked type: NOERROR, no data
  }

  std::string forward(const uint8_t* p, size_t n) {
    auto colon = opts.upstream.rfind(':');
    std::string ip = colon == std::string::npos ? opts.upstream : opts.upstream.substr(0, colon);
    int port = colon == std::string::npos ? 53 : std::atoi(opts.upstream.c_str() + colon + 1);
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (s.fd < 0) return "";
    sockaddr_in a{};
    try {
      a = makeAddr(ip, port);
    } catch (const std::exception&) {
      return "";
    }
    if (::sendto(s.fd, p, n, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return "";
    pollfd pfd{s.fd, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0) return "";
    char buf[4096];
    ssize_t got = ::recv(s.fd, buf, sizeof buf, 0);
    if (got < 12 || std::memcmp(buf, p, 2) != 0) return "";
    return std::string(buf, size_t(got));
  }

  void udpLoop() {
    uint8_t buf[4096];
    while (!stopping) {
      pollfd pfd{udp.fd, POLLIN, 0};
      if (::poll(&pfd, 1, kPollMs) <= 0) continue;
      sockaddr_storage from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(udp.fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) continue;
      std::string out;
      try {
        out = handle(buf, size_t(n), false);
      } catch (const std::exception& e) {
        LOGV(1, "dns", "query failed: " << e.what());
        continue;
      }
      if (!out.empty()) ::sendto(udp.fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  }

  // Reads exactly n bytes, waiting at most the idle timeout between reads.
  bool readFull(int fd, uint8_t* p, size_t n) {
    size_t off = 0;
    int waited = 0;
    while (off < n) {
      if (stopping) return false;
      pollfd pfd{fd, POLLIN, 0};
      int pr = ::poll(&pfd, 1, kPollMs);
      if (pr < 0) return false;
      if (pr == 0) {
        waited += kPollMs;
        if (waited >= kTcpIdleMs) return false;
        continue;
      }
      ssize_t got = ::recv(fd, p + off, n - off, 0);
      if (got <= 0) return false;
      off += size_t(got);
      waited = 0;
    }
    return true;
  }

  void serveTcp(int fd, Conn* self) {
    Fd conn(fd);
    std::vector<uint8_t> buf(65535);
    while (!stopping) {
      uint8_t len[2];
      if (!readFull(fd, len, 2)) break;
      size_t n = size_t(len[0]) << 8 | len[1];
      if (n == 0 || !readFull(fd, buf.data(), n)) break;
      std::string out;
      try {
        out = handle(buf.data(), n, true);
      } catch (const std::exception& e) {
        LOGV(1, "dns", "query failed: " << e.what());
        break;
      }
      if (out.empty()) break;
      std::string framed;
      framed.push_back(char(out.size() >> 8));
      framed.push_back(char(out.size() & 0xFF));
      if (!writeAll(fd, framed + out)) break;
    }
    self->done = true;
  }

  void reapConnections(bool all) {
    std::lock_guard<std::mutex> l(connMu);
    for (auto it = conns.begin(); it != conns.end();) {
      if (all || it->done) {
        if (it->thread.joinable()) it->thread.join();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }

  void tcpLoop() {
    while (!stopping) {
      pollfd pfd{tcp.fd, POLLIN, 0};
      int pr = ::poll(&pfd, 1, kPollMs);
      reapConnections(false);
      if (pr <= 0) continue;
      int fd = ::accept4(tcp.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> l(connMu);
      if (conns.size() >= size_t(kMaxTcpConnections)) {
        ::close(fd);  // over the bound: the client retries
        continue;
      }
      Conn& c = conns.emplace_back();
      c.thread = std::thread([this, fd, &c] { serveTcp(fd, &c); });
    }
  }
};

ClusterDns::ClusterDns(Client& c, DnsOptions o) : impl_(std::make_unique<Impl>(c, std::move(o))) {}

ClusterDns::~ClusterDns() { stop(); }

void ClusterDns::start() {
  auto& d = *impl_;
  if (d.started) return;
  sockaddr_in addr = makeAddr(d.opts.listenIP, d.opts.port);
  d.udp.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  d.tcp.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(d.tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // The listen address may be the bridge's, which the pod network may create
  // after us: bind it anyway (the kernel delivers once the address exists).
  for (int fd : {d.udp.fd, d.tcp.fd})
    if (fd >= 0) ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  std::string where = d.opts.listenIP + ":" + std::to_string(d.opts.port);
  if (d.udp.fd < 0 || d.tcp.fd < 0 || ::bind(d.udp.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::bind(d.tcp.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(d.tcp.fd, 64) != 0) {
    std::string err = std::strerror(errno);
    d.udp.reset();
    d.tcp.reset();
    throw std::runtime_error("dns: cannot listen on " + where + ": " + err);
  }
  d.services.start();
  d.slices.start();
  d.pods.start();
  for (Informer* i : {&d.services, &d.slices, &d.pods}) i->waitForSync(std::chrono::seconds(5));
  d.stopping = false;
  d.udpThread = std::thread([&d] { d.udpLoop(); });
  d.tcpThread = std::thread([&d] { d.tcpLoop(); });
  d.started = true;
  LOGI("dns", "serving cluster DNS addr=" << where << " domain=" << d.opts.clusterDomain);
}

void ClusterDns::stop() {
  auto& d = *impl_;
  if (!d.started) return;
  d.stopping = true;
  if (d.udpThread.joinable()) d.udpThread.join();
  if (d.tcpThread.joinable()) d.tcpThread.join();
  d.reapConnections(true);
  d.udp.reset();
  d.tcp.reset();
  d.services.stop();
  d.slices.stop();
  d.pods.stop();
  d.started = false;
}

}  // namespace k1s
