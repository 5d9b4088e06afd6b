#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace k1s {

std::optional<uint32_t> parseIPv4(const std::string& s) {
  in_addr a;
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string formatIPv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char b[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, b, sizeof b);
  return b;
}

std::optional<Cidr> Cidr::parse(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto ip = parseIPv4(s.substr(0, slash));
  if (!ip) return std::nullopt;
  int p;
  try {
    size_t used;
    p = std::stoi(s.substr(slash + 1), &used);
    if (used != s.size() - slash - 1) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  if (p < 0 || p > 32) return std::nullopt;
  Cidr c;
  c.prefix = p;
  c.base = p == 0 ? 0 : (*ip & (0xffffffffu << (32 - p)));
  return c;
}

void setTcpCork(int fd, bool on) {
  int v = on ? 1 : 0;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

}  // namespace k1s
