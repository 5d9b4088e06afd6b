// Private: the pieces of process setup shared by the container's init and `shim exec`.
#pragma once
#include <string>
#include <vector>

#include "kubelet/runtime.h"

namespace k1s::shim {

struct ContainerInit {
  ContainerSpec spec;
  std::string stateDir, cgroupPath;
  int stdinFd = -1, stdoutFd = -1, stderrFd = -1;  // unused with tty
  int consoleSock = -1;  // tty: the init allocates a pty in the container's devpts and sends the master here
  int errFd = -1;                                  // close-on-exec; receives the start error
  // Read end of a pipe: one byte once the shim has moved this process into its cgroup, so that the
  // move (on cgroup v1 it can wait a whole RCU grace period) overlaps the rootfs set-up. -1: the
  // init joins the cgroup itself.
  int cgroupJoinedFd = -1;
};

// Runs in the forked child: never returns (execs the workload or writes the error and exits 127).
[[noreturn]] void containerInit(const ContainerInit& in);

// The process environment: spec env, then `extra` overriding, plus PATH/HOSTNAME/TERM/HOME defaults.
std::vector<std::string> containerEnv(const ContainerSpec& c, const std::vector<std::string>& extra);

// Resolves args[0] in PATH and execs; throws with runc's message on failure.
[[noreturn]] void execWorkload(const std::vector<std::string>& env, const std::vector<std::string>& args);

}  // namespace k1s::shim
