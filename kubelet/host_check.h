// What the daemon checks about its host once at start, so that a missing piece is one line in the
// log (and a Node condition) instead of every pod failing later with a cryptic error.
#pragma once
#include <string>
#include <vector>

namespace k1s {

// One Node condition as kubelet/node-problem-detector would post it.
struct HostCondition {
  std::string type, status, reason, message;
};

struct HostReport {
  std::vector<std::string> problems;      // one line each, already logged
  std::vector<HostCondition> conditions;  // NetworkUnavailable, and Ready when pods cannot run
};

// `ip netns exec` remounts /sys, which hides the cgroup hierarchies: then mount the ones the kubelet
// uses (memory, cpu, cpuacct, pids; or cgroup2) in the daemon's own mount namespace, with /sys made a
// slave there first so nothing propagates to the host. Must run before the process has a second
// thread (unshare(CLONE_NEWNS) is per thread otherwise). Returns "" when cgroups are usable, else
// one line naming the cause and the fix (the daemon refuses to start with it).
std::string ensureCgroupHierarchies();

// iptables (and its back end), overlayfs, net.ipv4.ip_forward (set to 1 as the pod network needs),
// the bridge module and bridge netfilter. Logs one line per problem.
HostReport checkHost(const std::string& scratchDir);

}  // namespace k1s
