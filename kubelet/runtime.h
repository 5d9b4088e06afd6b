// The container runtime: one shim process per container (DESIGN rule 5).
// The daemon never forks itself; it spawns the shim executable: the small static
// k1s-shim embedded in k1s and written to <run-dir>/shim (shim_binary.h), or the
// k1s binary itself (`k1s shim`) as a fallback. The shim sets up namespaces, the
// root filesystem and cgroups, execs the workload, reaps it, writes the exit
// status and the CRI-format log. Shims outlive a daemon restart and are
// re-adopted from their state directories.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace k1s {

struct Mount {
  std::string source;       // host path (bind) or "" for tmpfs
  std::string target;       // path in the container
  std::string type = "bind";  // "bind" or "tmpfs"
  bool readOnly = false;
};

struct ContainerSpec {
  std::string id;            // unique: <pod-uid>-<container-name>-<restart-count>
  std::string podUid, podName, podNamespace, containerName;
  std::vector<std::string> lowerDirs;  // image layers, lowest first
  std::vector<std::string> args;       // argv[0] is the program (resolved in the container's PATH)
  std::vector<std::string> env;        // "K=V"
  std::string workingDir = "/";
  int64_t uid = 0, gid = 0;
  std::string hostname;
  std::string netnsPath;               // the pod's named network namespace
  std::string ipcnsPath, utsnsPath;    // the pod's shared IPC/UTS namespaces (from the sandbox)
  std::vector<Mount> mounts;           // volumes, /etc/hosts, /etc/resolv.conf, termination-log
  std::string cgroupParent;            // e.g. k1s/pod<uid>
  int64_t memoryLimitBytes = 0;        // 0: none
  int64_t cpuQuotaMicros = 0, cpuPeriodMicros = 100000, cpuShares = 0;
  bool privileged = false, noNewPrivileges = false, readOnlyRootfs = false;
  std::vector<std::string> capAdd, capDrop;  // "NET_ADMIN" style names
  // kube's seccompProfile.type (RuntimeDefault, Unconfined, Localhost) and a Localhost profile's JSON.
  std::string seccompType = "RuntimeDefault", seccompProfile;
  bool tty = false, stdinOpen = false;
  std::string logPath;                 // CRI log file
};

struct ContainerStatus {
  std::string id;
  bool running = false;
  int pid = 0;
  std::string startedAt, finishedAt;  // RFC 3339
  int exitCode = 0;
  std::string reason;                 // "Completed", "Error", "OOMKilled", "StartError"
  std::string message;
};

struct SandboxSpec {
  std::string podUid, podName, podNamespace, hostname;
  std::string netnsPath;  // created by the pod network; the sandbox joins it
  std::vector<int> livePids;  // the pod's running containers: their IPC/UTS namespaces are the sandbox's
};

class Runtime {
 public:
  // stateRoot: <run-dir>/containers; shimExe: the k1s binary, used when the embedded shim
  // executable cannot be written next to stateRoot (<run-dir>/shim).
  Runtime(std::string stateRoot, std::string shimExe, std::string cgroupRoot = "k1s");
  // The pod sandbox: shared IPC and UTS namespaces held open (bind-mounted) for the pod's containers.
  void createSandbox(const SandboxSpec& s, std::string& ipcnsPath, std::string& utsnsPath);
  void removeSandbox(const std::string& podUid);
  // Starts a shim for the container; returns once the workload has been exec'd (or failed: throws
  // std::runtime_error with the reason, e.g. executable not found).
  ContainerStatus start(const ContainerSpec& c);
  std::optional<ContainerStatus> status(const std::string& id) const;
  // Signals the workload (SIGTERM/SIGKILL).
  void signal(const std::string& id, int sig);
  // Removes the container's state and rootfs (the workload must have exited).
  void remove(const std::string& id);
  // Containers with state on disk (running or exited), for re-adoption after a daemon restart.
  std::vector<std::string> list() const;
  // Runs a command inside a running container's namespaces and cgroup (exec back end).
  // Returns a pid whose stdio are the given fds; the caller waits via waitExec.
  int exec(const std::string& id, const std::vector<std::string>& argv, const std::vector<std::string>& env,
           int stdinFd, int stdoutFd, int stderrFd, bool tty);
  int waitExec(int pid);  // exit code
  // For attach when the container was started with stdinOpen: a FIFO; whatever is written to it
  // reaches the workload's stdin (through the pty with tty). Output is in the container's log.
  std::string stdinPath(const std::string& id) const;
  // Terminal size of a tty container, or of a tty exec (pid from exec()); no-op without a tty.
  void resize(const std::string& id, unsigned short cols, unsigned short rows);
  void resizeExec(int execPid, unsigned short cols, unsigned short rows);

 private:
  std::string stateRoot_, shimExe_, cgroupRoot_;
};

// `k1s shim ...`: the shim's own entry point (argv[0] == "shim").
int runShim(int argc, char** argv);

}  // namespace k1s
