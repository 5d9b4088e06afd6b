// Capabilities without libcap: the raw capset(2) and prctl(2) interfaces.
#include "kubelet/caps.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace k1s {
namespace {

// Index = capability number (include/uapi/linux/capability.h).
const char* const kNames[] = {
    "CHOWN",           "DAC_OVERRIDE",    "DAC_READ_SEARCH", "FOWNER",         "FSETID",
    "KILL",            "SETGID",          "SETUID",          "SETPCAP",        "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST",  "NET_ADMIN",       "NET_RAW",        "IPC_LOCK",
    "IPC_OWNER",       "SYS_MODULE",      "SYS_RAWIO",       "SYS_CHROOT",     "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",       "SYS_BOOT",        "SYS_NICE",       "SYS_RESOURCE",
    "SYS_TIME",        "SYS_TTY_CONFIG",  "MKNOD",           "LEASE",          "AUDIT_WRITE",
    "AUDIT_CONTROL",   "SETFCAP",         "MAC_OVERRIDE",    "MAC_ADMIN",      "SYSLOG",
    "WAKE_ALARM",      "BLOCK_SUSPEND",   "AUDIT_READ",      "PERFMON",        "BPF",
    "CHECKPOINT_RESTORE"};
constexpr int kKnown = int(sizeof kNames / sizeof kNames[0]);

const char* const kDefault[] = {"CHOWN",  "DAC_OVERRIDE", "FSETID",  "FOWNER",  "MKNOD",
                                "NET_RAW", "SETGID",      "SETUID",  "SETFCAP", "SETPCAP",
                                "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"};

// Every capability this kernel knows that we still hold in our bounding set (a runtime cannot
// hand out more than it has; the host may have dropped some, e.g. CAP_SYS_RESOURCE).
uint64_t allCaps() {
  int last = lastCapability();
  uint64_t all = 0;
  for (int c = 0; c <= last && c < 64; c++)
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) all |= 1ULL << c;
  return all;
}

bool isAll(const std::string& n) {
  std::string u = n;
  std::transform(u.begin(), u.end(), u.begin(), ::toupper);
  return u == "ALL" || u == "CAP_ALL";
}

std::runtime_error sysError(const std::string& what) { return std::runtime_error(what + ": " + strerror(errno)); }

}  // namespace

int capabilityFromName(const std::string& name) {
  std::string u = name;
  std::transform(u.begin(), u.end(), u.begin(), ::toupper);
  if (u.rfind("CAP_", 0) == 0) u = u.substr(4);
  for (int i = 0; i < kKnown; i++)
    if (u == kNames[i]) return i;
  return -1;
}

std::string capabilityName(int cap) {
  return cap >= 0 && cap < kKnown ? std::string("CAP_") + kNames[cap] : "CAP_" + std::to_string(cap);
}

int lastCapability() {
  static int last = [] {
    std::ifstream f("/proc/sys/kernel/cap_last_cap");
    int v = 0;
    return (f >> v) ? v : kKnown - 1;
  }();
  return last;
}

uint64_t containerCapabilities(bool privileged, const std::vector<std::string>& add,
                               const std::vector<std::string>& drop) {
  if (privileged) return allCaps();
  uint64_t set = 0;
  for (auto* n : kDefault) set |= 1ULL << capabilityFromName(n);
  auto bit = [](const std::string& n) {
    int c = capabilityFromName(n);
    if (c < 0) throw std::runtime_error("unknown capability \"" + n + "\"");
    return 1ULL << c;
  };
  // Drop first, then add, so "drop ALL, add NET_BIND_SERVICE" keeps the one that was asked for.
  for (auto& n : drop) set = isAll(n) ? 0 : set & ~bit(n);
  for (auto& n : add) set = isAll(n) ? allCaps() : set | bit(n);
  return set & allCaps();
}

void dropPrivileges(uint64_t caps, int64_t uid, int64_t gid, bool noNewPrivs) {
  for (int c = 0; c <= lastCapability(); c++)
    if (!(caps & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      throw sysError("drop " + capabilityName(c) + " from the bounding set");
  // Inheritable empty (runc since CVE-2022-24769): with it, a file's inheritable capabilities would
  // let a non-root program gain what the container holds. Cleared before the uid switch so a
  // non-root process does not keep the shim's.
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) < 0) throw sysError("capget");
  data[0].inheritable = data[1].inheritable = 0;
  if (syscall(SYS_capset, &hdr, data) < 0) throw sysError("clear the inheritable capabilities");
  if (setgroups(0, nullptr) < 0) throw sysError("setgroups");
  if (setresgid(gid_t(gid), gid_t(gid), gid_t(gid)) < 0) throw sysError("setgid " + std::to_string(gid));
  if (setresuid(uid_t(uid), uid_t(uid), uid_t(uid)) < 0) throw sysError("setuid " + std::to_string(uid));
  if (uid == 0) {
    for (int i = 0; i < 2; i++) {
      uint32_t v = uint32_t(caps >> (32 * i));
      data[i].effective = data[i].permitted = v;
      data[i].inheritable = 0;
    }
    if (syscall(SYS_capset, &hdr, data) < 0) throw sysError("capset");
  }
  // Ambient capabilities survive execve for non-root users too: none, as containerd sets none.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    throw sysError("clear the ambient capabilities");
  if (noNewPrivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw sysError("prctl(PR_SET_NO_NEW_PRIVS)");
}

}  // namespace k1s
