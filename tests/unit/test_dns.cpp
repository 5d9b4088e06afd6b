// Cluster DNS against a real in-process API: service, headless, ExternalName,
// SRV, PTR and pod records over UDP and TCP; NXDOMAIN/NODATA with SOA;
// REFUSED outside the cluster; truncation and TCP retry; malformed packets.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "apiserver/registry.h"
#include "common/informer_factory.h"
#include "common/meta.h"
#include "netproxy/dns.h"
#include "netproxy/dns_wire.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;

namespace {

using test::Api;

const ResourceInfo& res(const std::string& group, const std::string& plural) { return *findResource(group, plural); }

// A port free for both UDP and TCP on 127.0.0.1.
int freePort() {
  for (int tries = 0; tries < 50; ++tries) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t l = sizeof a;
    getsockname(u, reinterpret_cast<sockaddr*>(&a), &l);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(t);
    close(u);
    if (ok) return ntohs(a.sin_port);
  }
  return 0;
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Sends raw bytes over UDP; returns the reply ("" on timeout).
std::string udpExchange(int port, const std::string& packet, int timeoutMs = 1000) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = loopback(port);
  sendto(s, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{s, POLLIN, 0};
  std::string out;
  if (poll(&p, 1, timeoutMs) == 1) {
    char buf[65536];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n > 0) out.assign(buf, size_t(n));
  }
  close(s);
  return out;
}

std::string tcpExchange(int port, const std::string& packet) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(port);
  std::string out;
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string framed{char(packet.size() >> 8), char(packet.size() & 0xFF)};
    framed += packet;
    send(s, framed.data(), framed.size(), MSG_NOSIGNAL);
    std::string got;
    char buf[65536];
    timeval tv{2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
      if (got.size() >= 2 && got.size() >= 2 + (size_t(uint8_t(got[0])) << 8 | uint8_t(got[1]))) break;
      ssize_t n = recv(s, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    if (got.size() >= 2) out = got.substr(2);
  }
  close(s);
  return out;
}

dns::Message decode(const std::string& wire) {
  dns::Message m;
  REQUIRE_MESSAGE(dns::parseMessage(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), m),
                  "reply does not parse, size " << wire.size());
  return m;
}

dns::Message query(int port, const std::string& name, uint16_t type, bool tcp = false, uint16_t edns = 0) {
  static uint16_t id = 1;
  std::string q = dns::buildQuery(++id, name, type, edns);
  std::string r = tcp ? tcpExchange(port, q) : udpExchange(port, q);
  REQUIRE_MESSAGE(!r.empty(), "no reply for " << name);
  dns::Message m = decode(r);
  CHECK(m.id == id);
  return m;
}

std::vector<std::string> texts(const std::vector<dns::RR>& rrs, uint16_t type) {
  std::vector<std::string> out;
  for (const auto& rr : rrs)
    if (rr.type == type) out.push_back(rr.text);
  std::sort(out.begin(), out.end());
  return out;
}

Json slice(const std::string& name, const std::string& svc, const Json& endpoints, const Json& ports) {
  return {{"metadata", {{"name", name}, {"labels", {{"kubernetes.io/service-name", svc}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints},
          {"ports", ports}};
}

Json endpoint(const std::string& ip, bool ready, const std::string& hostname = "") {
  Json e = {{"addresses", {ip}}, {"conditions", {{"ready", ready}}}};
  if (!hostname.empty()) e["hostname"] = hostname;
  return e;
}

// Handlers on the DNS server's own (shared) informers, added after the server's: an informer
// calls its handlers in order, so once these have seen a change, the server has too.
struct Seen {
  InformerSet set;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::pair<bool, long long>> last;  // "plural/ns/name" -> (present, revision)
  explicit Seen(Registry& reg) : set(reg) {
    for (auto* r : {&res("", "services"), &res("discovery.k8s.io", "endpointslices"), &res("", "pods")}) {
      std::string plural = r->plural;
      auto note = [this, plural](const Json& o, bool present) {
        std::lock_guard<std::mutex> l(mu);
        last[plural + "/" + namespaceOf(o) + "/" + nameOf(o)] = {present, rv(o)};
        cv.notify_all();
      };
      set.on(set.use(*r), {[note](const Json& o) { note(o, true); },
                           [note](const Json&, const Json& o) { note(o, true); },
                           [note](const Json& o) { note(o, false); }});
    }
    set.start();
  }
  static long long rv(const Json& o) { return std::stoll(metaOf(o).value("resourceVersion", "0")); }
  // Waits (up to 10 s) until the server's informers have shown `written` (a write's result).
  bool saw(const std::string& plural, const Json& written) {
    std::string key = plural + "/" + namespaceOf(written) + "/" + nameOf(written);
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] {
      auto it = last.find(key);
      return it != last.end() && it->second.first && it->second.second >= rv(written);
    });
  }
  bool sawGone(const std::string& plural, const std::string& ns, const std::string& name) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] {
      auto it = last.find(plural + "/" + ns + "/" + name);
      return it != last.end() && !it->second.first;
    });
  }
};

