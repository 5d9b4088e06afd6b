// Host checks at daemon start (kubelet/host_check.h). Each problem is one log line that says what
// fails because of it and how to fix it; the Node's conditions carry the same facts.
#include "kubelet/host_check.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/log.h"

namespace k1s {
namespace {

constexpr const char* kComp = "host";
const std::set<std::string> kWanted = {"memory", "cpu", "cpuacct", "pids"};  // what kubelet/cgroups.cpp uses

std::string errText(const std::string& what) { return what + ": " + std::strerror(errno); }

// True when /proc/self/mountinfo shows a cgroup v1 hierarchy we use, or any cgroup2 mount.
bool cgroupsMounted() {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream post(line.substr(dash + 3));
    std::string fstype, src, opts;
    post >> fstype >> src >> opts;
    if (fstype == "cgroup2") return true;
    if (fstype != "cgroup") continue;
    std::istringstream os(opts);
    for (std::string o; std::getline(os, o, ',');)
      if (kWanted.count(o)) return true;
  }
  return false;
}

int threadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
  }
  return n;
}

// /proc/cgroups: enabled controllers by hierarchy id; id 0 means the cgroup2 (unified) tree.
std::map<int, std::vector<std::string>> controllersByHierarchy() {
  std::map<int, std::vector<std::string>> r;
  std::ifstream f("/proc/cgroups");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    int hier = 0, num = 0, enabled = 0;
    if (in >> name >> hier >> num >> enabled && enabled) r[hier].push_back(name);
  }
  return r;
}

