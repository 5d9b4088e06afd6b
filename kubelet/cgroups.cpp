// cgroups by hand: mkdir, a few control files, rmdir. v1 is what this machine has; v2 (unified)
// is handled when /sys/fs/cgroup itself is cgroup2 with controllers.
#include "kubelet/cgroups.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kubelet/shim_internal.h"

namespace k1s {

// mknod of any device (a node made still needs an allowed number to be opened), the standard
// character devices, the container's own ptys (devpts: 136:*, ptmx 5:2) and the console. Nothing
// else: no tun (10:200; runc up to 1.1 allowed it, its current list does not), fuse (10:229),
// loop-control (10:237) or disks. Only cgroup v1 has a devices file interface; on a pure cgroup v2
// host this list would need a BPF device program and is not applied.
const char* const kDefaultDeviceRules[] = {"c *:* m", "b *:* m",   "c 1:3 rwm", "c 1:5 rwm",   "c 1:7 rwm",
                                           "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                                           "c 136:* rwm", nullptr};

namespace {

struct Hierarchies {
  std::vector<std::string> dirs;
  bool unified = false;
};

const Hierarchies& detect() {
  static Hierarchies h = [] {
    Hierarchies r;
    std::ifstream f("/proc/self/mountinfo");
    std::string line, v2;
    // mountinfo: id parent maj:min root mountpoint options [optional...] - fstype source superopts
    while (std::getline(f, line)) {
      size_t dash = line.find(" - ");
      if (dash == std::string::npos) continue;
      std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
      std::string id, parent, dev, root, mnt, fstype, src, opts;
      pre >> id >> parent >> dev >> root >> mnt;
      post >> fstype >> src >> opts;
      if (fstype == "cgroup2") {
        if (v2.empty()) v2 = mnt;
      } else if (fstype == "cgroup") {
        std::istringstream os(opts);
        std::string o;
        bool want = false;
        while (std::getline(os, o, ','))
          if (o == "memory" || o == "cpu" || o == "cpuacct" || o == "pids" || o == "devices") want = true;
        bool dup = false;
        for (auto& d : r.dirs) dup |= d == mnt;
        if (want && !dup) r.dirs.push_back(mnt);
      }
    }
    if (r.dirs.empty() && !v2.empty()) {
      r.dirs.push_back(v2);
      r.unified = true;
    }
    return r;
  }();
  return h;
}

bool hasMemory(const std::string& d) { return shim::exists(d + "/memory.limit_in_bytes"); }

void writeOrThrow(const std::string& path, const std::string& v) {
  if (!shim::writeSmallFile(path, v)) throw std::runtime_error(shim::errnoText("write " + v + " to " + path));
}

}  // namespace

Cgroups::Cgroups(std::string relPath) : rel_(std::move(relPath)) {
  while (!rel_.empty() && rel_.front() == '/') rel_.erase(0, 1);
}

const std::vector<std::string>& Cgroups::hierarchies() { return detect().dirs; }
bool Cgroups::unified() { return detect().unified; }

std::vector<std::string> Cgroups::dirs() const {
  std::vector<std::string> r;
  for (auto& h : hierarchies()) r.push_back(h + "/" + rel_);
  return r;
}

void Cgroups::create(const CgroupLimits& l) const {
  if (hierarchies().empty()) throw std::runtime_error("no cgroup hierarchy mounted");
  if (unified()) {
    // v2: controllers must be enabled in every ancestor's subtree_control to appear below it.
    std::string root = hierarchies()[0], cur = root;
    std::istringstream parts(rel_);
    std::string p;
    while (std::getline(parts, p, '/')) {
      shim::writeSmallFile(cur + "/cgroup.subtree_control", "+memory +cpu +pids");
      cur += "/" + p;
      if (mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) throw std::runtime_error(shim::errnoText("mkdir " + cur));
    }
    if (l.memoryBytes > 0) {
      writeOrThrow(cur + "/memory.max", std::to_string(l.memoryBytes));
      shim::writeSmallFile(cur + "/memory.swap.max", "0");
    }
    if (l.cpuQuotaMicros > 0)
      writeOrThrow(cur + "/cpu.max", std::to_string(l.cpuQuotaMicros) + " " + std::to_string(l.cpuPeriodMicros));
    if (l.cpuShares > 0)  // the kubelet's shares→weight mapping
      writeOrThrow(cur + "/cpu.weight", std::to_string(1 + ((l.cpuShares - 2) * 9999) / 262142));
    return;
  }
  for (auto& d : dirs()) {
    // A concurrent remove() of an emptied pod parent can race with our mkdir; retry once.
    for (int attempt = 0;; attempt++) {
      try {
        shim::mkdirAll(d);
        break;
      } catch (...) {
        if (attempt == 2) throw;
      }
    }
    if (l.memoryBytes > 0 && hasMemory(d)) {
      writeOrThrow(d + "/memory.limit_in_bytes", std::to_string(l.memoryBytes));
      // memsw (memory+swap) must be ≥ the memory limit: equal means no swap.
      shim::writeSmallFile(d + "/memory.memsw.limit_in_bytes", std::to_string(l.memoryBytes));
    }
    if (shim::exists(d + "/devices.deny")) {
      // Deny everything, then allow the list: the order runc writes them in.
      if (l.allDevices) writeOrThrow(d + "/devices.allow", "a");
      else {
        writeOrThrow(d + "/devices.deny", "a");
        for (int i = 0; kDefaultDeviceRules[i]; i++) writeOrThrow(d + "/devices.allow", kDefaultDeviceRules[i]);
      }
    }
    if (shim::exists(d + "/cpu.cfs_quota_us")) {
      if (l.cpuQuotaMicros > 0) {
        writeOrThrow(d + "/cpu.cfs_period_us", std::to_string(l.cpuPeriodMicros > 0 ? l.cpuPeriodMicros : 100000));
        writeOrThrow(d + "/cpu.cfs_quota_us", std::to_string(l.cpuQuotaMicros));
      }
      if (l.cpuShares > 0) writeOrThrow(d + "/cpu.shares", std::to_string(l.cpuShares < 2 ? 2 : l.cpuShares));
    }
  }
}

void Cgroups::join(pid_t pid) const {
  for (auto& d : dirs()) writeOrThrow(d + "/cgroup.procs", std::to_string(pid));
}

bool Cgroups::oomKilled() const {
  for (auto& d : dirs()) {
    auto s = shim::readFile(d + (unified() ? "/memory.events" : "/memory.oom_control"));
    if (!s) continue;
    std::istringstream in(*s);
    std::string k;
    long long v;
    while (in >> k >> v)
      if (k == "oom_kill" && v > 0) return true;
  }
  return false;
}

std::vector<pid_t> Cgroups::pids() const {
  std::vector<pid_t> r;
  for (auto& d : dirs()) {
    std::ifstream f(d + "/cgroup.procs");
    pid_t p;
    while (f >> p) {
      bool dup = false;
      for (auto q : r) dup |= q == p;
      if (!dup) r.push_back(p);
    }
  }
  return r;
}

bool Cgroups::remove(size_t keepDepth) const {
  bool clean = true;
  for (auto& d : dirs()) {
    if (!shim::exists(d)) continue;
    // rmdir fails with EBUSY while a process (even a zombie being reaped) is inside: kill and retry briefly.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
      if (rmdir(d.c_str()) == 0 || errno == ENOENT) {
        gone = true;
        break;
      }
      std::ifstream f(d + "/cgroup.procs");
      pid_t p;
      while (f >> p) kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    clean &= gone;
  }
  // Parents that became empty (the pod level), stopping at keepDepth components.
  std::vector<std::string> comps;
  std::istringstream parts(rel_);
  for (std::string p; std::getline(parts, p, '/');)
    if (!p.empty()) comps.push_back(p);
  for (size_t n = comps.size() - (comps.empty() ? 0 : 1); n > keepDepth; n--) {
    std::string rel;
    for (size_t i = 0; i < n; i++) rel += (i ? "/" : "") + comps[i];
    for (auto& h : hierarchies()) rmdir((h + "/" + rel).c_str());  // fails harmlessly when not empty
  }
  return clean;
}

}  // namespace k1s
