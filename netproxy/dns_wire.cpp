// DNS wire format: every read is bounds-checked; a malformed packet yields a
// parse failure, never an out-of-range access.
#include "netproxy/dns_wire.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

namespace k1s::dns {

namespace {

bool get16(const uint8_t* p, size_t n, size_t& off, uint16_t& v) {
  if (off + 2 > n) return false;
  v = uint16_t(p[off] << 8 | p[off + 1]);
  off += 2;
  return true;
}

bool get32(const uint8_t* p, size_t n, size_t& off, uint32_t& v) {
  if (off + 4 > n) return false;
  v = uint32_t(p[off]) << 24 | uint32_t(p[off + 1]) << 16 | uint32_t(p[off + 2]) << 8 | p[off + 3];
  off += 4;
  return true;
}

void put16(std::string& s, uint16_t v) {
  s.push_back(char(v >> 8));
  s.push_back(char(v & 0xFF));
}

void put32(std::string& s, uint32_t v) {
  put16(s, uint16_t(v >> 16));
  put16(s, uint16_t(v & 0xFFFF));
}

// Reads one resource record; `text` gets a readable rdata for known types.
bool readRR(const uint8_t* p, size_t n, size_t& off, RR& rr) {
  uint16_t rdlen = 0;
  if (!readName(p, n, off, rr.name) || !get16(p, n, off, rr.type) || !get16(p, n, off, rr.cls) ||
      !get32(p, n, off, rr.ttl) || !get16(p, n, off, rdlen) || off + rdlen > n)
    return false;
  size_t start = off, end = off + rdlen;
  rr.rdata.assign(reinterpret_cast<const char*>(p + start), rdlen);
  rr.text.clear();
  char buf[INET6_ADDRSTRLEN];
  if (rr.type == A && rdlen == 4) {
    rr.text = inet_ntop(AF_INET, p + start, buf, sizeof buf);
  } else if (rr.type == AAAA && rdlen == 16) {
    rr.text = inet_ntop(AF_INET6, p + start, buf, sizeof buf);
  } else if (rr.type == CNAME || rr.type == PTR || rr.type == NS) {
    size_t o = start;
    if (!readName(p, end, o, rr.text) || o != end) return false;
  } else if (rr.type == SRV) {
    size_t o = start;
    uint16_t prio, weight, port;
    std::string target;
    if (!get16(p, end, o, prio) || !get16(p, end, o, weight) || !get16(p, end, o, port) ||
        !readName(p, end, o, target) || o != end)
      return false;
    rr.text = std::to_string(prio) + " " + std::to_string(weight) + " " + std::to_string(port) + " " + target;
  } else if (rr.type == SOA) {
    size_t o = start;
    std::string m, r;
    uint32_t v[5];
    if (!readName(p, end, o, m) || !readName(p, end, o, r)) return false;
    for (auto& x : v)
      if (!get32(p, end, o, x)) return false;
    if (o != end) return false;
    rr.text = m + " " + r;
    for (auto x : v) rr.text += " " + std::to_string(x);
  }
  off = end;
  return true;
}

}  // namespace

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool readName(const uint8_t* p, size_t n, size_t& off, std::string& out) {
  out.clear();
  size_t pos = off, total = 0;
  bool jumped = false;
  for (int hops = 0;; ++hops) {
    if (pos >= n || hops > 127) return false;
    uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= n) return false;
      size_t target = size_t(len & 0x3F) << 8 | p[pos + 1];
      if (target >= pos) return false;  // only backwards: no loops
      if (!jumped) off = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if (len & 0xC0) return false;  // 0x40/0x80 label types are obsolete
    if (len == 0) {
      if (!jumped) off = pos + 1;
      return true;
    }
    if (pos + 1 + len > n) return false;
    // A '.' inside a label has no place in the dotted text form used here: "a.b" as one label
    // read as the two labels a and b (answered for a name the client did not ask), and "x."
    // could not be encoded back, so the answer went out without its question.
    if (memchr(p + pos + 1, '.', len)) return false;
    total += len + 1;
    if (total > 254) return false;
    if (!out.empty()) out.push_back('.');
    out.append(reinterpret_cast<const char*>(p + pos + 1), len);
    pos += 1 + len;
  }
}

std::string encodeName(const std::string& name) {
  std::string s;
  if (name.size() > 253) return "";
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    size_t len = dot - start;
    if (len == 0 || len > 63) return "";
    s.push_back(char(len));
    s.append(name, start, len);
    start = dot + 1;
    if (dot + 1 == name.size()) return "";  // trailing empty label
  }
  s.push_back('\0');
  return s;
}

std::string rdataA(const std::string& ipv4) {
  in_addr a{};
  if (inet_pton(AF_INET, ipv4.c_str(), &a) != 1) return "";
  return std::string(reinterpret_cast<const char*>(&a), 4);
}

std::string rdataAAAA(const std::string& ipv6) {
  in6_addr a{};
  if (inet_pton(AF_INET6, ipv6.c_str(), &a) != 1) return "";
  return std::string(reinterpret_cast<const char*>(&a), 16);
}

std::string rdataName(const std::string& name) { return encodeName(name); }

std::string rdataSrv(uint16_t priority, uint16_t weight, uint16_t port, const std::string& target) {
  std::string s;
  put16(s, priority);
  put16(s, weight);
  put16(s, port);
  return s + encodeName(target);
}

