// The pure half of the service proxy: Services + EndpointSlices -> the
// iptables-restore text (nat and filter tables) in kube-proxy's iptables-mode
// structure, with every chain prefixed K1S-. No I/O here, so it is unit-tested
// as text.
#pragma once
#include <map>
#include <memory>
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
  bool operator==(const ProxyServicePort&) const = default;
};

// Joins Services with their EndpointSlices (label kubernetes.io/service-name,
// ports matched by name, IPv4 only, ready or unset-ready endpoints).
std::vector<ProxyServicePort> buildServicePorts(const std::vector<Json>& services, const std::vector<Json>& slices);
// The same over cached objects, without copying them.
std::vector<ProxyServicePort> servicePortsOf(const std::vector<const Json*>& services,
                                             const std::vector<const Json*>& slices);

// Where a LoadBalancer port answers: localhost:<port> for the host (needs
// route_localnet), and the node (bridge) address for pods, whose own localhost
// is their sandbox's; k3s's ServiceLB likewise opens the port on the node's
// addresses.
std::vector<std::string> loadBalancerIPs(const ProxyOptions& o);

// "K1S-SVC-" + 16 base32 characters of sha256(protocol + id).
std::string chainName(const std::string& prefix, const std::string& key);

// The desired K1S chains, each with its rules in order: "table/chain" -> its
// "-A chain ..." lines. A chain with no rules is present with "".
using RuleSet = std::map<std::string, std::string>;
RuleSet buildRuleSet(const std::vector<ProxyServicePort>& ports, const ProxyOptions& o);

// What one service port contributes: its own chains (SVC, EXT, SEP) and its
// lines in the shared chains (K1S-SERVICES, K1S-NODEPORTS, the filter chains).
struct PortRules {
  RuleSet own;
  std::map<std::string, std::string> shared;  // "table/chain" -> lines
};
PortRules renderPort(const ProxyServicePort& sp, const ProxyOptions& o);

// What one sync writes (kube-proxy's partial sync, at chain granularity).
struct SyncPlan {
  std::string text;  // for `iptables-restore --noflush`; "" when nothing changed
  size_t written = 0, deleted = 0, unchanged = 0;  // chains
};

// The text that turns the kernel's K1S chains into `want`. `applied` is what
// the last successful sync wrote (nullptr = full sync: write every chain).
// Only chains whose rules differ from `applied` are declared (which flushes
// them) and refilled; chains in `applied` or `existing` that `want` lacks are
// flushed and deleted after every reference to them has been rewritten.
SyncPlan planSync(const RuleSet& want, const RuleSet* applied, const std::set<std::string>& existing);

// kube-proxy's partial sync without re-rendering the world: keeps each
// service port's rendered rules between syncs, so a sync renders and compares
// only the ports that changed (plus the shared chains). The plans equal
// planSync(buildRuleSet(ports), ...) of the same states.
class IncrementalRules {
 public:
  explicit IncrementalRules(ProxyOptions o);
  // The step from the committed state to `ports`; `full` writes every chain
  // and deletes `existing` leftovers (and committed chains no longer wanted).
  // `deferDeletes` (kube-proxy's large-cluster mode): a partial sync leaves
  // chains that became unused for the next full sync, because deleting a
  // chain makes iptables-restore read the whole table.
  SyncPlan plan(const std::vector<ProxyServicePort>& ports, bool full, const std::set<std::string>& existing,
                bool deferDeletes = false);
  void commit();  // the last plan is in the kernel now
  void reset();   // the kernel's state is unknown: forget the committed one

 private:
  struct Entry {
    ProxyServicePort port;
    PortRules rules;
  };
  ProxyOptions o_;
  std::map<std::string, std::shared_ptr<const Entry>> committed_, pending_;  // by protocol/id
  RuleSet committedShared_, pendingShared_;
  std::set<std::string> pendingStale_, staleLater_;  // unused chains left for the next full sync
  bool lastWasFull_ = false;
};

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
