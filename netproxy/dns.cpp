// Cluster DNS server: UDP workers on SO_REUSEPORT sockets (batched receive
// and send) and one TCP acceptor (a thread per TCP connection, bounded, with
// an idle timeout). Cluster names come from the zone; other names from
// /etc/hosts; else the upstream if set, else REFUSED. Each UDP worker keeps
// the encoded cluster answers it gave, dropped as a whole whenever a Service,
// EndpointSlice or Pod changes, so a repeated question costs a parse, a hash
// lookup and a copy.
#include "netproxy/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <unordered_map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/errors.h"
#include "common/informer.h"
#include "common/informer_factory.h"
#include "common/log.h"
#include "netproxy/dns_wire.h"
#include "netproxy/dns_zone.h"

namespace k1s {

using namespace dns;

namespace {

constexpr int kMaxTcpConnections = 64;
constexpr int kTcpIdleMs = 10000;
constexpr int kPollMs = 200;  // how quickly loops notice stop()
constexpr int kBatch = 32;    // datagrams per recvmmsg/sendmmsg
constexpr size_t kMaxCachedAnswers = 20000;

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

// One UDP worker's encoded cluster answers, keyed by question and by what
// shapes the reply (RD echo, EDNS, size limit); bytes 0-1 (the ID) are patched.
struct AnswerCache {
  uint64_t generation = 0;
  std::unordered_map<std::string, std::string> answers;

  static std::string key(const Query& q, size_t limit) {
    std::string k = q.q.name;
    k.push_back('\0');
    for (uint32_t v : {uint32_t(q.q.type), uint32_t(q.q.cls), uint32_t(q.flags & RD), uint32_t(q.edns), uint32_t(limit)})
      k.append(reinterpret_cast<const char*>(&v), sizeof v);
    return k;
  }
};

struct ClusterDns::Impl {
  Client& client;
  DnsOptions opts;
  InformerSet informers;  // before the references into it
  Informer &services, &slices, &pods;
  ClusterZone zone;
  HostsFile hosts{"/etc/hosts"};
  std::vector<std::unique_ptr<Fd>> udp;  // one SO_REUSEPORT socket per worker
  Fd tcp;
  std::atomic<bool> stopping{false};
  Fd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};  // stop() makes it readable: every wait ends at once
  std::atomic<uint64_t> generation{1};  // bumped on every cluster change
  bool started = false;
  std::vector<std::thread> udpThreads;
  std::thread tcpThread;
  std::mutex connMu;
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Conn> conns;

  Impl(Client& c, DnsOptions o)
      : client(c),
        opts(std::move(o)),
        informers(c),
        services(informers.use(*findResource("", "services"))),
        slices(informers.use(*findResource("discovery.k8s.io", "endpointslices"))),
        pods(informers.use(*findResource("", "pods"))),
        zone(services, slices, pods, opts.clusterDomain) {
    // Any change may change an answer: the workers drop their cached ones.
    InformerHandlers h;
    h.onAdd = [this](const Json&) { generation++; };
    h.onUpdate = [this](const Json&, const Json&) { generation++; };
    h.onDelete = [this](const Json&) { generation++; };
    for (Informer* i : {&services, &slices, &pods}) informers.on(*i, h);
  }

