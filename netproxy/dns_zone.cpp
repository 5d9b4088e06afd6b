// Cluster zone answers, following the Kubernetes DNS specification
// (services, headless endpoints, SRV for named ports, pod A records in
// "pods insecure" mode as kube's default Corefile, PTR for known IPs).
#include "netproxy/dns_zone.h"

#include <arpa/inet.h>

#include <set>

namespace k1s::dns {

namespace {

std::vector<std::string> splitLabels(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t dot = s.find('.', start);
    if (dot == std::string::npos) dot = s.size();
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool validIPv4(const std::string& ip) {
  in_addr a{};
  return inet_pton(AF_INET, ip.c_str(), &a) == 1;
}

std::string dashed(std::string ip) {
  for (auto& c : ip)
    if (c == '.' || c == ':') c = '-';
  return ip;
}

RR record(const std::string& name, uint16_t type, std::string rdata) {
  RR rr;
  rr.name = name;
  rr.type = type;
  rr.ttl = kTtl;
  rr.rdata = std::move(rdata);
  return rr;
}

// An address record for `ip` if it is of the asked family (A or AAAA).
bool addressRecord(std::vector<RR>& out, const std::string& name, uint16_t qtype, const std::string& ip) {
  if ((qtype == A || qtype == ANY) && validIPv4(ip)) {
    out.push_back(record(name, A, rdataA(ip)));
    return true;
  }
  std::string v6 = validIPv4(ip) ? "" : rdataAAAA(ip);
  if ((qtype == AAAA || qtype == ANY) && !v6.empty()) {
    out.push_back(record(name, AAAA, v6));
    return true;
  }
  return false;
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

struct Endpoint {
  std::string address, hostname;
  Json ports;  // the slice's ports: [{name, port, protocol}]
};

}  // namespace

ClusterZone::ClusterZone(const Informer& services, const Informer& slices, const Informer& pods, std::string domain)
    : services_(services), slices_(slices), pods_(pods), domain_(lower(std::move(domain))) {}

RR ClusterZone::soa() const {
  // Same shape as CoreDNS's: ns.dns.<zone> hostmaster.<zone>, negative TTL = our TTL.
  return record(domain_, SOA,
                rdataSoa("ns.dns." + domain_, "hostmaster." + domain_, uint32_t(time(nullptr)), 7200, 1800,
                         86400, kTtl));
}

Answer ClusterZone::nodata() const {
  Answer a;
  a.handled = true;
  a.authority.push_back(soa());
  return a;
}

Answer ClusterZone::nxdomain() const {
  Answer a = nodata();
  a.rcode = NXDomain;
  return a;
}

Answer ClusterZone::resolve(const Question& q) const {
  const std::string& name = q.name;
  if (endsWith(name, ".in-addr.arpa")) return resolveReverse(q);
  std::string rest;
  if (name == domain_) {
    rest = "";
  } else if (endsWith(name, "." + domain_)) {
    rest = name.substr(0, name.size() - domain_.size() - 1);
  } else {
    return {};
  }
  auto labels = splitLabels(rest);
  if (labels.empty()) {
    Answer a = nodata();
    if (q.type == SOA || q.type == ANY) {
      a.answer.push_back(soa());
      a.authority.clear();
    }
    return a;
  }
  std::string zone = labels.back();
  labels.pop_back();
  if (zone == "svc") return resolveService(q, labels);
  if (zone == "pod") {
    if (labels.size() == 1) return nodata();  // <ns>.pod: an empty non-terminal
    if (labels.size() != 2) return nxdomain();
    std::string ip = labels[0];
    for (auto& c : ip)
      if (c == '-') c = '.';
    if (!validIPv4(ip)) return nxdomain();
    Answer a = nodata();
    if (addressRecord(a.answer, name, q.type, ip)) a.authority.clear();
    return a;
  }
  return nxdomain();
}

std::vector<std::pair<std::string, std::string>> ClusterZone::readyEndpoints(const std::string& ns,
                                                                             const std::string& svc) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const auto& slice : slices_.list(ns)) {
    const Json& labels = (*slice)["metadata"].value("labels", Json::object());
    if (labels.value("kubernetes.io/service-name", "") != svc) continue;
    for (const auto& ep : slice->value("endpoints", Json::array())) {
      const Json& cond = ep.value("conditions", Json::object());
      if (cond.contains("ready") && cond["ready"].is_boolean() && !cond["ready"].get<bool>()) continue;
      for (const auto& addr : ep.value("addresses", Json::array())) {
        if (!addr.is_string() || !seen.insert(addr.get<std::string>()).second) continue;
        out.emplace_back(addr.get<std::string>(), lower(str(ep, "hostname")));
      }
    }
  }
  return out;
}

Answer ClusterZone::resolveService(const Question& q, const std::vector<std::string>& labels) const {
  size_t n = labels.size();
  if (n == 0) return nodata();
  const std::string& ns = labels[n - 1];
  if (n == 1) return services_.list(ns).empty() ? nxdomain() : nodata();
  CachedObject svc = services_.get(ns, labels[n - 2]);
  if (!svc) return nxdomain();
  const Json& spec = (*svc).value("spec", Json::object());
  std::string fqdn = labels[n - 2] + "." + ns + ".svc." + domain_;
  std::string type = str(spec, "type"), clusterIP = str(spec, "clusterIP");
  bool headless = clusterIP == "None";
  Answer a = nodata();
  auto done = [&a]() {
    if (!a.answer.empty()) a.authority.clear();
    return a;
  };

  if (type == "ExternalName") {
    if (n != 2) return nxdomain();
    std::string target = lower(str(spec, "externalName"));
    while (!target.empty() && target.back() == '.') target.pop_back();
    if (encodeName(target).empty()) return a;
    a.answer.push_back(record(q.name, CNAME, rdataName(target)));
    return done();
  }

  // Named ports as "_name._proto" -> (service port, name, protocol).
  struct Port {
    std::string name, proto;
    int port;
  };
  std::vector<Port> ports;
  for (const auto& p : spec.value("ports", Json::array())) {
    std::string pn = lower(str(p, "name"));
    std::string proto = str(p, "protocol").empty() ? "TCP" : str(p, "protocol");
    if (!pn.empty()) ports.push_back({pn, proto, p.value("port", 0)});
  }
  std::vector<std::pair<std::string, std::string>> eps;
  if (headless) eps = readyEndpoints(ns, labels[n - 2]);
  auto endpointName = [&](const std::pair<std::string, std::string>& ep) {
    return (ep.second.empty() ? dashed(ep.first) : ep.second) + "." + fqdn;
  };
  // Target port of a headless endpoint: from its slice; the service port is the fallback.
  auto srvRecords = [&](const std::string& owner, const std::vector<Port>& which) {
    for (const auto& p : which) {
      if (!headless) {
        a.answer.push_back(record(owner, SRV, rdataSrv(0, 100, uint16_t(p.port), fqdn)));
        addressRecord(a.additional, fqdn, A, clusterIP);
        continue;
      }
      uint16_t weight = eps.empty() ? 100 : uint16_t(std::max<size_t>(1, 100 / eps.size()));
      for (const auto& ep : eps) {
        int port = p.port;
        for (const auto& slice : slices_.list(ns)) {
          if ((*slice)["metadata"].value("labels", Json::object()).value("kubernetes.io/service-name", "") !=
              labels[n - 2])
            continue;
          for (const auto& sp : slice->value("ports", Json::array()))
            if (lower(str(sp, "name")) == p.name && sp.contains("port")) port = sp["port"].get<int>();
        }
        a.answer.push_back(record(owner, SRV, rdataSrv(0, weight, uint16_t(port), endpointName(ep))));
        addressRecord(a.additional, endpointName(ep), A, ep.first);
      }
    }
  };

  if (n == 2) {
    if (q.type == SRV) {
      srvRecords(q.name, ports);
    } else if (headless) {
      for (const auto& ep : eps) addressRecord(a.answer, q.name, q.type, ep.first);
    } else if (!clusterIP.empty()) {
      for (const auto& ip : spec.value("clusterIPs", Json::array({clusterIP})))
        if (ip.is_string()) addressRecord(a.answer, q.name, q.type, ip.get<std::string>());
    }
    return done();
  }
  if (n == 3) {
    if (!headless) return nxdomain();
    for (const auto& ep : eps)
      if (ep.second == labels[0] || dashed(ep.first) == labels[0]) {
        addressRecord(a.answer, q.name, q.type, ep.first);
        return done();
      }
    return nxdomain();
  }
  if (n == 4 && labels[0].size() > 1 && labels[0][0] == '_' && labels[1].size() > 1 && labels[1][0] == '_') {
    std::string pn = labels[0].substr(1), proto = labels[1].substr(1);
    std::vector<Port> match;
    for (const auto& p : ports)
      if (p.name == pn && lower(p.proto) == proto) match.push_back(p);
    if (match.empty()) return nxdomain();
    if (q.type == SRV || q.type == ANY) srvRecords(q.name, match);
    return done();
  }
  return nxdomain();
}

Answer ClusterZone::resolveReverse(const Question& q) const {
  auto labels = splitLabels(q.name.substr(0, q.name.size() - std::string(".in-addr.arpa").size()));
  if (labels.size() != 4) return {};
  std::string ip = labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0];
  if (!validIPv4(ip)) return {};
  std::vector<std::string> names;
  for (const auto& svc : services_.list()) {
    const Json& spec = svc->value("spec", Json::object());
    std::string ns = (*svc)["metadata"].value("namespace", ""), name = (*svc)["metadata"].value("name", "");
    if (str(spec, "clusterIP") == ip) names.push_back(name + "." + ns + ".svc." + domain_);
    if (str(spec, "clusterIP") == "None")
      for (const auto& ep : readyEndpoints(ns, name))
        if (ep.first == ip) names.push_back((ep.second.empty() ? dashed(ip) : ep.second) + "." + name + "." + ns +
                                            ".svc." + domain_);
  }
  if (names.empty())
    for (const auto& pod : pods_.list())
      if (str(pod->value("status", Json::object()), "podIP") == ip)
        names.push_back(dashed(ip) + "." + (*pod)["metadata"].value("namespace", "") + ".pod." + domain_);
  if (names.empty()) return {};
  Answer a;
  a.handled = true;
  if (q.type == PTR || q.type == ANY) {
    for (const auto& nm : names) a.answer.push_back(record(q.name, PTR, rdataName(nm)));
  } else {
    a.authority.push_back(soa());
  }
  return a;
}

}  // namespace k1s::dns