std::string mountHierarchies() {
  if (threadCount() != 1) return "the daemon already runs threads, cannot unshare its mount namespace";
  // A mount namespace of our own, and /sys a slave in it: what we mount below never reaches the host
  // (under `ip netns exec` we already are in ip's namespace; this keeps us safe elsewhere too).
  if (unshare(CLONE_NEWNS) != 0) return errText("unshare(CLONE_NEWNS)");
  if (mount(nullptr, "/sys", nullptr, MS_REC | MS_SLAVE, nullptr) != 0 &&
      mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return errText("make /sys a slave mount");
  const std::string root = "/sys/fs/cgroup";
  auto byHier = controllersByHierarchy();
  bool v1 = false;
  for (auto& [id, names] : byHier)
    for (auto& n : names) v1 |= id != 0 && kWanted.count(n);
  constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (!v1) {  // pure cgroup v2
    if (mount("cgroup2", root.c_str(), "cgroup2", kFlags, nullptr) != 0) return errText("mount cgroup2 on " + root);
    return "";
  }
  if (mount("cgroup", root.c_str(), "tmpfs", kFlags, "mode=755") != 0) return errText("mount tmpfs on " + root);
  for (auto& [id, names] : byHier) {
    bool want = false;
    std::string opts;
    for (auto& n : names) {
      want |= kWanted.count(n) > 0;
      opts += (opts.empty() ? "" : ",") + n;
    }
    if (id == 0 || !want) continue;
    // A v1 hierarchy can only be mounted again with exactly its set of controllers ("cpu,cpuacct").
    std::string dir = root + "/" + opts;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errText("mkdir " + dir);
    if (mount("cgroup", dir.c_str(), "cgroup", kFlags, opts.c_str()) != 0) return errText("mount cgroup " + opts);
    if (names.size() > 1)  // the names systemd links too, so per-controller paths work
      for (auto& n : names)
        if (symlink(opts.c_str(), (root + "/" + n).c_str()) != 0) {
        }  // a name taken already is fine
  }
  return "";
}

bool readsOne(const std::string& path) {
  std::ifstream f(path);
  std::string v;
  return f >> v && v == "1";
}

// Runs a fixed command line (no outside input in it); returns its exit status, appends its output.
int run(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string firstLine(std::string s) {
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

bool overlayAvailable(const std::string& scratch) {
  std::ifstream f("/proc/filesystems");
  std::string line;
  while (std::getline(f, line))
    if (line.size() >= 7 && line.compare(line.size() - 7, 7, "overlay") == 0) return true;
  // Not registered yet: a module the kernel loads on first use. Try one small mount.
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string d = scratch + "/overlay-check";
  for (auto* sub : {"/l", "/u", "/w", "/m"}) fs::create_directories(d + sub, ec);
  std::string opts = "lowerdir=" + d + "/l,upperdir=" + d + "/u,workdir=" + d + "/w";
  bool ok = mount("overlay", (d + "/m").c_str(), "overlay", 0, opts.c_str()) == 0;
  if (ok) umount2((d + "/m").c_str(), MNT_DETACH);
  fs::remove_all(d, ec);
  return ok;
}

}  // namespace

std::string ensureCgroupHierarchies() {
  if (cgroupsMounted()) return "";
  std::string err = mountHierarchies();
  if (err.empty() && cgroupsMounted()) {
    LOGI(kComp, "no cgroup hierarchy was mounted here (`ip netns exec` remounts /sys): mounted them under "
                "/sys/fs/cgroup in the daemon's own mount namespace");
    return "";
  }
  return "no cgroup hierarchy mounted (`ip netns exec` remounts /sys and hides them) and mounting them failed (" +
         (err.empty() ? std::string("still none after mounting") : err) +
         "): start k1s server outside `ip netns exec`, or mount the memory, cpu, cpuacct and pids hierarchies "
         "under /sys/fs/cgroup first";
}

HostReport checkHost(const std::string& scratchDir) {
  HostReport r;
  std::vector<std::string> network, runtime, degraded;
  auto problem = [&](std::vector<std::string>& to, const std::string& line) {
    LOGW(kComp, line);
    r.problems.push_back(line);
    to.push_back(line);
  };

  std::string version, rules;
  if (run("iptables --version", &version) != 0) {
    problem(network, "iptables not usable (" + firstLine(version) +
                         "): Services, NodePorts and LoadBalancers will not route; install the iptables package");
  } else if (run("iptables -w 5 -t nat -S POSTROUTING", &rules) != 0) {
    bool nft = version.find("nf_tables") != std::string::npos;
    problem(network, "iptables back end " + std::string(nft ? "nf_tables" : "legacy") + " not usable (" +
                         firstLine(rules) + "): Services will not route; pick the other one with " +
                         "update-alternatives --set iptables /usr/sbin/iptables-" + (nft ? "legacy" : "nft"));
  }

  if (!overlayAvailable(scratchDir))
    problem(runtime, "overlayfs unavailable: no container can get its root file system; load it with "
                     "`modprobe overlay`");

  if (!readsOne("/proc/sys/net/ipv4/ip_forward")) {
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1";
    if (!readsOne("/proc/sys/net/ipv4/ip_forward"))
      problem(network, "net.ipv4.ip_forward is 0 and cannot be set: pods cannot reach Services or the host's "
                       "other networks; run `sysctl -w net.ipv4.ip_forward=1`");
  }

  // The kernel loads the bridge module on the first bridge link when it can; /sys/module says it is there.
  bool bridge = std::filesystem::exists("/sys/module/bridge") || std::filesystem::exists("/proc/sys/net/bridge");
  if (!bridge)
    problem(network, "the bridge module is not loaded: pods get no network if the kernel cannot load it when "
                     "the bridge is created; run `modprobe bridge`");
  else if (!std::filesystem::exists("/proc/sys/net/bridge/bridge-nf-call-iptables"))
    // Degraded, not down: only a pod reaching a Service backed by a pod on the same bridge breaks.
    problem(degraded,
            "br_netfilter not loaded: a pod reaching a Service backed by a pod on the same bridge may fail; "
            "run `modprobe br_netfilter`");

  if (r.problems.empty())
    LOGI(kComp, "host checks passed: iptables (" << firstLine(version) << "), overlayfs, ip_forward, bridge, "
                                                 "br_netfilter");
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : "; ") + x;
    return s;
  };
  if (network.empty())
    r.conditions.push_back({"NetworkUnavailable", "False", "RouteCreated", "k1s pod network is set up"});
  else
    r.conditions.push_back({"NetworkUnavailable", "True", "NoRouteCreated", join(network)});
  // Ready stays true when pods can run (a broken Service path is NetworkUnavailable's to say); it is
  // false, with kubelet's wording, when the runtime or the pod network itself cannot work.
  if (!runtime.empty())
    r.conditions.push_back({"Ready", "False", "KubeletNotReady", "container runtime is down: " + join(runtime)});
  else if (!bridge)
    r.conditions.push_back({"Ready", "False", "KubeletNotReady",
                            "container runtime network not ready: NetworkReady=false "
                            "reason:NetworkPluginNotReady message:" + join(network)});
  return r;
}

}  // namespace k1s
