// libFuzzer target: the cluster DNS server's wire format. Every UDP datagram and TCP message
// reaching 10.96.0.10:53 goes through dns::parseQuery; a query that parses is answered, so the
// answer is encoded here (with records named after the question, as a headless service gives)
// within the requester's UDP size, and that answer must decode again with parseMessage and
// carry the question back. The raw input is also decoded as a whole message (upstream replies).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "netproxy/dns_wire.h"

namespace dns = k1s::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dns::Message m;
  (void)dns::parseMessage(data, size, m);

  dns::Query q;
  if (dns::parseQuery(data, size, q) != dns::ParseResult::Ok) return 0;
  if (q.udpSize < dns::kMaxUdpPlain) abort();  // parseQuery promises >= 512

  dns::Response r;
  r.id = q.id;
  r.queryFlags = q.flags;
  r.authoritative = true;
  r.q = q.q;
  r.edns = q.edns;
  // An answer set whose size depends on the query, so both the full and the truncated
  // encoding are reached.
  size_t count = 1 + (q.id % 40);
  for (size_t i = 0; i < count; ++i) {
    dns::RR rr;
    rr.name = q.q.name;
    rr.type = dns::A;
    rr.ttl = 30;
    rr.rdata = dns::rdataA("10.244.0." + std::to_string(i + 1));
    r.answer.push_back(rr);
  }
  if (q.q.type == dns::SRV) {
    dns::RR srv;
    srv.name = q.q.name;
    srv.type = dns::SRV;
    srv.rdata = dns::rdataSrv(0, 100, 80, "numbers-api.default.svc.cluster.local");
    r.answer.push_back(srv);
  }
  dns::RR soa;
  soa.name = "cluster.local";
  soa.type = dns::SOA;
  soa.rdata = dns::rdataSoa("ns.dns.cluster.local", "hostmaster.cluster.local", 1, 7200, 1800, 86400, 30);
  r.authority.push_back(soa);

  size_t limit = q.edns ? q.udpSize : dns::kMaxUdpPlain;
  std::string wire = dns::encodeResponse(r, limit);
  dns::Message back;
  if (!dns::parseMessage(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), back)) {
    fprintf(stderr, "our answer to '%s' does not decode\n", q.q.name.c_str());
    abort();
  }
  if (back.id != q.id || !(back.flags & dns::QR)) abort();
  // The question comes back when its name is encodable (readName may yield names with dots
  // inside a label or longer than 253 characters, which encodeName refuses).
  if (!back.question.empty() && dns::lower(back.question[0].name) != q.q.name) {
    fprintf(stderr, "question '%s' came back as '%s'\n", q.q.name.c_str(), back.question[0].name.c_str());
    abort();
  }
  if (wire.size() > limit && !(back.flags & dns::TC)) {
    fprintf(stderr, "answer of %zu bytes over the limit %zu without TC\n", wire.size(), limit);
    abort();
  }
  return 0;
}
