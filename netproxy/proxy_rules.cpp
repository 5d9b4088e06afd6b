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

std::vector<std::string> loadBalancerIPs(const ProxyOptions& o) {
  std::vector<std::string> ips = {"127.0.0.1"};
  if (!o.nodeIP.empty() && o.nodeIP != "127.0.0.1") ips.push_back(o.nodeIP);
  return ips;
}

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
  std::vector<const Json*> svcs, sls;
  for (const auto& s : services) svcs.push_back(&s);
  for (const auto& s : slices) sls.push_back(&s);
  return servicePortsOf(svcs, sls);
}

std::vector<ProxyServicePort> servicePortsOf(const std::vector<const Json*>& services,
                                             const std::vector<const Json*>& slices) {
  // "ns/service" -> slices of that service.
  std::map<std::string, std::vector<const Json*>> byService;
  for (const Json* sp : slices) {
    const Json& s = *sp;
    if (str(s, "addressType") != "IPv4") continue;
    auto mi = s.find("metadata");
    if (mi == s.end() || !mi->is_object()) continue;
    const Json& meta = *mi;
    auto li = meta.find("labels");
    std::string svc = li != meta.end() && li->is_object() ? str(*li, "kubernetes.io/service-name") : "";
    if (svc.empty()) continue;
    byService[str(meta, "namespace") + "/" + svc].push_back(&s);
  }
  std::vector<ProxyServicePort> out;
  static const Json empty = Json::object();
  for (const Json* sv : services) {
    const Json& svc = *sv;
    auto mi = svc.find("metadata"), si = svc.find("spec");
    const Json& meta = mi != svc.end() && mi->is_object() ? *mi : empty;
    const Json& spec = si != svc.end() && si->is_object() ? *si : empty;
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

namespace {

const std::set<std::string>& sharedChains() {
  static const std::set<std::string> names = {"nat/K1S-SERVICES",      "nat/K1S-NODEPORTS",
                                              "nat/K1S-POSTROUTING",   "nat/K1S-MARK-MASQ",
                                              "filter/K1S-SERVICES",   "filter/K1S-EXTERNAL-SERVICES",
                                              "filter/K1S-FORWARD"};
  return names;
}

// The shared chains with their fixed rules (no service's lines yet).
RuleSet baseRules(const ProxyOptions& o) {
  RuleSet rs;
  for (const auto& c : sharedChains()) rs[c];
  auto nat = [&rs](const std::string& chain, const std::string& rule) {
    rs["nat/" + chain] += "-A " + chain + " " + rule + "\n";
  };
  auto filter = [&rs](const std::string& chain, const std::string& rule) {
    rs["filter/" + chain] += "-A " + chain + " " + rule + "\n";
  };
  nat("K1S-MARK-MASQ", "-j MARK --or-mark 0x4000");
  if (o.podEgress)  // pods reach beyond the host only when asked (DESIGN rule 8)
    nat("K1S-POSTROUTING", "-s " + o.clusterCIDR + " ! -d " + o.clusterCIDR + " ! -o " + o.bridge + " " +
                               comment("k1s pod egress") + " -j MASQUERADE");
  nat("K1S-POSTROUTING", std::string("-m mark ! --mark ") + kMasqMark + " -j RETURN");
  nat("K1S-POSTROUTING", "-j MARK --xor-mark 0x4000");
  nat("K1S-POSTROUTING", comment("k1s service traffic requiring SNAT") + " -j MASQUERADE --random-fully");

  filter("K1S-FORWARD", "-m conntrack --ctstate INVALID -j DROP");
  if (!o.podEgress)  // nothing from a pod leaves through another interface, not even un-NATed (DESIGN rule 8)
    filter("K1S-FORWARD", "-s " + o.clusterCIDR + " ! -o " + o.bridge + " " + comment("k1s pods have no egress") +
                              " -j REJECT --reject-with icmp-net-unreachable");
  filter("K1S-FORWARD", comment("k1s forwarding rules") + " -m mark --mark " + kMasqMark + " -j ACCEPT");
  filter("K1S-FORWARD", comment("k1s cluster traffic") + " -s " + o.clusterCIDR + " -j ACCEPT");
  filter("K1S-FORWARD", comment("k1s cluster traffic") + " -d " + o.clusterCIDR + " -j ACCEPT");
  filter("K1S-FORWARD", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
  return rs;
}

// Appended to nat/K1S-SERVICES after every service's lines.
std::string nodePortsJump() {
  return "-A K1S-SERVICES " + comment("k1s service nodeports; NOTE: this must be the last rule in this chain") +
         " -m addrtype --dst-type LOCAL -j K1S-NODEPORTS\n";
}

// Shared chains = fixed rules + each port's lines, in port order.
void assembleShared(RuleSet& shared, const std::vector<const PortRules*>& parts) {
  for (const PortRules* pr : parts)
    for (const auto& [chain, lines] : pr->shared) shared[chain] += lines;
  shared["nat/K1S-SERVICES"] += nodePortsJump();
}

}  // namespace

PortRules renderPort(const ProxyServicePort& sp, const ProxyOptions& o) {
  PortRules pr;
  auto add = [&pr](const std::string& table, const std::string& chain, const std::string& rule) {
    std::string key = table + "/" + chain;
    (sharedChains().count(key) ? pr.shared[key] : pr.own[key]) += "-A " + chain + " " + rule + "\n";
  };
  auto nat = [&add](const std::string& chain, const std::string& rule) { add("nat", chain, rule); };
  auto filter = [&add](const std::string& chain, const std::string& rule) { add("filter", chain, rule); };
  std::string proto = lower(sp.protocol);
  std::string match = "-p " + proto + " -m " + proto;
  std::string key = sp.protocol + "/" + sp.id();
  std::string svc = chainName("K1S-SVC-", key);
  std::string ext = chainName("K1S-EXT-", key);
  bool hasCluster = !sp.clusterIP.empty() && sp.clusterIP != "None";
  bool hasExternal = sp.nodePort || sp.loadBalancer || !sp.externalIPs.empty();
  std::string id = sp.id();
  std::string port = std::to_string(sp.port);
  if (sp.endpoints.empty()) {
    // Refuse at once instead of letting the client time out. kube-proxy sends
    // ICMP port-unreachable, but the host rate-limits the ICMP it sends
    // (net.ipv4.icmp_ratelimit: about one per second per destination after a
    // burst of 6, plus icmp_msgs_per_sec), and a suppressed error leaves the SYN
    // silently dropped: the client retries after 1 s, 3 s, ... and a busy pod
    // can wait out all of tcp_syn_retries (~130 s). A TCP reset is not
    // rate-limited and turns into ECONNREFUSED on the first SYN, every time;
    // UDP and SCTP have no reset, so they keep the ICMP error.
    std::string rej = sp.protocol == "TCP" ? " -j REJECT --reject-with tcp-reset"
                                           : " -j REJECT --reject-with icmp-port-unreachable";
    std::string none = comment(id + " has no endpoints");
    if (hasCluster) filter("K1S-SERVICES", none + " -d " + sp.clusterIP + "/32 " + match + " --dport " + port + rej);
    for (const auto& ip : sp.externalIPs)
      filter("K1S-EXTERNAL-SERVICES", none + " -d " + ip + "/32 " + match + " --dport " + port + rej);
    if (sp.loadBalancer)
      for (const auto& ip : loadBalancerIPs(o))
        filter("K1S-EXTERNAL-SERVICES", none + " -d " + ip + "/32 " + match + " --dport " + port + rej);
    if (sp.nodePort)
      filter("K1S-EXTERNAL-SERVICES",
             none + " -m addrtype --dst-type LOCAL " + match + " --dport " + std::to_string(sp.nodePort) + rej);
    return pr;
  }
  pr.own["nat/" + svc];
  if (hasCluster) {
    nat("K1S-SERVICES", comment(id + " cluster IP") + " -d " + sp.clusterIP + "/32 " + match + " --dport " + port +
                            " -j " + svc);
    // Traffic from the host (or anything outside the cluster CIDR) is SNATed
    // so replies come back through this node.
    nat(svc, comment(id + " cluster IP") + " ! -s " + o.clusterCIDR + " -d " + sp.clusterIP + "/32 " + match +
                 " --dport " + port + " -j K1S-MARK-MASQ");
  }
  if (hasExternal) {
    nat(ext, comment("masquerade traffic for " + id + " external destinations") + " -j K1S-MARK-MASQ");
    nat(ext, "-j " + svc);
    for (const auto& ip : sp.externalIPs)
      nat("K1S-SERVICES", comment(id + " external IP") + " -d " + ip + "/32 " + match + " --dport " + port + " -j " + ext);
    if (sp.loadBalancer)
      for (const auto& ip : loadBalancerIPs(o))
        nat("K1S-SERVICES",
            comment(id + " loadbalancer IP") + " -d " + ip + "/32 " + match + " --dport " + port + " -j " + ext);
    if (sp.nodePort)
      nat("K1S-NODEPORTS", comment(id) + " " + match + " --dport " + std::to_string(sp.nodePort) + " -j " + ext);
  }
  std::vector<std::string> seps;
  for (const auto& ep : sp.endpoints) seps.push_back(chainName("K1S-SEP-", key + "/" + ep));
  if (sp.affinitySeconds > 0)
    for (size_t i = 0; i < seps.size(); ++i)
      nat(svc, comment(id + " -> " + sp.endpoints[i]) + " -m recent --name " + seps[i] +
                   " --mask 255.255.255.255 --rsource --rcheck --seconds " + std::to_string(sp.affinitySeconds) +
                   " --reap -j " + seps[i]);
  for (size_t i = 0; i < seps.size(); ++i) {
    std::string rule = comment(id + " -> " + sp.endpoints[i]);
    size_t left = seps.size() - i;
    if (left > 1) {
      char prob[32];
      std::snprintf(prob, sizeof prob, "%0.10f", 1.0 / static_cast<double>(left));
      rule += std::string(" -m statistic --mode random --probability ") + prob;
    }
    nat(svc, rule + " -j " + seps[i]);
  }
  for (size_t i = 0; i < seps.size(); ++i) {
    std::string ip = sp.endpoints[i].substr(0, sp.endpoints[i].rfind(':'));
    // Hairpin: a pod reaching itself through its service must be SNATed.
    nat(seps[i], comment(id) + " -s " + ip + "/32 -j K1S-MARK-MASQ");
    std::string rule = comment(id) + " " + match;
    if (sp.affinitySeconds > 0) rule += " -m recent --name " + seps[i] + " --mask 255.255.255.255 --rsource --set";
    nat(seps[i], rule + " -j DNAT --to-destination " + sp.endpoints[i]);
  }
  return pr;
}

RuleSet buildRuleSet(const std::vector<ProxyServicePort>& ports, const ProxyOptions& o) {
  RuleSet rs = baseRules(o);
  std::vector<PortRules> rendered;
  rendered.reserve(ports.size());
  std::vector<const PortRules*> parts;
  for (const auto& sp : ports) {
    rendered.push_back(renderPort(sp, o));
    parts.push_back(&rendered.back());
    for (auto& [chain, rules] : rendered.back().own) rs[chain] = rules;
  }
  assembleShared(rs, parts);
  return rs;
}

IncrementalRules::IncrementalRules(ProxyOptions o) : o_(std::move(o)) {}

SyncPlan IncrementalRules::plan(const std::vector<ProxyServicePort>& ports, bool full,
                                const std::set<std::string>& existing, bool deferDeletes) {
  pending_.clear();
  lastWasFull_ = full;
  std::vector<const PortRules*> parts;
  parts.reserve(ports.size());
  for (const auto& sp : ports) {
    std::string key = sp.protocol + "/" + sp.id();
    auto it = committed_.find(key);
    // Unchanged ports keep their rendered rules: nothing to render or compare.
    std::shared_ptr<const Entry> e = it != committed_.end() && it->second->port == sp
                                         ? it->second
                                         : std::make_shared<const Entry>(Entry{sp, renderPort(sp, o_)});
    parts.push_back(&e->rules);
    pending_[key] = std::move(e);
  }
  pendingShared_ = baseRules(o_);
  assembleShared(pendingShared_, parts);

  RuleSet want = pendingShared_, was = committedShared_;
  std::set<std::string> leftovers = existing;
  for (const auto& [key, e] : pending_) {
    auto it = committed_.find(key);
    if (full || it == committed_.end() || it->second != e)
      for (const auto& [chain, rules] : e->rules.own) want[chain] = rules;
  }
  for (const auto& [key, e] : committed_) {
    auto it = pending_.find(key);
    bool changed = it == pending_.end() || it->second != e;
    for (const auto& [chain, rules] : e->rules.own) {
      if (full) leftovers.insert(chain);  // deleted unless wanted again
      else if (changed) was[chain] = rules;
    }
  }
  pendingStale_.clear();
  if (full) {
    leftovers.insert(staleLater_.begin(), staleLater_.end());
    return planSync(want, nullptr, leftovers);
  }
  if (deferDeletes) {
    // Unreferenced after this sync, so harmless until the next full sync deletes them.
    for (auto it = was.begin(); it != was.end();) {
      if (want.count(it->first)) {
        ++it;
      } else {
        pendingStale_.insert(it->first);
        it = was.erase(it);
      }
    }
  }
  return planSync(want, &was, {});
}

void IncrementalRules::commit() {
  if (lastWasFull_) staleLater_.clear();
  staleLater_.insert(pendingStale_.begin(), pendingStale_.end());
  pendingStale_.clear();
  committed_ = std::move(pending_);
  committedShared_ = std::move(pendingShared_);
  pending_.clear();
  pendingShared_.clear();
}

void IncrementalRules::reset() {
  staleLater_.clear();  // the caller re-learns what exists
  committed_.clear();
  committedShared_.clear();
}

SyncPlan planSync(const RuleSet& want, const RuleSet* applied, const std::set<std::string>& existing) {
  SyncPlan plan;
  std::ostringstream out;
  for (const char* table : {"filter", "nat"}) {
    std::string prefix = std::string(table) + "/";
    auto inTable = [&prefix](const std::string& c) { return c.compare(0, prefix.size(), prefix) == 0; };
    std::vector<const std::pair<const std::string, std::string>*> changed;
    for (const auto& entry : want) {
      if (!inTable(entry.first)) continue;
      if (applied) {
        auto it = applied->find(entry.first);
        if (it != applied->end() && it->second == entry.second) {
          ++plan.unchanged;
          continue;
        }
      }
      changed.push_back(&entry);
    }
    std::set<std::string> stale;
    for (const auto& c : existing)
      if (inTable(c) && !want.count(c)) stale.insert(c.substr(prefix.size()));
    if (applied)
      for (const auto& entry : *applied)
        if (inTable(entry.first) && !want.count(entry.first)) stale.insert(entry.first.substr(prefix.size()));
    // A full sync always commits both tables, so a kernel that lost a chain gets it back.
    if (changed.empty() && stale.empty() && applied) continue;
    out << "*" << table << "\n";
    for (const auto* c : changed) out << ":" << c->first.substr(prefix.size()) << " - [0:0]\n";
    for (const auto& c : stale) out << ":" << c << " - [0:0]\n";  // declaring flushes it
    for (const auto* c : changed) out << c->second;
    for (const auto& c : stale) out << "-X " << c << "\n";
    out << "COMMIT\n";
    plan.written += changed.size();
    plan.deleted += stale.size();
  }
  plan.text = out.str();
  return plan;
}

std::string renderRules(const std::vector<ProxyServicePort>& ports, const ProxyOptions& o,
                        const std::set<std::string>& previous, std::set<std::string>* written) {
  RuleSet rs = buildRuleSet(ports, o);
  std::string text = planSync(rs, nullptr, previous).text;
  if (written) {
    written->clear();
    for (const auto& entry : rs) written->insert(entry.first);
  }
  return text;
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