std::string rdataSoa(const std::string& mname, const std::string& rname, uint32_t serial, uint32_t refresh,
                     uint32_t retry, uint32_t expire, uint32_t minimum) {
  std::string s = encodeName(mname) + encodeName(rname);
  for (uint32_t v : {serial, refresh, retry, expire, minimum}) put32(s, v);
  return s;
}

ParseResult parseQuery(const uint8_t* p, size_t n, Query& out) {
  size_t off = 0;
  uint16_t qd, an, ns, ar;
  if (n < 12) return ParseResult::Drop;
  get16(p, n, off, out.id);
  get16(p, n, off, out.flags);
  if (out.flags & QR) return ParseResult::Drop;  // a response: never answer it (reflection loops)
  get16(p, n, off, qd);
  get16(p, n, off, an);
  get16(p, n, off, ns);
  get16(p, n, off, ar);
  if (qd != 1) return ParseResult::FormErr;
  if (!readName(p, n, off, out.q.name) || !get16(p, n, off, out.q.type) || !get16(p, n, off, out.q.cls))
    return ParseResult::FormErr;
  out.q.name = lower(out.q.name);
  RR rr;
  for (uint32_t i = 0; i < uint32_t(an) + ns; ++i)
    if (!readRR(p, n, off, rr)) return ParseResult::FormErr;
  for (uint16_t i = 0; i < ar; ++i) {
    if (!readRR(p, n, off, rr)) return ParseResult::FormErr;
    if (rr.type == OPT) {
      if (out.edns || !rr.name.empty()) return ParseResult::FormErr;  // RFC 6891: one OPT, root owner
      out.edns = true;
      out.udpSize = rr.cls < 512 ? 512 : rr.cls;
      out.ednsVersion = uint8_t(rr.ttl >> 16);
    }
  }
  return ParseResult::Ok;
}

namespace {

void appendRR(std::string& s, const RR& rr, const std::string& qname) {
  // The only compression used: an owner equal to the question name points at
  // offset 12, which keeps large headless answers small.
  if (!qname.empty() && lower(rr.name) == qname) {
    put16(s, 0xC00C);
  } else {
    s += encodeName(rr.name);
  }
  put16(s, rr.type);
  put16(s, rr.cls);
  put32(s, rr.ttl);
  put16(s, uint16_t(rr.rdata.size()));
  s += rr.rdata;
}

std::string encode(const Response& r, bool truncate) {
  std::string s;
  uint16_t flags = QR | (r.queryFlags & (kOpcodeMask | RD)) | (r.rcode & 0xF);
  if (r.authoritative) flags |= AA;
  if (r.recursionAvailable) flags |= RA;
  if (truncate) flags |= TC;
  std::string qname = r.hasQuestion ? encodeName(r.q.name) : "";
  bool withQ = r.hasQuestion && (!qname.empty() || r.q.name.empty());
  if (r.q.name.empty()) qname = std::string(1, '\0');
  put16(s, r.id);
  put16(s, flags);
  put16(s, withQ ? 1 : 0);
  put16(s, truncate ? 0 : uint16_t(r.answer.size()));
  put16(s, truncate ? 0 : uint16_t(r.authority.size()));
  put16(s, uint16_t((truncate ? 0 : r.additional.size()) + (r.edns ? 1 : 0)));
  if (withQ) {
    s += qname;
    put16(s, r.q.type);
    put16(s, r.q.cls);
  }
  std::string ql = withQ && !r.q.name.empty() ? r.q.name : "";
  if (!truncate) {
    for (auto* sec : {&r.answer, &r.authority, &r.additional})
      for (const auto& rr : *sec) appendRR(s, rr, ql);
  }
  if (r.edns) {
    s.push_back('\0');
    put16(s, OPT);
    put16(s, kOurEdnsSize);
    put32(s, 0);
    put16(s, 0);
  }
  return s;
}

}  // namespace

std::string encodeResponse(const Response& r, size_t limit) {
  std::string s = encode(r, false);
  if (s.size() > limit) s = encode(r, true);
  return s;
}

bool parseMessage(const uint8_t* p, size_t n, Message& out) {
  size_t off = 0;
  uint16_t counts[4];
  if (!get16(p, n, off, out.id) || !get16(p, n, off, out.flags)) return false;
  for (auto& c : counts)
    if (!get16(p, n, off, c)) return false;
  out.question.clear();
  for (uint16_t i = 0; i < counts[0]; ++i) {
    Question q;
    if (!readName(p, n, off, q.name) || !get16(p, n, off, q.type) || !get16(p, n, off, q.cls)) return false;
    out.question.push_back(q);
  }
  std::vector<RR>* secs[3] = {&out.answer, &out.authority, &out.additional};
  for (int s = 0; s < 3; ++s) {
    secs[s]->clear();
    for (uint16_t i = 0; i < counts[s + 1]; ++i) {
      RR rr;
      if (!readRR(p, n, off, rr)) return false;
      secs[s]->push_back(std::move(rr));
    }
  }
  return off == n;
}

std::string buildQuery(uint16_t id, const std::string& name, uint16_t type, uint16_t ednsSize) {
  std::string s;
  put16(s, id);
  put16(s, RD);
  put16(s, 1);
  put16(s, 0);
  put16(s, 0);
  put16(s, ednsSize ? 1 : 0);
  s += name.empty() ? std::string(1, '\0') : encodeName(name);
  put16(s, type);
  put16(s, 1);
  if (ednsSize) {
    s.push_back('\0');
    put16(s, OPT);
    put16(s, ednsSize);
    put32(s, 0);
    put16(s, 0);
  }
  return s;
}

}  // namespace k1s::dns