struct Fixture {
  Api api;
  int port = freePort();
  std::unique_ptr<ClusterDns> dns;
  std::unique_ptr<Seen> seen;
  Fixture() {
    DnsOptions o;
    o.listenIP = "127.0.0.1";
    o.port = port;
    dns = std::make_unique<ClusterDns>(*api.reg, o);
    dns->start();
    seen = std::make_unique<Seen>(*api.reg);
  }
  Registry& reg() { return *api.reg; }
};

}  // namespace

TEST_CASE("cluster DNS answers services, headless endpoints, ExternalName, SRV, PTR and pod names") {
  Fixture f;
  Registry& reg = f.reg();
  Json web = reg.create(res("", "services"), "default",
                        {{"metadata", {{"name", "web"}}},
                         {"spec", {{"selector", {{"app", "web"}}},
                                   {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}}}}}}});
  std::string webIP = web["spec"]["clusterIP"];
  Json db = reg.create(res("", "services"), "default",
                       {{"metadata", {{"name", "db"}}},
                        {"spec", {{"clusterIP", "None"}, {"selector", {{"app", "db"}}},
                                  {"ports", {{{"name", "pg"}, {"port", 5432}}}}}}});
  Json dbSlice = reg.create(res("discovery.k8s.io", "endpointslices"), "default",
                            slice("db-abc", "db",
                                  {endpoint("10.244.0.21", true, "db-0"), endpoint("10.244.0.22", true),
                                   endpoint("10.244.0.23", false)},
                                  {{{"name", "pg"}, {"port", 5433}, {"protocol", "TCP"}}}));
  Json ext = reg.create(
      res("", "services"), "default",
      {{"metadata", {{"name", "ext"}}}, {"spec", {{"type", "ExternalName"}, {"externalName", "example.org"}}}});
  reg.create(res("", "pods"), "default",
             {{"metadata", {{"name", "p1"}}}, {"spec", {{"containers", {{{"name", "c"}, {"image", "sleep"}}}}}}});
  Json pod = reg.get(res("", "pods"), "default", "p1");
  pod["status"]["podIP"] = "10.244.0.7";
  pod = reg.update(res("", "pods"), "default", pod, "status");
  for (auto& [plural, obj] : std::vector<std::pair<std::string, Json>>{
           {"services", web}, {"services", db}, {"endpointslices", dbSlice}, {"services", ext}, {"pods", pod}})
    REQUIRE(f.seen->saw(plural, obj));

  const int port = f.port;
  for (bool tcp : {false, true}) {
    CAPTURE(tcp);
    REQUIRE(texts(query(port, "web.default.svc.cluster.local", dns::A, tcp).answer, dns::A) ==
            std::vector<std::string>{webIP});
    dns::Message m = query(port, "WEB.Default.SVC.cluster.LOCAL", dns::A, tcp);
    CHECK((m.flags & dns::AA));
    CHECK(m.rcode() == dns::NoError);
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].ttl == 5);

    REQUIRE(texts(query(port, "db.default.svc.cluster.local", dns::A, tcp).answer, dns::A) ==
            std::vector<std::string>{"10.244.0.21", "10.244.0.22"});
    CHECK(texts(query(port, "db-0.db.default.svc.cluster.local", dns::A, tcp).answer, dns::A) ==
          std::vector<std::string>{"10.244.0.21"});
    CHECK(texts(query(port, "_pg._tcp.db.default.svc.cluster.local", dns::SRV, tcp).answer, dns::SRV) ==
          std::vector<std::string>{"0 50 5433 10-244-0-22.db.default.svc.cluster.local",
                                   "0 50 5433 db-0.db.default.svc.cluster.local"});
    m = query(port, "_http._tcp.web.default.svc.cluster.local", dns::SRV, tcp);
    CHECK(texts(m.answer, dns::SRV) == std::vector<std::string>{"0 100 80 web.default.svc.cluster.local"});
    CHECK(texts(m.additional, dns::A) == std::vector<std::string>{webIP});

    REQUIRE(!query(port, "ext.default.svc.cluster.local", dns::A, tcp).answer.empty());
    m = query(port, "ext.default.svc.cluster.local", dns::A, tcp);
    CHECK(texts(m.answer, dns::CNAME) == std::vector<std::string>{"example.org"});

    std::string a = webIP;
    std::vector<std::string> o;
    for (size_t s = 0, d; (d = a.find('.', s)) != std::string::npos || s < a.size(); s = d + 1) {
      if (d == std::string::npos) d = a.size();
      o.insert(o.begin(), a.substr(s, d - s));
    }
    std::string rev = o[0] + "." + o[1] + "." + o[2] + "." + o[3] + ".in-addr.arpa";
    CHECK(texts(query(port, rev, dns::PTR, tcp).answer, dns::PTR) ==
          std::vector<std::string>{"web.default.svc.cluster.local"});
    REQUIRE(texts(query(port, "7.0.244.10.in-addr.arpa", dns::PTR, tcp).answer, dns::PTR) ==
            std::vector<std::string>{"10-244-0-7.default.pod.cluster.local"});
    CHECK(texts(query(port, "10-244-0-7.default.pod.cluster.local", dns::A, tcp).answer, dns::A) ==
          std::vector<std::string>{"10.244.0.7"});

    m = query(port, "nosuch.default.svc.cluster.local", dns::A, tcp);
    CHECK(m.rcode() == dns::NXDomain);
    CHECK(m.answer.empty());
    REQUIRE(m.authority.size() == 1);
    CHECK(m.authority[0].type == dns::SOA);
    CHECK(m.authority[0].ttl == 5);
    CHECK(m.authority[0].name == "cluster.local");

    m = query(port, "web.default.svc.cluster.local", dns::AAAA, tcp);  // known name, other type
    CHECK(m.rcode() == dns::NoError);
    CHECK(m.answer.empty());
    REQUIRE(m.authority.size() == 1);
    CHECK(m.authority[0].type == dns::SOA);

    CHECK(query(port, "example.invalid", dns::A, tcp).rcode() == dns::Refused);
  }

  // /etc/hosts names (localhost is in every hosts file we know).
  std::ifstream hosts("/etc/hosts");
  std::string all((std::istreambuf_iterator<char>(hosts)), {});
  if (all.find("localhost") != std::string::npos) {
    dns::Message m = query(port, "localhost", dns::A);
    CHECK(m.rcode() == dns::NoError);
    CHECK(texts(m.answer, dns::A) == std::vector<std::string>{"127.0.0.1"});
  }

  // Deleting the service is seen through the informer.
  reg.remove(res("", "services"), "default", "web");
  REQUIRE(f.seen->sawGone("services", "default", "web"));
  CHECK(query(port, "web.default.svc.cluster.local", dns::A).rcode() == dns::NXDomain);
}

