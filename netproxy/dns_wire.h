// DNS wire format (RFC 1035, 2782, 6891) for the cluster DNS server: strict
// query parsing, response encoding with truncation, and a generic message
// decoder (used by the tests' client and for upstream replies).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace k1s::dns {

enum Type : uint16_t { A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, TXT = 16, AAAA = 28, SRV = 33, OPT = 41, ANY = 255 };
enum Rcode : uint8_t { NoError = 0, FormErr = 1, ServFail = 2, NXDomain = 3, NotImp = 4, Refused = 5 };
enum Flag : uint16_t { QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080 };
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr size_t kMaxUdpPlain = 512;
constexpr uint16_t kOurEdnsSize = 1232;  // the DNS flag day 2020 size: no IP fragmentation

struct Question {
  std::string name;  // lower case, no trailing dot; "" is the root
  uint16_t type = 0, cls = 1;
};

struct RR {
  std::string name;
  uint16_t type = 0, cls = 1;
  uint32_t ttl = 0;
  std::string rdata;  // encoded; names inside are never compressed
  std::string text;   // decoder only: "10.0.0.1", "target.name", "0 100 80 target" ...
};

struct Query {
  uint16_t id = 0, flags = 0;
  Question q;
  bool edns = false;
  uint16_t udpSize = 512;  // the requester's EDNS0 payload size (>= 512)
  uint8_t ednsVersion = 0;
};

enum class ParseResult { Ok, FormErr, Drop };
// Drop: not even a query header (or a response); FormErr: header readable,
// `out.id`/`out.flags` are set so a FORMERR reply can be sent.
ParseResult parseQuery(const uint8_t* p, size_t n, Query& out);

// Reads a possibly compressed name at `off` (advanced past it). Pointers must
// point strictly backwards, which also rules out loops.
bool readName(const uint8_t* p, size_t n, size_t& off, std::string& out);
// "" on an invalid name (empty label, label > 63, name > 253).
std::string encodeName(const std::string& name);

std::string rdataA(const std::string& ipv4);  // "" if not an IPv4 address
std::string rdataAAAA(const std::string& ipv6);
std::string rdataName(const std::string& name);
std::string rdataSrv(uint16_t priority, uint16_t weight, uint16_t port, const std::string& target);
std::string rdataSoa(const std::string& mname, const std::string& rname, uint32_t serial, uint32_t refresh,
                     uint32_t retry, uint32_t expire, uint32_t minimum);

struct Response {
  uint16_t id = 0, queryFlags = 0;  // opcode and RD are echoed from the query
  Rcode rcode = NoError;
  bool authoritative = false, recursionAvailable = false;
  bool hasQuestion = true;
  Question q;
  std::vector<RR> answer, authority, additional;
  bool edns = false;  // append our OPT RR
};
// Encodes `r`; if it exceeds `limit` bytes, sets TC and drops all records
// (the client retries over TCP).
std::string encodeResponse(const Response& r, size_t limit);

struct Message {
  uint16_t id = 0, flags = 0;
  std::vector<Question> question;
  std::vector<RR> answer, authority, additional;
  uint8_t rcode() const { return flags & 0xF; }
};
bool parseMessage(const uint8_t* p, size_t n, Message& out);
// Builds a plain query (RD set); `ednsSize` > 0 adds an OPT RR.
std::string buildQuery(uint16_t id, const std::string& name, uint16_t type, uint16_t ednsSize = 0);

std::string lower(std::string s);

}  // namespace k1s::dns
