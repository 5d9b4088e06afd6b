// `k1s shim run <stateDir> <readyFd>`: one per container. Detaches from the daemon (new session,
// double fork, so it survives a daemon restart and the daemon never has to reap it), forks the
// container's init into a new pid namespace, reports "started" or the start error on readyFd,
// then copies the workload's output into the CRI log, feeds attach input from the stdin FIFO,
// reaps the workload and records its exit in exit.json.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <cstring>
#include <stdexcept>

#include "kubelet/cgroups.h"
#include "kubelet/runtime.h"
#include "kubelet/shim_container.h"
#include "kubelet/shim_internal.h"
#include "kubelet/shim_log.h"
#include "kubelet/shim_memory.h"

namespace k1s {
namespace shim {

int shimMain(int argc, char** argv) {
  if (argc >= 2) {
    std::string sub = argv[1];
    if (sub == "run") return shimRun(argc - 1, argv + 1);
    if (sub == "exec") return shimExec(argc - 1, argv + 1);
    if (sub == "sandbox") return shimSandbox(argc - 1, argv + 1);
  }
  fprintf(stderr,
          "usage: k1s shim run <state-dir> <ready-fd|-> [--foreground]\n"
          "       k1s shim exec <state-dir> <tty 0|1> <env-json> -- <command...>\n"
          "       k1s shim sandbox <dir> <hostname>\n"
          "       k1s shim install <dir>   (k1s only: writes the shim executable, prints its path)\n"
          "(started by the k1s kubelet; not meant to be run by hand)\n");
  return 2;
}

namespace {

// Owns one fd; -1 when empty.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) close(fd);
    fd = f;
  }
};

void report(int fd, const Json& j) {
  if (fd < 0) return;
  std::string s = j.dump() + "\n";
  if (write(fd, s.data(), s.size()) < 0) {
  }
}

Json exitRecord(int exitCode, const std::string& reason, const std::string& message, bool oom) {
  return {{"exitCode", exitCode}, {"finishedAt", nowRfc3339()}, {"reason", reason}, {"message", message}, {"oomKilled", oom}};
}

std::string readAll(int fd) {
  std::string s;
  char b[4096];
  for (;;) {
    ssize_t n = read(fd, b, sizeof b);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return s;
    s.append(b, size_t(n));
  }
}

int receiveFd(int sock) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return -1;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

struct Pump {
  int outFd = -1, errFd = -1;  // workload output (errFd -1 with a tty)
  int stdinSrc = -1;           // the stdin FIFO, when input goes through the shim (tty)
  int stdinDst = -1;           // the pty master
  int sigFd = -1;
  pid_t workload = 0;
};

// Copies output to the log until the workload has exited and its output reached EOF (or a short
// grace period passed: a grandchild outside the pid namespace cannot exist, but be safe).
int pumpUntilExit(const Pump& p, CriLogWriter& log) {
  int status = 0;
  bool exited = false;
  bool open[2] = {p.outFd >= 0, p.errFd >= 0};
  std::string pendingIn;
  auto exitedAt = std::chrono::steady_clock::time_point{};
  char buf[65536];
  for (;;) {
    if (exited && !open[0] && !open[1]) break;
    if (exited && std::chrono::steady_clock::now() - exitedAt > std::chrono::seconds(2)) break;
    pollfd fds[5];
    int n = 0, iOut = -1, iErr = -1, iSig = -1, iIn = -1, iDst = -1;
    if (open[0]) fds[iOut = n++] = {p.outFd, POLLIN, 0};
    if (open[1]) fds[iErr = n++] = {p.errFd, POLLIN, 0};
    if (!exited) fds[iSig = n++] = {p.sigFd, POLLIN, 0};
    if (!exited && p.stdinSrc >= 0) {
      if (pendingIn.empty()) fds[iIn = n++] = {p.stdinSrc, POLLIN, 0};
      else fds[iDst = n++] = {p.stdinDst, POLLOUT, 0};
    }
    int r = poll(fds, nfds_t(n), exited ? 100 : -1);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    for (int s = 0; s < 2; s++) {
      int idx = s == 0 ? iOut : iErr;
      if (idx < 0 || !fds[idx].revents) continue;
      ssize_t got = read(fds[idx].fd, buf, sizeof buf);
      if (got > 0) log.feed(s, buf, size_t(got));
      else if (got == 0 || (errno != EINTR && errno != EAGAIN)) open[s] = false;  // EOF, or EIO from a pty
    }
    if (iIn >= 0 && fds[iIn].revents) {
      ssize_t got = read(p.stdinSrc, buf, sizeof buf);
      if (got > 0) pendingIn.assign(buf, size_t(got));
    }
    if (iDst >= 0 && fds[iDst].revents) {
      ssize_t w = write(p.stdinDst, pendingIn.data(), pendingIn.size());
      if (w > 0) pendingIn.erase(0, size_t(w));
      else if (w < 0 && errno != EAGAIN && errno != EINTR) pendingIn.clear();
    }
    if (iSig >= 0 && fds[iSig].revents) {
      signalfd_siginfo si;
      while (read(p.sigFd, &si, sizeof si) == ssize_t(sizeof si)) {
      }
      if (waitpid(p.workload, &status, WNOHANG) == p.workload) {
        exited = true;
        exitedAt = std::chrono::steady_clock::now();
      }
    }
  }
  if (!exited) waitpid(p.workload, &status, 0);
  log.flush(0);
  log.flush(1);
  return status;
}

}  // namespace