TEST_CASE("cluster DNS truncates large UDP answers; TCP and EDNS0 carry them whole") {
  Fixture f;
  Json eps = Json::array();
  for (int i = 0; i < 60; ++i) eps.push_back(endpoint("10.244.1." + std::to_string(i + 1), true));
  Json svc = f.reg().create(res("", "services"), "default",
                            {{"metadata", {{"name", "big"}}},
                             {"spec", {{"clusterIP", "None"}, {"ports", {{{"name", "http"}, {"port", 80}}}}}}});
  Json big = f.reg().create(res("discovery.k8s.io", "endpointslices"), "default",
                            slice("big-1", "big", eps, {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}));
  REQUIRE(f.seen->saw("services", svc));  // each kind has its own informer thread: wait for both
  REQUIRE(f.seen->saw("endpointslices", big));
  const std::string name = "big.default.svc.cluster.local";
  REQUIRE(query(f.port, name, dns::A, true).answer.size() == 60);

  dns::Message udp = query(f.port, name, dns::A);
  CHECK((udp.flags & dns::TC));
  CHECK(udp.answer.empty());

  dns::Message tcp = query(f.port, name, dns::A, true);
  CHECK_FALSE((tcp.flags & dns::TC));
  CHECK(tcp.answer.size() == 60);

  dns::Message edns = query(f.port, name, dns::A, false, 4096);
  CHECK_FALSE((edns.flags & dns::TC));
  CHECK(edns.answer.size() == 60);
  REQUIRE(edns.additional.size() == 1);
  CHECK(edns.additional[0].type == dns::OPT);
  CHECK(edns.additional[0].cls == dns::kOurEdnsSize);
}

