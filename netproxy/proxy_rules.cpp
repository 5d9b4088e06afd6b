#include "netproxy/proxy_rules.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace k1s {

namespace {

const char* kMasqMark = "0x4000/0x4000";

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string comment(const std::string& text) { return "-m comment --comment \"" + text + "\""; }

}  // namespace

std::string chainName(const std::string& prefix, const std::string& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned i = 0; i < len && out.size() < 16; ++i) {
    buffer = (buffer << 8) | digest[i];
    bits += 8;
    while (bits >= 5 && out.size() < 16) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return prefix + out;
}

std::vector<ProxyServicePort> buildServicePorts(const std::vector<Json>& services, const std::vector<Json>& slices) {
  // "ns/service" -> slices of that service.
  std::map<std::string, std::vector<const Json*>> byService;
  for (const auto& s : slices) {
    if (str(s, "addressType") != "IPv4") continue;
    const Json& meta = s.value("metadata", Json::object());
    auto labels = meta.value("labels", Json::object());
    std::string svc = labels.is_object() ? str(labels, "kubernetes.io/service-name") : "";
    if (svc.empty()) continue;
    byService[str(meta, "namespace") + "/" + svc].push_back(&s);
  }
  std::vector<ProxyServicePort> out;
  for (const auto& svc : services) {
    const Json& meta = svc.value("metadata", Json::object());
    const Json& spec = svc.value("spec", Json::object());
    std::string type = str(spec, "type");
    if (type == "ExternalName") continue;
    std::string clusterIP = str(spec, "clusterIP");
    if (clusterIP == "None") continue;  // headless: DNS only
    int affinity = 0;
    if (str(spec, "sessionAffinity") == "ClientIP") {
      affinity = 10800;
      auto cfg = spec.value("sessionAffinityConfig", Json::object());
      if (cfg.is_object() && cfg.contains("clientIP") && cfg["clientIP"].contains("timeoutSeconds"))
        affinity = cfg["clientIP"]["timeoutSeconds"].get<int>();
    }
    std::vector<std::string> externalIPs;
    if (spec.contains("externalIPs") && spec["externalIPs"].is_array())
      for (const auto& ip : spec["externalIPs"])
        if (ip.is_string()) externalIPs.push_back(ip.get<std::string>());
    std::string key = str(meta, "namespace") + "/" + str(meta, "name");
    if (!spec.contains("ports") || !spec["ports"].is_array()) continue;
    for (const auto& p : spec["ports"]) {
      ProxyServicePort sp;
      sp.ns = str(meta, "namespace");
      sp.name = str(meta, "name");
      sp.portName = str(p, "name");
      sp.protocol = str(p, "protocol").empty() ? "TCP" : str(p, "protocol");
      sp.clusterIP = clusterIP;
      sp.port = p.value("port", 0);
      sp.nodePort = (type == "NodePort" || type == "LoadBalancer") ? p.value("nodePort", 0) : 0;
      sp.loadBalancer = type == "LoadBalancer";
      sp.externalIPs = externalIPs;
      sp.affinitySeconds = affinity;
      std::set<std::string> eps;
      for (const Json* sl : byService[key]) {
        int target = 0;
        if (sl->contains("ports") && (*sl)["ports"].is_array())
          for (const auto& sp2 : (*sl)["ports"])
            if (str(sp2, "name") == sp.portName &&
                (str(sp2, "protocol").empty() ? "TCP" : str(sp2, "protocol")) == sp.protocol)
              target = sp2.value("port", 0);
        if (!target) continue;
        if (!sl->contains("endpoints") || !(*sl)["endpoints"].is_array()) continue;
        for (const auto& ep : (*sl)["endpoints"]) {
          auto cond = ep.value("conditions", Json::object());
          if (cond.is_object() && cond.contains("ready") && cond["ready"].is_boolean() && !cond["ready"].get<bool>())
            continue;
          if (!ep.contains("addresses") || !ep["addresses"].is_array()) continue;
          for (const auto& a : ep["addresses"])
            if (a.is_string()) eps.insert(a.get<std::string>() + ":" + std::to_string(target));
        }
      }
      sp.endpoints.assign(eps.begin(), eps.end());
      out.push_back(std::move(sp));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  return out;
}

std::vector<JumpRule> jumpRules() {
  return {
      {"nat", "PREROUTING", {"-m", "comment", "--comment", "k1s service portals", "-j", "K1S-SERVICES"}},
      {"nat", "OUTPUT", {"-m", "comment", "--comment", "k1s service portals", "-j", "K1S-SERVICES"}},
      {"nat", "POSTROUTING", {"-m", "comment", "--comment", "k1s postrouting rules", "-j", "K1S-POSTROUTING"}},
      {"filter", "INPUT", {"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
                           "k1s externally-visible service portals", "-j", "K1S-EXTERNAL-SERVICES"}},
      {"filter", "FORWARD", {"-m", "comment", "--comment", "k1s forwarding rules", "-j", "K1S-FORWARD"}},
      {"filter", "FORWARD", {"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
                             "k1s service portals", "-j", "K1S-SERVICES"}},
      {"filter", "FORWARD", {"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
                             "k1s externally-visible service portals", "-j", "K1S-EXTERNAL-SERVICES"}},
      {"filter", "OUTPUT", {"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
                            "k1s service portals", "-j", "K1S-SERVICES"}},
      {"filter", "OUTPUT", {"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
                            "k1s externally-visible service portals", "-j", "K1S-EXTERNAL-SERVICES"}},
  };
}

std::string renderRules(const std::vector<ProxyServicePort>& ports, const ProxyOptions& o,
                        const std::set<std::string>& previous, std::set<std::string>* written) {
  std::vector<std::string> natChains = {"K1S-SERVICES", "K1S-NODEPORTS", "K1S-POSTROUTING", "K1S-MARK-MASQ"};
  std::vector<std::string> filterChains = {"K1S-SERVICES", "K1S-EXTERNAL-SERVICES", "K1S-FORWARD"};
  std::ostringstream nat, filter, natTail;

  nat << "-A K1S-MARK-MASQ -j MARK --or-mark 0x4000\n";
  if (o.podEgress)  // pods reach beyond the host only when asked (DESIGN rule 8)
    nat << "-A K1S-POSTROUTING -s " << o.clusterCIDR << " ! -d " << o.clusterCIDR << " ! -o " << o.bridge << " "
        << comment("k1s pod egress") << " -j MASQUERADE\n";
  nat << "-A K1S-POSTROUTING -m mark ! --mark " << kMasqMark << " -j RETURN\n"
      << "-A K1S-POSTROUTING -j MARK --xor-mark 0x4000\n"
      << "-A K1S-POSTROUTING " << comment("k1s service traffic requiring SNAT") << " -j MASQUERADE --random-fully\n";

  filter << "-A K1S-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
         << "-A K1S-FORWARD " << comment("k1s forwarding rules") << " -m mark --mark " << kMasqMark << " -j ACCEPT\n"
         << "-A K1S-FORWARD " << comment("k1s cluster traffic") << " -s " << o.clusterCIDR << " -j ACCEPT\n"
         << "-A K1S-FORWARD " << comment("k1s cluster traffic") << " -d " << o.clusterCIDR << " -j ACCEPT\n"
         << "-A K1S-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";

  for (const auto& sp : ports) {
    std::string proto = lower(sp.protocol);
    std::string match = "-p " + proto + " -m " + proto;
    std::string key = sp.protocol + "/" + sp.id();
    std::string svc = chainName("K1S-SVC-", key);
    std::string ext = chainName("K1S-EXT-", key);
    bool hasCluster = !sp.clusterIP.empty() && sp.clusterIP != "None";
    bool hasExternal = sp.nodePort || sp.loadBalancer || !sp.externalIPs.empty();
    std::string id = sp.id();
    if (sp.endpoints.empty()) {
      // Refuse fast (ICMP port unreachable -> ECONNREFUSED) instead of timing out.
      std::string rej = " -j REJECT --reject-with icmp-port-unreachable\n";
      if (hasCluster)
        filter << "-A K1S-SERVICES " << comment(id + " has no endpoints") << " -d " << sp.clusterIP << "/32 " << match
               << " --dport " << sp.port << rej;
      for (const auto& ip : sp.externalIPs)
        filter << "-A K1S-EXTERNAL-SERVICES " << comment(id + " has no endpoints") << " -d " << ip << "/32 " << match
               << " --dport " << sp.port << rej;
      if (sp.loadBalancer)
        filter << "-A K1S-EXTERNAL-SERVICES " << comment(id + " has no endpoints") << " -d 127.0.0.1/32 " << match
               << " --dport " << sp.port << rej;
      if (sp.nodePort)
        filter << "-A K1S-EXTERNAL-SERVICES " << comment(id + " has no endpoints")
               << " -m addrtype --dst-type LOCAL " << match << " --dport " << sp.nodePort << rej;
      continue;
    }
    natChains.push_back(svc);
    if (hasCluster) {
      nat << "-A K1S-SERVICES " << comment(id + " cluster IP") << " -d " << sp.clusterIP << "/32 " << match
          << " --dport " << sp.port << " -j " << svc << "\n";
      // Traffic from the host (or anything outside the cluster CIDR) is SNATed
      // so replies come back through this node.
      nat << "-A " << svc << " " << comment(id + " cluster IP") << " ! -s " << o.clusterCIDR << " -d " << sp.clusterIP
          << "/32 " << match << " --dport " << sp.port << " -j K1S-MARK-MASQ\n";
    }
    if (hasExternal) {
      natChains.push_back(ext);
      nat << "-A " << ext << " " << comment("masquerade traffic for " + id + " external destinations")
          << " -j K1S-MARK-MASQ\n"
          << "-A " << ext << " -j " << svc << "\n";
      for (const auto& ip : sp.externalIPs)
        nat << "-A K1S-SERVICES " << comment(id + " external IP") << " -d " << ip << "/32 " << match << " --dport "
            << sp.port << " -j " << ext << "\n";
      if (sp.loadBalancer)  // LoadBalancer = localhost:<port> (needs route_localnet)
        nat << "-A K1S-SERVICES " << comment(id + " loadbalancer IP") << " -d 127.0.0.1/32 " << match << " --dport "
            << sp.port << " -j " << ext << "\n";
      if (sp.nodePort)
        natTail << "-A K1S-NODEPORTS " << comment(id) << " " << match << " --dport " << sp.nodePort << " -j " << ext
                << "\n";
    }
    std::vector<std::string> seps;
    for (const auto& ep : sp.endpoints) seps.push_back(chainName("K1S-SEP-", key + "/" + ep));
    if (sp.affinitySeconds > 0)
      for (size_t i = 0; i < seps.size(); ++i)
        nat << "-A " << svc << " " << comment(id + " -> " + sp.endpoints[i]) << " -m recent --name " << seps[i]
            << " --mask 255.255.255.255 --rsource --rcheck --seconds " << sp.affinitySeconds << " --reap -j "
            << seps[i] << "\n";
    for (size_t i = 0; i < seps.size(); ++i) {
      nat << "-A " << svc << " " << comment(id + " -> " + sp.endpoints[i]);
      size_t left = seps.size() - i;
      if (left > 1) {
        char prob[32];
        std::snprintf(prob, sizeof prob, "%0.10f", 1.0 / static_cast<double>(left));
        nat << " -m statistic --mode random --probability " << prob;
      }
      nat << " -j " << seps[i] << "\n";
    }
    for (size_t i = 0; i < seps.size(); ++i) {
      natChains.push_back(seps[i]);
      std::string ip = sp.endpoints[i].substr(0, sp.endpoints[i].rfind(':'));
      // Hairpin: a pod reaching itself through its service must be SNATed.
      nat << "-A " << seps[i] << " " << comment(id) << " -s " << ip << "/32 -j K1S-MARK-MASQ\n"
          << "-A " << seps[i] << " " << comment(id) << " " << match;
      if (sp.affinitySeconds > 0) nat << " -m recent --name " << seps[i] << " --mask 255.255.255.255 --rsource --set";
      nat << " -j DNAT --to-destination " << sp.endpoints[i] << "\n";
    }
  }
  nat << natTail.str()
      << "-A K1S-SERVICES " << comment("k1s service nodeports; NOTE: this must be the last rule in this chain")
      << " -m addrtype --dst-type LOCAL -j K1S-NODEPORTS\n";

  std::set<std::string> now;
  for (const auto& c : natChains) now.insert("nat/" + c);
  for (const auto& c : filterChains) now.insert("filter/" + c);
  std::ostringstream out;
  for (const char* table : {"filter", "nat"}) {
    std::string t = table;
    out << "*" << t << "\n";
    for (const auto& c : now)
      if (c.compare(0, t.size() + 1, t + "/") == 0) out << ":" << c.substr(t.size() + 1) << " - [0:0]\n";
    std::vector<std::string> stale;
    for (const auto& c : previous)
      if (c.compare(0, t.size() + 1, t + "/") == 0 && !now.count(c)) {
        stale.push_back(c.substr(t.size() + 1));
        out << ":" << stale.back() << " - [0:0]\n";  // declaring flushes it
      }
    out << (t == "nat" ? nat.str() : filter.str());
    for (const auto& c : stale) out << "-X " << c << "\n";
    out << "COMMIT\n";
  }
  if (written) *written = std::move(now);
  return out.str();
}

std::string renderCleanup(const std::set<std::string>& chains) {
  std::ostringstream out;
  for (const char* table : {"filter", "nat"}) {
    std::string t = table;
    out << "*" << t << "\n";
    std::vector<std::string> mine;
    for (const auto& c : chains)
      if (c.compare(0, t.size() + 1, t + "/") == 0) mine.push_back(c.substr(t.size() + 1));
    for (const auto& c : mine) out << ":" << c << " - [0:0]\n";
    for (const auto& c : mine) out << "-X " << c << "\n";
    out << "COMMIT\n";
  }
  return out.str();
}

std::set<std::string> chainsInSave(const std::string& saveText) {
  std::set<std::string> out;
  std::istringstream in(saveText);
  std::string line, table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    else if (line.rfind(":K1S-", 0) == 0) out.insert(table + "/" + line.substr(1, line.find(' ') - 1));
  }
  return out;
}

}  // namespace k1s