int shimRun(int argc, char** argv) {
  // run <stateDir> <readyFd|-> [--foreground]; --foreground (benchmarks, debugging) stays attached
  // to the caller and returns when the container has exited.
  if (argc < 3) return 2;
  std::string dir = argv[1];
  int readyFd = strcmp(argv[2], "-") == 0 ? -1 : atoi(argv[2]);
  bool foreground = argc > 3 && strcmp(argv[3], "--foreground") == 0;
  // Nothing of the daemon's may leak into the container: keep only stdio and the ready pipe.
  if (readyFd > 3) close_range(3, unsigned(readyFd - 1), 0);
  close_range(unsigned(readyFd < 3 ? 3 : readyFd + 1), ~0U, 0);
  // Independent of where the daemon happened to be: its cwd may be unmounted, its umask is not ours.
  if (chdir("/") < 0) {
  }
  umask(022);
  if (!foreground) {
    setsid();
    pid_t detached = fork();
    if (detached < 0) {
      report(readyFd, {{"error", errnoText("fork")}});
      return 1;
    }
    if (detached > 0) _exit(0);  // the daemon reaps this one at once; the shim is re-parented to init
  }

  signal(SIGPIPE, SIG_IGN);
  // Block what could stop the shim by accident (a terminal or process-group signal) and take SIGCHLD as an fd.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  Fd sigFd(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));

  ContainerInit init;
  Json specJson;
  try {
    auto raw = readFile(dir + "/spec.json");
    if (!raw) throw std::runtime_error(errnoText("read " + dir + "/spec.json"));
    specJson = Json::parse(*raw);
    init.spec = specFromJson(specJson);
    init.stateDir = dir;
    init.cgroupPath = specJson.value("cgroupPath", "");
  } catch (const std::exception& e) {
    report(readyFd, {{"error", e.what()}});
    return 1;
  }
  const ContainerSpec& c = init.spec;
  auto fail = [&](const std::string& msg) {
    try {
      writeFileAtomic(dir + "/exit.json", exitRecord(128, "StartError", msg, false).dump());
    } catch (...) {
    }
    report(readyFd, {{"error", msg}});
    return 1;
  };

  try {
    Cgroups(init.cgroupPath)
        .create({c.memoryLimitBytes, c.cpuQuotaMicros, c.cpuPeriodMicros, c.cpuShares, c.privileged});
  } catch (const std::exception& e) {
    return fail(std::string("cgroups: ") + e.what());
  }

  std::unique_ptr<CriLogWriter> log;
  try {
    log = std::make_unique<CriLogWriter>(c.logPath);
  } catch (const std::exception& e) {
    return fail(e.what());
  }

  // stdio: a pty (output logged as stdout) or two pipes; stdin from the FIFO or /dev/null.
  Fd outR, outW, errR, errW, inFd, master, fifo;
  if (c.stdinOpen) {
    std::string fifoPath = dir + "/stdin";
    if (mkfifo(fifoPath.c_str(), 0600) < 0 && errno != EEXIST) return fail(errnoText("mkfifo " + fifoPath));
    // O_RDWR: the FIFO always has a writer, so the reader never sees EOF between attaches.
    fifo.reset(open(fifoPath.c_str(), O_RDWR | O_CLOEXEC | (c.tty ? O_NONBLOCK : 0)));
    if (fifo.fd < 0) return fail(errnoText("open " + fifoPath));
  }
  Fd consoleR, consoleW;
  if (c.tty) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return fail(errnoText("socketpair"));
    consoleR.reset(sv[0]), consoleW.reset(sv[1]);
    init.consoleSock = consoleW.fd;
  } else {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return fail(errnoText("pipe"));
    outR.reset(p[0]), outW.reset(p[1]);
    if (pipe2(p, O_CLOEXEC) < 0) return fail(errnoText("pipe"));
    errR.reset(p[0]), errW.reset(p[1]);
    if (!c.stdinOpen) inFd.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    init.stdinFd = c.stdinOpen ? fifo.fd : inFd.fd;
    init.stdoutFd = outW.fd;
    init.stderrFd = errW.fd;
  }
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) return fail(errnoText("pipe"));
  Fd errRead(ep[0]), errWrite(ep[1]);
  init.errFd = errWrite.fd;
  if (pipe2(ep, O_CLOEXEC) < 0) return fail(errnoText("pipe"));
  Fd joinedRead(ep[0]), joinedWrite(ep[1]);
  init.cgroupJoinedFd = joinedRead.fd;

  // Children of this process start in a new pid namespace: the workload is its pid 1.
  if (unshare(CLONE_NEWPID) < 0) return fail(errnoText("unshare pid namespace"));
  pid_t pid = fork();
  if (pid < 0) return fail(errnoText("fork"));
  if (pid == 0) {
    if (readyFd >= 0) close(readyFd);
    close(joinedWrite.fd);  // the init must see EOF when the shim gives up
    containerInit(init);
  }
  // The init sets up its root file system meanwhile and waits for this before it execs.
  joinedRead.reset();
  std::string joinErr;
  try {
    Cgroups(init.cgroupPath).join(pid);
    char one = 1;
    if (write(joinedWrite.fd, &one, 1) != 1) joinErr = errnoText("signal the container's init");
  } catch (const std::exception& e) {
    joinErr = e.what();
  }
  joinedWrite.reset();
  errWrite.reset();
  consoleW.reset();
  if (c.tty) {
    master.reset(receiveFd(consoleR.fd));  // -1 when the init failed first: errRead says why
    if (master.fd >= 0) fcntl(master.fd, F_SETFL, O_NONBLOCK);
  }
  outW.reset();
  errW.reset();
  inFd.reset();
  if (!c.tty) fifo.reset();  // the workload holds it as stdin
  std::string startErr = readAll(errRead.fd);
  if (startErr.empty() && !joinErr.empty()) {  // cannot happen: the init fails without the byte
    kill(pid, SIGKILL);
    startErr = "cgroups: " + joinErr;
  }
  if (!startErr.empty()) {
    waitpid(pid, nullptr, 0);
    return fail(startErr.find("cgroups: the shim could not") == 0 && !joinErr.empty() ? "cgroups: " + joinErr : startErr);
  }
  Json state = {{"shimPid", getpid()},
                {"shimStartTime", procStartTime(getpid())},
                {"pid", pid},
                {"pidStartTime", procStartTime(pid)},
                {"startedAt", nowRfc3339()}};
  try {
    writeFileAtomic(dir + "/state.json", state.dump());
  } catch (const std::exception& e) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return fail(e.what());
  }
  report(readyFd, {{"pid", pid}, {"startedAt", state["startedAt"]}});
  if (readyFd >= 0) close(readyFd);
  Pump p;
  p.outFd = c.tty ? master.fd : outR.fd;
  p.errFd = c.tty ? -1 : errR.fd;
  p.stdinSrc = c.tty && c.stdinOpen ? fifo.fd : -1;
  p.stdinDst = master.fd;
  p.sigFd = sigFd.fd;
  p.workload = pid;
  // From here on the shim only copies output and waits: keep what that needs, give back the rest
  // (the spec, the start-up heap, the daemon's libraries' relocated pages). Every exit below is
  // _exit (see shim_memory.h).
  const std::string cgroupPath = init.cgroupPath;
  init = ContainerInit{};
  specJson = Json();
  state = Json();
  releaseIdleMemory();

  int status = pumpUntilExit(p, *log);

  bool oom = Cgroups(cgroupPath).oomKilled();
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
  std::string reason = oom ? "OOMKilled" : code == 0 ? "Completed" : "Error";
  try {
    writeFileAtomic(dir + "/exit.json", exitRecord(code, reason, "", oom).dump());
  } catch (const std::exception& e) {
    fprintf(stderr, "k1s shim: %s\n", e.what());
    _exit(1);
  }
  _exit(0);
}

}  // namespace shim
}  // namespace k1s
