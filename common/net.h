// IPv4 addresses and CIDRs as 32-bit numbers (IPAM, admission, proxy), and a TCP socket option.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace k1s {

std::optional<uint32_t> parseIPv4(const std::string& s);
std::string formatIPv4(uint32_t ip);

struct Cidr {
  uint32_t base = 0;  // network address
  int prefix = 0;
  static std::optional<Cidr> parse(const std::string& s);  // "10.96.0.0/16"
  uint32_t size() const { return prefix == 0 ? 0xffffffffu : (1u << (32 - prefix)); }
  bool contains(uint32_t ip) const { return prefix == 0 || (ip >> (32 - prefix)) == (base >> (32 - prefix)); }
  std::string str() const { return formatIPv4(base) + "/" + std::to_string(prefix); }
};

// TCP_CORK on (hold partial segments) or off (send what is held); a no-op for fd < 0 or a
// socket that is not TCP (a test's socket pair).
void setTcpCork(int fd, bool on);

}  // namespace k1s
