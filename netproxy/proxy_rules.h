// The pure half of the service proxy: Services + EndpointSlices -> the
// iptables-restore text (nat and filter tables) in kube-proxy's iptables-mode
// structure, with every chain prefixed K1S-. No I/O here, so it is unit-tested
// as text.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "netproxy/proxy.h"

namespace k1s {

// One service port as the proxy programs it.
struct ProxyServicePort {
  std::string ns, name, portName;
  std::string protocol = "TCP";  // TCP, UDP, SCTP
  std::string clusterIP;         // "" or "None": no cluster-IP rules
  int port = 0;
  int nodePort = 0;              // 0: none
  bool loadBalancer = false;     // also reachable at 127.0.0.1:<port>
  std::vector<std::string> externalIPs;
  int affinitySeconds = 0;       // >0: sessionAffinity ClientIP
  std::vector<std::string> endpoints;  // ready "ip:port", sorted, unique

  std::string id() const { return ns + "/" + name + (portName.empty() ? "" : ":" + portName); }
};

// Joins Services with their EndpointSlices (label kubernetes.io/service-name,
// ports matched by name, IPv4 only, ready or unset-ready endpoints).
std::vector<ProxyServicePort> buildServicePorts(const std::vector<Json>& services, const std::vector<Json>& slices);

// "K1S-SVC-" + 16 base32 characters of sha256(protocol + id).
std::string chainName(const std::string& prefix, const std::string& key);

// The full text for `iptables-restore --noflush`. `previous` holds the K1S-
// chains (as "table/chain") that exist now; those no longer needed are flushed
// and deleted. `written` (optional) receives the chains this text defines.
std::string renderRules(const std::vector<ProxyServicePort>& ports, const ProxyOptions& o,
                        const std::set<std::string>& previous = {}, std::set<std::string>* written = nullptr);

// Text that flushes and deletes the given "table/chain" K1S chains.
std::string renderCleanup(const std::set<std::string>& chains);

// The jump rules from built-in chains into ours: {table, builtin chain, rule args}.
struct JumpRule {
  std::string table, chain;
  std::vector<std::string> args;
};
std::vector<JumpRule> jumpRules();

// K1S chains ("table/chain") in `iptables-save` output.
std::set<std::string> chainsInSave(const std::string& saveText);

}  // namespace k1s
