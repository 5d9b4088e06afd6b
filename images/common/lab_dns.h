// A minimal stub resolver for statically linked lab binaries, where glibc's getaddrinfo
// would need NSS modules that are not in the image. It follows the resolv.conf rules a pod
// relies on (nameserver, search, options ndots) and asks for A records over UDP.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace lab {

struct ResolvConf {
  std::vector<std::string> nameservers, search;
  int ndots = 1;
};

inline ResolvConf readResolvConf(const std::string& path = "/etc/resolv.conf") {
  ResolvConf rc;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "nameserver") {
      std::string ns;
      if (words >> ns) rc.nameservers.push_back(ns);
    } else if (key == "search" || key == "domain") {
      rc.search.clear();
      for (std::string d; words >> d;) rc.search.push_back(d);
    } else if (key == "options") {
      for (std::string o; words >> o;)
        if (o.rfind("ndots:", 0) == 0) rc.ndots = std::atoi(o.c_str() + 6);
    }
  }
  if (rc.nameservers.empty()) rc.nameservers.push_back("127.0.0.1");
  return rc;
}

inline std::optional<in_addr> lookupHostsFile(const std::string& name) {
  std::ifstream in("/etc/hosts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::string ip;
    if (!(words >> ip)) continue;
    in_addr a{};
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1) continue;
    for (std::string h; words >> h;)
      if (h == name) return a;
  }
  return std::nullopt;
}

// One A query for an absolute name to one server; nullopt on NXDOMAIN, no answer or timeout.
inline std::optional<in_addr> queryA(const std::string& server, const std::string& fqdn, int timeoutMs) {
  sockaddr_in ns{};
  ns.sin_family = AF_INET;
  ns.sin_port = htons(53);
  if (inet_pton(AF_INET, server.c_str(), &ns.sin_addr) != 1) return std::nullopt;
  static thread_local std::mt19937 gen{std::random_device{}()};
  uint16_t id = static_cast<uint16_t>(gen());
  std::string q = {char(id >> 8), char(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // RD, 1 question
  std::istringstream labels(fqdn);
  for (std::string label; std::getline(labels, label, '.');) {
    if (label.empty() || label.size() > 63) continue;
    q += char(label.size());
    q += label;
  }
  q += std::string{0, 0, 1, 0, 1};  // root, QTYPE A, QCLASS IN
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  std::optional<in_addr> result;
  if (::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&ns), sizeof ns) ==
      static_cast<ssize_t>(q.size())) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    unsigned char buf[1500];
    for (;;) {
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, left) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 12 || buf[0] != (id >> 8) || buf[1] != (id & 0xff)) continue;  // not our answer
      if ((buf[3] & 0x0f) != 0) break;                                      // NXDOMAIN, SERVFAIL...
      size_t pos = 12;
      auto skipName = [&]() {
        while (pos < size_t(n)) {
          unsigned char len = buf[pos];
          if ((len & 0xc0) == 0xc0) { pos += 2; return; }
          pos += 1 + len;
          if (len == 0) return;
        }
      };
      int qd = buf[4] << 8 | buf[5], an = buf[6] << 8 | buf[7];
      for (int i = 0; i < qd; ++i) { skipName(); pos += 4; }
      for (int i = 0; i < an && pos + 10 <= size_t(n); ++i) {
        skipName();
        if (pos + 10 > size_t(n)) break;
        int type = buf[pos] << 8 | buf[pos + 1];
        size_t rdlen = size_t(buf[pos + 8] << 8 | buf[pos + 9]);
        pos += 10;
        if (type == 1 && rdlen == 4 && pos + 4 <= size_t(n)) {  // CNAMEs come before their A record
          in_addr a{};
          std::memcpy(&a, buf + pos, 4);
          result = a;
          break;
        }
        pos += rdlen;
      }
      break;
    }
  }
  ::close(fd);
  return result;
}

// Resolves a host name (or dotted quad) to an IPv4 address the way a pod's libc would,
// giving up at the deadline: each query waits at most a second, so one silent nameserver
// cannot use up the caller's whole budget.
inline std::optional<in_addr> resolveHost(const std::string& host, std::chrono::steady_clock::time_point deadline) {
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return a;
  if (auto h = lookupHostsFile(host)) return h;
  ResolvConf rc = readResolvConf();
  std::vector<std::string> candidates;
  bool absolute = !host.empty() && host.back() == '.';
  std::string bare = absolute ? host.substr(0, host.size() - 1) : host;
  int dots = 0;
  for (char c : bare) dots += c == '.';
  if (absolute || dots >= rc.ndots) candidates.push_back(bare);
  if (!absolute)
    for (auto& d : rc.search) candidates.push_back(bare + "." + d);
  if (!absolute && dots < rc.ndots) candidates.push_back(bare);
  for (auto& name : candidates)
    for (auto& ns : rc.nameservers) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return std::nullopt;
      if (auto r = queryA(ns, name, int(std::min<long>(left, 1000)))) return r;
    }
  return std::nullopt;
}

}  // namespace lab
