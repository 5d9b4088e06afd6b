// The container's init, between fork and exec: cgroups, namespaces, hostname, root file system,
// stdio, privileges. Runs as pid 1 of the new pid namespace; reports a failure through `errFd`
// (close-on-exec, so the shim reads EOF exactly when execve succeeded).
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "kubelet/caps.h"
#include "kubelet/cgroups.h"
#include "kubelet/mounts.h"
#include "kubelet/seccomp.h"
#include "kubelet/shim_container.h"
#include "kubelet/shim_internal.h"

namespace k1s::shim {
namespace {

void joinPath(const std::string& path, int nstype, const char* what) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(errnoText(std::string("open ") + what + " namespace " + path));
  int r = setns(fd, nstype);
  int e = errno;
  close(fd);
  errno = e;
  if (r < 0) throw std::runtime_error(errnoText(std::string("join ") + what + " namespace " + path));
}

bool hasVar(const std::vector<std::string>& env, const std::string& name) {
  for (auto& e : env)
    if (e.rfind(name + "=", 0) == 0) return true;
  return false;
}

// A pty of the container's own devpts (so `tty` names a device visible inside); the master goes to
// the shim over `sock` (SCM_RIGHTS), the slave is returned.
int containerConsole(int sock, int64_t uid, int64_t gid) {
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0 || unlockpt(m) < 0) throw std::runtime_error(errnoText("allocate pty"));
  char name[64];
  if (ptsname_r(m, name, sizeof name) != 0) throw std::runtime_error(errnoText("ptsname"));
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) throw std::runtime_error(errnoText(std::string("open ") + name));
  if (fchown(slave, uid_t(uid), gid_t(gid)) < 0) throw std::runtime_error(errnoText("chown console"));
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &m, sizeof(int));
  if (sendmsg(sock, &msg, 0) < 0) throw std::runtime_error(errnoText("send console"));
  close(m);
  return slave;
}

}  // namespace

std::vector<std::string> containerEnv(const ContainerSpec& c, const std::vector<std::string>& extra) {
  std::vector<std::string> env = c.env;
  for (auto& e : extra) {  // later values win, like a shell's environment
    std::string name = e.substr(0, e.find('='));
    std::erase_if(env, [&](const std::string& x) { return x.rfind(name + "=", 0) == 0; });
    env.push_back(e);
  }
  if (!hasVar(env, "PATH")) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!c.hostname.empty() && !hasVar(env, "HOSTNAME")) env.push_back("HOSTNAME=" + c.hostname);
  if (c.tty && !hasVar(env, "TERM")) env.push_back("TERM=xterm");
  if (!hasVar(env, "HOME")) env.push_back(c.uid == 0 ? "HOME=/root" : "HOME=/");
  return env;
}

void applyProcessIdentity(const ContainerSpec& c) {
  uint64_t caps = containerCapabilities(c.privileged, c.capAdd, c.capDrop);
  // Compiled first, so a bad profile is a start error before anything changed.
  auto filter = containerSeccompFilter(c.seccompType, c.seccompProfile, caps);
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: load it while we still hold every
  // capability (the filter then also judges the few calls that drop them), as runc does. With
  // no_new_privs, load it as late as possible.
  if (filter && !c.noNewPrivileges) filter->load();
  dropPrivileges(caps, c.uid, c.gid, c.noNewPrivileges);
  if (filter && c.noNewPrivileges) filter->load();
}

[[noreturn]] void execWorkload(const std::vector<std::string>& env, const std::vector<std::string>& args) {
  std::string err;
  if (args.empty()) throw std::runtime_error("no command specified");
  std::string prog = lookPath(args[0], env, err);
  if (prog.empty()) throw std::runtime_error(err);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  resetSignals();
  execve(prog.c_str(), argv.data(), envp.data());
  throw std::runtime_error(errnoText("exec: \"" + args[0] + "\""));
}

[[noreturn]] void containerInit(const ContainerInit& in) {
  const ContainerSpec& c = in.spec;
  try {
    if (in.cgroupJoinedFd < 0) Cgroups(in.cgroupPath).join(0);
    if (!c.netnsPath.empty()) joinPath(c.netnsPath, CLONE_NEWNET, "network");
    if (!c.ipcnsPath.empty()) joinPath(c.ipcnsPath, CLONE_NEWIPC, "ipc");
    if (!c.utsnsPath.empty()) joinPath(c.utsnsPath, CLONE_NEWUTS, "uts");
    int own = (c.ipcnsPath.empty() ? CLONE_NEWIPC : 0) | (c.utsnsPath.empty() ? CLONE_NEWUTS : 0) | CLONE_NEWNS;
    if (unshare(own) < 0) throw std::runtime_error(errnoText("unshare"));
    // In the pod's UTS namespace the sandbox has set the hostname already.
    if (c.utsnsPath.empty() && !c.hostname.empty() && sethostname(c.hostname.data(), c.hostname.size()) < 0)
      throw std::runtime_error(errnoText("sethostname"));
    setupRootfs(c, in.stateDir);
    if (chdir(c.workingDir.empty() ? "/" : c.workingDir.c_str()) < 0)
      throw std::runtime_error(errnoText("chdir to cwd (\"" + c.workingDir + "\") set in config.json failed"));
    if (in.cgroupJoinedFd >= 0) {  // nothing of the workload may run outside its cgroup
      char joined = 0;
      ssize_t n;
      while ((n = read(in.cgroupJoinedFd, &joined, 1)) < 0 && errno == EINTR) {
      }
      if (n != 1) throw std::runtime_error("cgroups: the shim could not move the container into its cgroup");
      close(in.cgroupJoinedFd);
    }
    int fds[3] = {in.stdinFd, in.stdoutFd, in.stderrFd};
    if (c.tty) {
      // The pty slave becomes the controlling terminal of a new session, as a login would have it.
      int slave = containerConsole(in.consoleSock, c.uid, c.gid);
      setsid();
      if (ioctl(slave, TIOCSCTTY, 0) < 0) throw std::runtime_error(errnoText("ioctl(TIOCSCTTY)"));
      fds[0] = fds[1] = fds[2] = slave;
    }
    for (int i = 0; i < 3; i++)
      if (dup2(fds[i], i) < 0) throw std::runtime_error(errnoText("dup2"));
    std::vector<std::string> env = containerEnv(c, {});
    applyProcessIdentity(c);
    execWorkload(env, c.args);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (write(in.errFd, msg.data(), msg.size()) < 0) {
    }
  }
  _exit(127);
}

}  // namespace k1s::shim
