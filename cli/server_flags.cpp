#include "cli/server_flags.h"

#include <unistd.h>

#include <functional>
#include <map>
#include <stdexcept>

#include "common/net.h"

namespace k1s {

std::string serverUsage() {
  return "Usage: k1s server [flags]\n\n"
         "Flags:\n"
         "  --data-dir DIR                    state, images, certs, kubeconfig (default /var/lib/k1s)\n"
         "  --run-dir DIR                     netns handles, sockets (default /run/k1s)\n"
         "  --bind-address IP                 API listen address (default 127.0.0.1)\n"
         "  --secure-port N                   API HTTPS port (default 6443)\n"
         "  --service-cluster-ip-range CIDR   Service IPs (default 10.96.0.0/16)\n"
         "  --service-node-port-range A-B     NodePorts (default 30000-32767)\n"
         "  --cluster-cidr CIDR               pod IPs (default 10.244.0.0/16)\n"
         "  --bridge NAME                     pod bridge (default k1s0)\n"
         "  --cluster-dns IP                  cluster DNS Service IP (default 10.96.0.10)\n"
         "  --cluster-domain NAME             (default cluster.local)\n"
         "  --node-name NAME                  (default: hostname)\n"
         "  --cleanup-on-exit                 remove pods' network and rules on stop\n"
         "  --pod-egress                      let pods reach beyond this host (masquerade)\n"
         "  --sync normal|full                SQLite synchronous mode (default normal: a crash of the process\n"
         "                                    loses no acknowledged write; full: neither does power loss)\n"
         "  -v N                              log verbosity\n";
}

static int toInt(const std::string& flag, const std::string& v) {
  try {
    size_t used;
    int n = std::stoi(v, &used);
    if (used != v.size()) throw 1;
    return n;
  } catch (...) {
    throw std::invalid_argument("invalid value \"" + v + "\" for flag " + flag + ": not a number");
  }
}

static void needCidr(const std::string& flag, const std::string& v) {
  if (!Cidr::parse(v)) throw std::invalid_argument("invalid value \"" + v + "\" for flag " + flag + ": not a CIDR");
}

ServerFlags parseServerFlags(int argc, char** argv) {
  ServerFlags f;
  std::map<std::string, std::function<void(const std::string&)>> valued = {
      {"--data-dir", [&](auto& v) { f.dataDir = v; }},
      {"--run-dir", [&](auto& v) { f.runDir = v; }},
      {"--bind-address", [&](auto& v) {
         if (!parseIPv4(v)) throw std::invalid_argument("invalid value \"" + v + "\" for flag --bind-address");
         f.bindAddress = v;
       }},
      {"--secure-port", [&](auto& v) {
         f.securePort = toInt("--secure-port", v);
         if (f.securePort < 1 || f.securePort > 65535) throw std::invalid_argument("--secure-port must be 1-65535");
       }},
      {"--service-cluster-ip-range", [&](auto& v) { needCidr("--service-cluster-ip-range", v); f.serviceCIDR = v; }},
      {"--service-node-port-range", [&](auto& v) {
         auto dash = v.find('-');
         if (dash == std::string::npos) throw std::invalid_argument("invalid --service-node-port-range \"" + v + "\"");
         f.nodePortMin = toInt("--service-node-port-range", v.substr(0, dash));
         f.nodePortMax = toInt("--service-node-port-range", v.substr(dash + 1));
         if (f.nodePortMin < 1 || f.nodePortMax > 65535 || f.nodePortMin > f.nodePortMax)
           throw std::invalid_argument("invalid --service-node-port-range \"" + v + "\"");
       }},
      {"--cluster-cidr", [&](auto& v) { needCidr("--cluster-cidr", v); f.clusterCIDR = v; }},
      {"--bridge", [&](auto& v) {
         if (v.empty() || v.size() > 15) throw std::invalid_argument("--bridge must be 1-15 characters");
         f.bridge = v;
       }},
      {"--cluster-dns", [&](auto& v) {
         if (!parseIPv4(v)) throw std::invalid_argument("invalid value \"" + v + "\" for flag --cluster-dns");
         f.clusterDNS = v;
       }},
      {"--cluster-domain", [&](auto& v) { f.clusterDomain = v; }},
      {"--node-name", [&](auto& v) { f.nodeName = v; }},
      {"--sync", [&](auto& v) {
         if (v == "normal") f.sync = "NORMAL";
         else if (v == "full") f.sync = "FULL";
         else throw std::invalid_argument("invalid value \"" + v + "\" for flag --sync: must be normal or full");
       }},
      {"-v", [&](auto& v) { f.verbosity = toInt("-v", v); }},
      {"--v", [&](auto& v) { f.verbosity = toInt("--v", v); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      f.help = true;
      continue;
    }
    if (a == "--cleanup-on-exit" || a == "--cleanup-on-exit=true") { f.cleanupOnExit = true; continue; }
    if (a == "--cleanup-on-exit=false") { f.cleanupOnExit = false; continue; }
    if (a == "--pod-egress" || a == "--pod-egress=true") { f.podEgress = true; continue; }
    if (a == "--pod-egress=false") { f.podEgress = false; continue; }
    std::string name = a, value;
    auto eq = a.find('=');
    bool hasValue = eq != std::string::npos;
    if (hasValue) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    auto it = valued.find(name);
    if (it == valued.end()) throw std::invalid_argument("unknown flag: " + a);
    if (!hasValue) {
      if (i + 1 >= argc) throw std::invalid_argument("flag needs an argument: " + name);
      value = argv[++i];
    }
    it->second(value);
  }
  if (f.nodeName.empty()) {
    char h[256] = {};
    gethostname(h, sizeof h - 1);
    f.nodeName = h;
  }
  return f;
}

}  // namespace k1s
