// containerd's RuntimeDefault seccomp profile as data, and kube's choice of profile per container.
// The rules follow containerd 2.x contrib/seccomp/seccomp_default.go (the profile CRI gives a pod
// with seccompProfile RuntimeDefault); moby's profiles/seccomp/default.json is the same list.
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kubelet/seccomp.h"

namespace k1s {
namespace {

// Allowed for every container, whatever its capabilities. Names a kernel or libseccomp does not know
// are skipped when compiled, so 32-bit and newer-kernel names can stay in the list.
constexpr const char* kAllowed =
    "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 "
    "clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 "
    "clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 "
    "epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old "
    "eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate "
    "fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr "
    "flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate "
    "ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd "
    "getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer "
    "getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid "
    "getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid "
    "gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init inotify_init1 "
    "inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get "
    "ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self "
    "lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek "
    "lremovexattr lseek lsetxattr lsm_get_self_attr lsm_list_modules lsm_set_self_attr lstat lstat64 madvise "
    "membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall "
    "map_shadow_stack mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive "
    "mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv "
    "msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat "
    "openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll "
    "ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 "
    "pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg "
    "remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall rmdir rseq "
    "rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
    "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam "
    "sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval "
    "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler "
    "sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 "
    "sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 "
    "setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid "
    "setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 "
    "setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask "
    "sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink symlinkat "
    "sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun "
    "timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime "
    "timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask "
    "uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid "
    "waitpid write writev";

// Allowed only when the container holds the capability (containerd checks the bounding set).
struct CapRule {
  const char* cap;
  const char* names;
};
constexpr CapRule kByCapability[] = {
    {"CAP_DAC_READ_SEARCH", "open_by_handle_at"},
    {"CAP_SYS_ADMIN",
     "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr "
     "move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount "
     "umount2 unshare"},
    {"CAP_SYS_BOOT", "reboot"},
    {"CAP_SYS_CHROOT", "chroot"},
    {"CAP_SYS_MODULE", "delete_module init_module finit_module"},
    {"CAP_SYS_PACCT", "acct"},
    {"CAP_SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"},
    {"CAP_SYS_RAWIO", "iopl ioperm"},
    {"CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64"},
    {"CAP_SYS_TTY_CONFIG", "vhangup"},
    {"CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"},
    {"CAP_SYSLOG", "syslog"},
    {"CAP_BPF", "bpf"},
    {"CAP_PERFMON", "perf_event_open"},
};

Json names(const char* list) {
  Json a = Json::array();
  std::istringstream in(list);
  for (std::string n; in >> n;) a.push_back(n);
  return a;
}

Json allow(const char* list) { return {{"names", names(list)}, {"action", "SCMP_ACT_ALLOW"}}; }

Json argRule(const char* name, unsigned index, uint64_t value, const char* op, uint64_t valueTwo = 0) {
  return {{"names", {name}},
          {"action", "SCMP_ACT_ALLOW"},
          {"args", {{{"index", index}, {"value", value}, {"valueTwo", valueTwo}, {"op", op}}}}};
}

Json buildDefault() {
  Json calls = Json::array();
  calls.push_back(allow(kAllowed));
  // socket(2) for every address family but AF_ALG (38) and AF_VSOCK (40), as three single
  // conditions: libseccomp cannot AND two "not equal" tests on one argument.
  calls.push_back(argRule("socket", 0, AF_ALG, "SCMP_CMP_LT"));
  calls.push_back(argRule("socket", 0, AF_ALG + 1, "SCMP_CMP_EQ"));
  calls.push_back(argRule("socket", 0, AF_VSOCK, "SCMP_CMP_GT"));
  // personality(2) only for the personas programs really ask for (PER_LINUX, PER_LINUX32,
  // UNAME26 variants) and the query 0xffffffff.
  for (uint64_t p : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL})
    calls.push_back(argRule("personality", 0, p, "SCMP_CMP_EQ"));
  // ptrace of one's own children is safe since Linux 4.8 (seccomp is re-checked after a tracer's changes).
  calls.push_back({{"names", names("process_vm_readv process_vm_writev ptrace")},
                   {"action", "SCMP_ACT_ALLOW"},
                   {"includes", {{"minKernel", "4.8"}}}});
#if defined(__x86_64__)
  calls.push_back(allow("arch_prctl modify_ldt"));
#elif defined(__i386__)
  calls.push_back(allow("modify_ldt"));
#elif defined(__aarch64__) || defined(__arm__)
  calls.push_back(allow("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"));
#endif
  for (const CapRule& r : kByCapability) {
    Json rule = allow(r.names);
    rule["includes"] = {{"caps", {r.cap}}};
    calls.push_back(rule);
  }
  // Without CAP_SYS_ADMIN: clone(2) without any namespace flag (so no `unshare -U` by way of clone)
  // and clone3 refused with ENOSYS, since its flags sit in memory seccomp cannot read; ENOSYS makes
  // libc fall back to clone(2).
  constexpr uint64_t kNsFlags =
      CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  Json clone = argRule("clone", 0, kNsFlags, "SCMP_CMP_MASKED_EQ", 0);
  clone["excludes"] = {{"caps", {"CAP_SYS_ADMIN"}}};
  calls.push_back(clone);
  calls.push_back({{"names", {"clone3"}},
                   {"action", "SCMP_ACT_ERRNO"},
                   {"errnoRet", ENOSYS},
                   {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}});

  Json arches = Json::array();
#if defined(__x86_64__)
  arches = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
  arches = {"SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"};
#endif
  // No errnoRet: runc's default for SCMP_ACT_ERRNO is EPERM.
  return {{"defaultAction", "SCMP_ACT_ERRNO"}, {"architectures", arches}, {"syscalls", calls}};
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

const Json& runtimeDefaultSeccompProfile() {
  static const Json profile = buildDefault();
  return profile;
}

SeccompChoice containerSeccomp(const Json& podSpec, const Json& container, bool privileged,
                               const std::string& seccompRoot) {
  SeccompChoice c;
  if (privileged) {
    c.type = "Unconfined";
    return c;
  }
  Json sp;
  auto pick = [&](const Json& owner) {
    auto sc = owner.find("securityContext");
    if (sc == owner.end() || !sc->is_object()) return;
    auto p = sc->find("seccompProfile");
    if (p != sc->end() && p->is_object() && !str(*p, "type").empty()) sp = *p;
  };
  pick(podSpec);
  pick(container);  // the container's wins
  if (sp.is_null()) return c;
  c.type = str(sp, "type");
  if (c.type == "RuntimeDefault" || c.type == "Unconfined") return c;
  if (c.type != "Localhost") throw std::runtime_error("unsupported seccomp profile type \"" + c.type + "\"");
  std::string rel = str(sp, "localhostProfile");
  if (rel.empty()) throw std::runtime_error("localhostProfile must be set if seccomp profile type is Localhost");
  // API validation refuses these in kube; here they would leave the seccomp root.
  if (rel[0] == '/' || ("/" + rel + "/").find("/../") != std::string::npos)
    throw std::runtime_error("localhostProfile \"" + rel + "\" must be a relative path without '..'");
  std::string path = seccompRoot + "/" + rel;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    int e = errno;
    throw std::runtime_error("failed to create containerd container: cannot load seccomp profile \"" + path +
                             "\": open " + path + ": " + (e == ENOENT ? "no such file or directory" : strerror(e)));
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  c.profile = ss.str();
  Json parsed = Json::parse(c.profile, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    throw std::runtime_error("failed to create containerd container: decoding seccomp profile failed \"" + path +
                             "\": not a JSON object");
  return c;
}

}  // namespace k1s
