// Per-container cgroups on cgroup v1 (one directory per controller hierarchy) or a unified
// cgroup v2 tree. Path: <hierarchy>/<relPath>, e.g. /sys/fs/cgroup/memory/k1s/pod<uid>/<id>.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace k1s {

struct CgroupLimits {
  int64_t memoryBytes = 0;  // 0: none; swap is limited to the same value (no swap), as the kubelet does
  int64_t cpuQuotaMicros = 0, cpuPeriodMicros = 100000, cpuShares = 0;
  // Privileged: every device. Otherwise runc's default allow-list (v1 devices controller).
  bool allDevices = false;
};

// runc's default device rules (libcontainer/specconv AllowedDevices), in devices.allow syntax.
extern const char* const kDefaultDeviceRules[];

class Cgroups {
 public:
  // relPath is relative to each hierarchy's root, without leading slash.
  explicit Cgroups(std::string relPath);

  // Creates the directories (parents too) and applies the limits. Throws std::runtime_error.
  void create(const CgroupLimits& l) const;
  // Moves a process into every hierarchy's cgroup; pid 0 means the calling process.
  void join(pid_t pid = 0) const;
  // The OOM killer killed a process in this cgroup (v1 memory.oom_control oom_kill, v2 memory.events).
  bool oomKilled() const;
  std::vector<pid_t> pids() const;
  // SIGKILLs what is left, removes the cgroup, then each parent that became empty up to `keepDepth`
  // path components (so the shared root such as "k1s" stays). Returns false if something remained.
  bool remove(size_t keepDepth = 1) const;
  // The directories this container uses (one per hierarchy).
  std::vector<std::string> dirs() const;

  // Mount points of the hierarchies we manage: v1 memory, cpu, cpuacct, pids, devices; or the v2 root.
  static const std::vector<std::string>& hierarchies();
  static bool unified();  // true: pure cgroup v2

 private:
  std::string rel_;
};

}  // namespace k1s
