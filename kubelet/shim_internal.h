// Private to the runtime and the shim: the on-disk layout of a container's
// state directory, the spec's JSON form, and small file/process helpers.
//
// <stateRoot>/<id>/
//   spec.json    the ContainerSpec, written by Runtime::start before the shim runs
//   state.json   {shimPid, shimStartTime, pid, pidStartTime, startedAt}, written once the workload exec'd
//   exit.json    {exitCode, finishedAt, reason, message, oomKilled}, written by the shim when it reaped the workload
//   shim.log     the shim's own stderr
//   stdin        FIFO, present when stdinOpen: attach writes here; the shim copies it to the workload's stdin
//   upper/ work/ rootfs/   overlayfs upper, work and mount point (the mount lives only in the container's mount ns)
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/meta.h"
#include "kubelet/runtime.h"

namespace k1s::shim {

Json specToJson(const ContainerSpec& c);
ContainerSpec specFromJson(const Json& j);

std::optional<std::string> readFile(const std::string& path);
// Write to a temporary name then rename, so readers never see half a file.
void writeFileAtomic(const std::string& path, const std::string& data, mode_t mode = 0644);
bool writeSmallFile(const std::string& path, const std::string& data);  // no create, no throw
void mkdirAll(const std::string& path, mode_t mode = 0755);
void removeTree(const std::string& path);  // rm -rf, staying on one file system
bool exists(const std::string& path);

// Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid it names one process exactly.
uint64_t procStartTime(pid_t pid);
bool processIs(pid_t pid, uint64_t startTime);

std::string nowRfc3339Nano();  // 2026-11-25T19:10:12.345678901Z (CRI log timestamps)
using k1s::nowRfc3339;         // 2026-11-25T19:10:12Z (container status times)

std::string errnoText(const std::string& what);  // "what: strerror(errno)"

// The kernel's pid-1 signal rule and the need for a clean environment make every process we
// start reset its signal mask and dispositions first.
void resetSignals();

// Resolves argv[0] against PATH from env (default PATH when env has none), inside the current root.
// Returns "" with `err` set to runc's message when not found.
std::string lookPath(const std::string& file, const std::vector<std::string>& env, std::string& err);

// Applies identity and privileges (shared by the container's init and exec).
void applyProcessIdentity(const ContainerSpec& c);

// The shim's sub-commands, and its entry point: argv[0] "shim", argv[1] the sub-command. Both the
// small shim executable (shim_main/) and `k1s shim` (runShim) end here.
int shimMain(int argc, char** argv);
int shimRun(int argc, char** argv);      // shim run <stateDir> <readyFd>
int shimExec(int argc, char** argv);     // shim exec <stateDir> <tty 0|1> <envJson> -- argv...
int shimSandbox(int argc, char** argv);  // shim sandbox <dir> <hostname>

}  // namespace k1s::shim