  // The whole answer to one query packet ("" = send nothing).
  std::string handle(const uint8_t* p, size_t n, bool overTcp, AnswerCache* cache = nullptr) {
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
    std::string cacheKey;
    uint64_t gen = generation.load(std::memory_order_acquire);
    if (cache) {
      if (cache->generation != gen) {
        cache->answers.clear();
        cache->generation = gen;
      }
      cacheKey = AnswerCache::key(q, limit);
      auto hit = cache->answers.find(cacheKey);
      if (hit != cache->answers.end()) {
        std::string out = hit->second;
        out[0] = char(q.id >> 8);
        out[1] = char(q.id & 0xFF);
        return out;
      }
    }
    Answer a = zone.resolve(q.q);
    if (a.handled) {
      r.authoritative = true;
      r.rcode = a.rcode;
      r.answer = std::move(a.answer);
      r.authority = std::move(a.authority);
      r.additional = std::move(a.additional);
      chaseCname(r);  // may read /etc/hosts: such answers are not cached
      std::string out = encodeResponse(r, limit);
      bool fromClusterOnly = r.answer.empty() || r.answer[0].type != CNAME;
      if (cache && fromClusterOnly) {
        if (cache->answers.size() >= kMaxCachedAnswers) cache->answers.clear();
        cache->answers.emplace(std::move(cacheKey), out);
      }
      return out;
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

  // poll() on fd and the stop wake-up: >0 when fd is readable, 0 on timeout, <0 when stopping.
  int waitIn(int fd, int ms) {
    pollfd pfd[2] = {{fd, POLLIN, 0}, {wake.fd, POLLIN, 0}};
    int pr = ::poll(pfd, 2, ms);
    if (stopping || (pr > 0 && pfd[1].revents)) return -1;
    return pr < 0 ? (errno == EINTR ? 0 : -1) : (pfd[0].revents ? 1 : 0);
  }

  // One worker: waits for its socket, then drains it in batches.
  void udpLoop(int fd) {
    AnswerCache cache;
    std::vector<std::array<uint8_t, 4096>> bufs(kBatch);
    std::vector<sockaddr_storage> from(kBatch);
    std::vector<std::string> replies(kBatch);
    mmsghdr in[kBatch], out[kBatch];
    iovec inIov[kBatch], outIov[kBatch];
    while (!stopping) {
      if (waitIn(fd, kPollMs) <= 0) continue;
      for (;;) {
        for (int i = 0; i < kBatch; ++i) {
          inIov[i] = {bufs[i].data(), bufs[i].size()};
          in[i].msg_hdr = {};
          in[i].msg_hdr.msg_name = &from[i];
          in[i].msg_hdr.msg_namelen = sizeof from[i];
          in[i].msg_hdr.msg_iov = &inIov[i];
          in[i].msg_hdr.msg_iovlen = 1;
        }
        int got = ::recvmmsg(fd, in, kBatch, MSG_DONTWAIT, nullptr);
        if (got <= 0) break;
        int nout = 0;
        for (int i = 0; i < got; ++i) {
          replies[nout].clear();
          try {
            replies[nout] = handle(bufs[i].data(), in[i].msg_len, false, &cache);
          } catch (const std::exception& e) {
            LOGV(1, "dns", "query failed: " << e.what());
          }
          if (replies[nout].empty()) continue;
          outIov[nout] = {replies[nout].data(), replies[nout].size()};
          out[nout].msg_hdr = {};
          out[nout].msg_hdr.msg_name = &from[i];
          out[nout].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
          out[nout].msg_hdr.msg_iov = &outIov[nout];
          out[nout].msg_hdr.msg_iovlen = 1;
          ++nout;
        }
        for (int sent = 0; sent < nout;) {
          int w = ::sendmmsg(fd, out + sent, unsigned(nout - sent), MSG_DONTWAIT);
          if (w <= 0) break;  // a full send buffer drops the rest, as UDP may
          sent += w;
        }
        if (got < kBatch) break;
      }
    }
  }

  // Reads exactly n bytes, waiting at most the idle timeout between reads.
  bool readFull(int fd, uint8_t* p, size_t n) {
    size_t off = 0;
    int waited = 0;
    while (off < n) {
      if (stopping) return false;
      int pr = waitIn(fd, kPollMs);
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
      int pr = waitIn(tcp.fd, kPollMs);
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
  std::string where = d.opts.listenIP + ":" + std::to_string(d.opts.port);
  auto fail = [&d, &where](const std::string& what) {
    std::string err = std::strerror(errno);
    d.udp.clear();
    d.tcp.reset();
    throw std::runtime_error("dns: cannot " + what + " " + where + ": " + err);
  };
  int one = 1;
  int workers = std::max(1, d.opts.udpWorkers);
  for (int i = 0; i < workers; ++i) {
    auto fd = std::make_unique<Fd>(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd->fd < 0) fail("open a UDP socket for");
    // Every worker binds the same address; the kernel spreads clients over them.
    ::setsockopt(fd->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // The listen address may be the bridge's, which the pod network may create
    // after us: bind it anyway (the kernel delivers once the address exists).
    ::setsockopt(fd->fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    if (::bind(fd->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("listen on");
    if (i == 0) {  // port 0: the others join the port the first one got
      socklen_t len = sizeof addr;
      ::getsockname(fd->fd, reinterpret_cast<sockaddr*>(&addr), &len);
    }
    d.udp.push_back(std::move(fd));
  }
  d.tcp.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (d.tcp.fd < 0) fail("open a TCP socket for");
  ::setsockopt(d.tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(d.tcp.fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  if (::bind(d.tcp.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(d.tcp.fd, 64) != 0)
    fail("listen on");
  d.informers.start();
  d.generation++;
  d.stopping = false;
  uint64_t pending;
  if (::read(d.wake.fd, &pending, sizeof pending) < 0) {
  }  // drained (or already empty): a start after a stop waits again
  for (auto& fd : d.udp) d.udpThreads.emplace_back([&d, f = fd->fd] { d.udpLoop(f); });
  d.tcpThread = std::thread([&d] { d.tcpLoop(); });
  d.started = true;
  LOGI("dns", "serving cluster DNS addr=" << where << " domain=" << d.opts.clusterDomain << " udpWorkers=" << workers);
}

void ClusterDns::stop() {
  auto& d = *impl_;
  if (!d.started) return;
  d.stopping = true;
  uint64_t one = 1;
  if (::write(d.wake.fd, &one, sizeof one) < 0) {
  }  // a full counter is still readable: nothing to do
  for (auto& t : d.udpThreads)
    if (t.joinable()) t.join();
  d.udpThreads.clear();
  if (d.tcpThread.joinable()) d.tcpThread.join();
  d.reapConnections(true);
  d.udp.clear();
  d.tcp.reset();
  d.informers.stop();
  d.started = false;
}

}  // namespace k1s
