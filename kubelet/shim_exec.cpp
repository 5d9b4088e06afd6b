// `k1s shim exec`: runs a command inside a running container (kubectl exec back end).
// `k1s shim sandbox`: creates a pod's shared IPC and UTS namespaces and pins them with bind mounts.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "kubelet/cgroups.h"
#include "kubelet/shim_container.h"
#include "kubelet/shim_internal.h"

namespace k1s::shim {
namespace {

// Copies stdin → pty master and master → stdout until the command's side of the pty closes.
void pumpPty(int master) {
  bool inOpen = true;
  char buf[16384];
  for (;;) {
    pollfd fds[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
    int r = poll(fds, inOpen ? 2 : 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;
    if (fds[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0 && errno != EINTR && errno != EAGAIN) return;  // EIO: the command exited
      for (ssize_t off = 0; n > 0 && off < n;) {
        ssize_t w = write(1, buf + off, size_t(n - off));
        if (w <= 0) break;
        off += w;
      }
    }
    if (inOpen && fds[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        inOpen = false;
        char eot = 4;  // end of input for the program reading the terminal
        if (write(master, &eot, 1) < 0) {
        }
        continue;
      }
      if (write(master, buf, size_t(n)) < 0) {
      }
    }
  }
}

int fail(const std::string& msg, int code = 126) {
  std::string s = "exec failed: " + msg + "\n";
  if (write(2, s.data(), s.size()) < 0) {
  }
  return code;
}

}  // namespace

int shimExec(int argc, char** argv) {
  // exec <stateDir> <tty> <envJson> -- argv...
  if (argc < 6 || strcmp(argv[4], "--") != 0) return fail("usage: shim exec <dir> <tty> <env-json> -- <command>");
  std::string dir = argv[1];
  bool tty = strcmp(argv[2], "1") == 0;
  close_range(3, ~0U, 0);
  std::vector<std::string> args(argv + 5, argv + argc);
  ContainerSpec c;
  std::vector<std::string> extraEnv;
  pid_t pid = 0;
  std::string cgroupPath;
  try {
    auto spec = readFile(dir + "/spec.json");
    auto state = readFile(dir + "/state.json");
    if (!spec || !state) return fail("container not started");
    Json sj = Json::parse(*spec), st = Json::parse(*state);
    c = specFromJson(sj);
    cgroupPath = sj.value("cgroupPath", "");
    extraEnv = Json::parse(argv[3]).get<std::vector<std::string>>();
    pid = st.value("pid", 0);
    if (!processIs(pid, st.value("pidStartTime", uint64_t(0)))) return fail("container is not running");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  c.tty = tty;
  int master = -1;
  try {
    Cgroups(cgroupPath).join(0);
    // Open every namespace first: after joining the mount namespace /proc/<pid> may look different.
    const std::pair<const char*, int> kinds[] = {
        {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
    int fds[5];
    for (int i = 0; i < 5; i++) {
      std::string p = "/proc/" + std::to_string(pid) + "/ns/" + kinds[i].first;
      fds[i] = open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) throw std::runtime_error(errnoText("open " + p));
    }
    for (int i = 0; i < 5; i++) {
      if (setns(fds[i], kinds[i].second) < 0) throw std::runtime_error(errnoText(std::string("setns ") + kinds[i].first));
      close(fds[i]);
    }
    if (tty) {  // a pty of the container's own devpts, so `tty` names a device the command can see
      master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) throw std::runtime_error(errnoText("allocate pty"));
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  // setns(CLONE_NEWPID) applies to children only: fork so the command is inside.
  pid_t child = fork();
  if (child < 0) return fail(errnoText("fork"));
  if (child == 0) {
    try {
      if (tty) {
        char name[128];
        if (ptsname_r(master, name, sizeof name) != 0) throw std::runtime_error(errnoText("ptsname"));
        setsid();
        int slave = open(name, O_RDWR);
        if (slave < 0) throw std::runtime_error(errnoText(std::string("open ") + name));
        if (ioctl(slave, TIOCSCTTY, 0) < 0) throw std::runtime_error(errnoText("ioctl(TIOCSCTTY)"));
        for (int i = 0; i < 3; i++) dup2(slave, i);
        if (slave > 2) close(slave);
      }
      if (chdir(c.workingDir.empty() ? "/" : c.workingDir.c_str()) < 0 && chdir("/") < 0) {
      }
      auto env = containerEnv(c, extraEnv);
      applyProcessIdentity(c);
      execWorkload(env, args);
    } catch (const std::exception& e) {
      std::string m = e.what();
      _exit(fail("unable to start container process: " + m, m.find("not found") != std::string::npos ? 127 : 126));
    }
  }
  if (tty) {
    signal(SIGPIPE, SIG_IGN);
    pumpPty(master);
    close(master);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int shimSandbox(int argc, char** argv) {
  // sandbox <dir> <hostname>: <dir>/ipc and <dir>/uts exist as empty files.
  if (argc < 3) return 2;
  std::string dir = argv[1], host = argv[2];
  if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
    perror("k1s shim sandbox: unshare");
    return 1;
  }
  if (!host.empty() && sethostname(host.data(), host.size()) < 0) {
    perror("k1s shim sandbox: sethostname");
    return 1;
  }
  for (const char* ns : {"ipc", "uts"}) {
    std::string src = std::string("/proc/self/ns/") + ns, dst = dir + "/" + ns;
    if (mount(src.c_str(), dst.c_str(), nullptr, MS_BIND, nullptr) < 0) {
      fprintf(stderr, "k1s shim sandbox: bind %s on %s: %s\n", src.c_str(), dst.c_str(), strerror(errno));
      umount2((dir + "/ipc").c_str(), MNT_DETACH);
      return 1;
    }
  }
  return 0;
}

}  // namespace k1s::shim