TEST_CASE("cluster DNS survives malformed packets") {
  Fixture f;
  const int port = f.port;

  // A readable header with a name running off the end: FORMERR, same id.
  std::string q = dns::buildQuery(0x4242, "web.default.svc.cluster.local", dns::A);
  std::string cut = q.substr(0, 20);
  dns::Message m = decode(udpExchange(port, cut));
  CHECK(m.id == 0x4242);
  CHECK(m.rcode() == dns::FormErr);

  // A compression pointer to itself (a loop): FORMERR.
  std::string loop = q.substr(0, 12) + std::string("\xC0\x0C\x00\x01\x00\x01", 6);
  CHECK(decode(udpExchange(port, loop)).rcode() == dns::FormErr);

  // Shorter than a header: dropped.
  CHECK(udpExchange(port, "abc", 200).empty());

  std::mt19937 rng(12345);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = loopback(port);
  for (int i = 0; i < 10000; ++i) {
    std::string pkt;
    if (i % 2) {
      pkt.resize(rng() % 300);
      for (auto& c : pkt) c = char(rng());
    } else {
      pkt = dns::buildQuery(uint16_t(i), "x" + std::to_string(i) + ".default.svc.cluster.local", dns::A,
                            i % 4 ? 0 : 1232);
      for (int k = 0, flips = 1 + int(rng() % 4); k < flips; ++k) pkt[rng() % pkt.size()] = char(rng());
      if (rng() % 3 == 0) pkt.resize(rng() % pkt.size());
    }
    sendto(s, pkt.data(), pkt.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), sizeof a);
    char buf[4096];
    while (recv(s, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }
  close(s);
  // Garbage over TCP too: a frame of random bytes, then a frame cut short.
  for (int i = 0; i < 50; ++i) {
    std::string pkt(size_t(1 + rng() % 200), '\0');
    for (auto& c : pkt) c = char(rng());
    tcpExchange(port, pkt);
  }

  // Still answering: a UDP client retries on its own timeout (the garbage may fill the socket's
  // queue for a moment), as resolvers do.
  bool answered = false;
  for (int attempt = 0; attempt < 30 && !answered; ++attempt) {
    std::string r = udpExchange(port, dns::buildQuery(7, "kubernetes.default.svc.cluster.local", dns::A), 300);
    answered = !r.empty() && decode(r).rcode() == dns::NoError && decode(r).answer.size() == 1;
  }
  CHECK(answered);
  CHECK(query(port, "kubernetes.default.svc.cluster.local", dns::A, true).answer.size() == 1);
}

TEST_CASE("cluster DNS: repeated answers follow Service changes at once (per-worker answer caches)") {
  Fixture f;
  Registry& reg = f.reg();
  const int port = f.port;
  auto create = [&](const std::string& ip) {
    Json svc = reg.create(res("", "services"), "default",
                          {{"metadata", {{"name", "cached"}}},
                           {"spec", {{"clusterIP", ip}, {"ports", {{{"name", "http"}, {"port", 80}}}}}}});
    REQUIRE(f.seen->saw("services", svc));
  };
  auto answer = [&] { return texts(query(port, "cached.default.svc.cluster.local", dns::A).answer, dns::A); };
  create("10.96.7.7");
  REQUIRE(answer() == std::vector<std::string>{"10.96.7.7"});
  // Many repeats over several client sockets (so every UDP worker answers some): each
  // reply carries its own query's id (checked in query()) and the same address.
  for (int i = 0; i < 40; ++i) CHECK(answer() == std::vector<std::string>{"10.96.7.7"});
  reg.remove(res("", "services"), "default", "cached");
  REQUIRE(f.seen->sawGone("services", "default", "cached"));
  REQUIRE(query(port, "cached.default.svc.cluster.local", dns::A).rcode() == dns::NXDomain);
  create("10.96.8.8");
  REQUIRE(answer() == std::vector<std::string>{"10.96.8.8"});
  for (int i = 0; i < 10; ++i) CHECK(answer() == std::vector<std::string>{"10.96.8.8"});
}
