// The iptables half of the service proxy, without informers: applies a list
// of service ports to the kernel the way kube-proxy does. A full sync on the
// first call, after a failure and when `fullSyncPeriod` has passed; otherwise
// a partial sync that rewrites only the chains whose rules changed. After a
// change it deletes the UDP conntrack entries that would keep clients on a
// removed endpoint. Used by ServiceProxy and driven directly by bench/proxy.
#pragma once
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "netproxy/proxy.h"
#include "netproxy/proxy_restore.h"
#include "netproxy/proxy_rules.h"

namespace k1s {

// Runs argv (found on PATH; posix_spawn, DESIGN rule 5) with `input` on stdin.
// Returns the exit code (-1: could not start or killed) and, if asked, the
// combined stdout+stderr.
int runCommand(const std::vector<std::string>& argv, const std::string& input, std::string* output);

struct SyncResult {
  bool ok = true;
  bool full = false;
  SyncPlan plan;                 // what was written (text empty: nothing changed)
  double restoreMs = 0;          // time spent applying the text (a long-lived child: no process start-up)
  double jumpsMs = 0;            // time spent checking the built-in chains' jumps (full syncs)
  size_t conntrackDeletes = 0;   // conntrack -D invocations
  std::string error;
};

class RuleSyncer {
 public:
  explicit RuleSyncer(ProxyOptions o);
  // Reads the K1S chains the kernel has now (leftovers of an earlier run), so
  // the next full sync deletes those no longer wanted.
  void learnExisting();
  SyncResult sync(const std::vector<ProxyServicePort>& ports, bool forceFull = false);
  // When the next periodic full sync is due.
  std::chrono::steady_clock::time_point nextFullSync() const { return lastFull_ + o_.fullSyncPeriod; }
  // Removes the jumps and every K1S chain (iptables-save decides what exists).
  void cleanup();

 private:
  void ensureJumps();

  ProxyOptions o_;
  RestoreSession restore_;             // the long-lived iptables-restore child (partial syncs)
  RestoreSession oneShot_{{"iptables-restore", "-w", "5", "--noflush"},
                          RestoreSession::Mode::OneShot};  // full syncs, clean-up
  IncrementalRules rules_;             // what the last successful sync left in the kernel
  std::set<std::string> existing_;     // leftover K1S chains ("table/chain") the next full sync deletes
  std::vector<ProxyServicePort> ports_;  // as of the last successful sync (for conntrack)
  bool needFull_ = true;
  std::chrono::steady_clock::time_point lastFull_{};
};

}  // namespace k1s
