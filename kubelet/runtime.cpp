// The daemon's side of the runtime: starts shims with posix_spawn (the daemon never forks), reads
// their state files, signals and removes containers, and creates pod sandboxes.
#include "kubelet/runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/log.h"
#include "kubelet/cgroups.h"
#include "kubelet/shim_binary.h"
#include "kubelet/shim_internal.h"

extern char** environ;

namespace k1s {
namespace {

using namespace shim;

constexpr long kNsfsMagic = 0x6e736673;

std::string stateDirOf(const std::string& root, const std::string& id) { return root + "/" + id; }

std::optional<Json> readJson(const std::string& path) {
  auto s = readFile(path);
  if (!s || s->empty()) return std::nullopt;
  try {
    return Json::parse(*s);
  } catch (...) {
    return std::nullopt;
  }
}

bool validId(const std::string& id) {
  return !id.empty() && id.find('/') == std::string::npos && id != "." && id != "..";
}

// Spawns `shimExe shim <args...>` with the given fds as 0,1,2 (and extra as 3 when ≥ 0), default
// signal handling and an empty signal mask. Returns the pid.
pid_t spawnShim(const std::string& exe, const std::vector<std::string>& args, int in, int out, int err, int extra,
                const std::string& stderrPath = "") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in >= 0) posix_spawn_file_actions_adddup2(&fa, in, 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out >= 0) posix_spawn_file_actions_adddup2(&fa, out, 1);
  else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (err >= 0) posix_spawn_file_actions_adddup2(&fa, err, 2);
  else if (!stderrPath.empty())
    posix_spawn_file_actions_addopen(&fa, 2, stderrPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
  else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (extra >= 0) posix_spawn_file_actions_adddup2(&fa, extra, 3);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> full = {exe, "shim"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, &at, argv.data(), const_cast<char**>(envp));
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0) throw std::runtime_error("spawn " + exe + ": " + strerror(rc));
  return pid;
}

int waitChild(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Mount points at or under `dir` in this mount namespace (deepest first).
std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> r;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mnt;
    in >> id >> parent >> dev >> root >> mnt;
    if (mnt == dir || mnt.rfind(dir + "/", 0) == 0) r.insert(r.begin(), mnt);
  }
  return r;
}

bool isNsfs(const std::string& path) {
  struct statfs s;
  return statfs(path.c_str(), &s) == 0 && long(s.f_type) == kNsfsMagic;
}

}  // namespace

Runtime::Runtime(std::string stateRoot, std::string shimExe, std::string cgroupRoot)
    : stateRoot_(std::move(stateRoot)), shimExe_(std::move(shimExe)), cgroupRoot_(std::move(cgroupRoot)) {
  mkdirAll(stateRoot_, 0711);
  // The small static shim next to the state root (<run-dir>/shim); the re-exec'd k1s binary
  // stays the fallback when it cannot be written or the run dir does not allow exec.
  size_t slash = stateRoot_.find_last_of('/');
  std::string runDir = slash == std::string::npos ? "." : stateRoot_.substr(0, slash);
  try {
    std::string exe = installEmbeddedShim(runDir + "/shim");
    struct statvfs vfs;
    if (!exe.empty() && statvfs(exe.c_str(), &vfs) == 0 && !(vfs.f_flag & ST_NOEXEC)) shimExe_ = exe;
    else if (!exe.empty()) LOGW("runtime", "run dir is mounted noexec: shims run as the k1s binary " << shimExe_);
  } catch (const std::exception& e) {
    LOGW("runtime", "cannot write the shim executable (" << e.what() << "): shims run as the k1s binary " << shimExe_);
  }
  LOGV(2, "runtime", "shim executable " << shimExe_);
}

// <cgroupRoot>/<cgroupParent>/<id>; a parent that already starts with the root is not doubled.
static std::string cgroupPathFor(const std::string& root, const ContainerSpec& c) {
  std::string parent = c.cgroupParent;
  while (!parent.empty() && parent.front() == '/') parent.erase(0, 1);
  std::string base = root;
  if (!root.empty() && (parent == root || parent.rfind(root + "/", 0) == 0)) base.clear();
  std::string p = base;
  if (!parent.empty()) p += (p.empty() ? "" : "/") + parent;
  return p + (p.empty() ? "" : "/") + c.id;
}

ContainerStatus Runtime::start(const ContainerSpec& c) {
  if (!validId(c.id)) throw std::runtime_error("invalid container id \"" + c.id + "\"");
  std::string dir = stateDirOf(stateRoot_, c.id);
  if (mkdir(dir.c_str(), 0711) < 0)
    throw std::runtime_error(errno == EEXIST ? "container \"" + c.id + "\" already exists" : errnoText("mkdir " + dir));
  Json spec = specToJson(c);
  spec["cgroupPath"] = cgroupPathFor(cgroupRoot_, c);
  writeFileAtomic(dir + "/spec.json", spec.dump(), 0600);

  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(errnoText("pipe"));
  pid_t pid;
  try {
    pid = spawnShim(shimExe_, {"run", dir, "3"}, -1, -1, -1, p[1], dir + "/shim.log");
  } catch (...) {
    close(p[0]);
    close(p[1]);
    throw;
  }
  close(p[1]);
  waitChild(pid);  // the first shim process exits as soon as it has detached
  std::string reply;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    pollfd pf{p[0], POLLIN, 0};
    if (left <= 0 || poll(&pf, 1, left) == 0) {
      reply.clear();
      break;
    }
    ssize_t n = read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, size_t(n));
  }
  close(p[0]);
  Json r;
  try {
    r = Json::parse(reply);
  } catch (...) {
    auto log = readFile(dir + "/shim.log");
    throw std::runtime_error("shim did not report a start: " + (log && !log->empty() ? *log : std::string("no output")));
  }
  if (r.contains("error")) throw std::runtime_error(r["error"].get<std::string>());
  LOGV(2, "runtime", "started container id=" << c.id << " pid=" << r.value("pid", 0));
  ContainerStatus s;
  s.id = c.id;
  s.running = true;
  s.pid = r.value("pid", 0);
  s.startedAt = r.value("startedAt", "");
  return s;
}

std::optional<ContainerStatus> Runtime::status(const std::string& id) const {
  if (!validId(id)) return std::nullopt;
  std::string dir = stateDirOf(stateRoot_, id);
  if (!exists(dir + "/spec.json")) return std::nullopt;
  ContainerStatus s;
  s.id = id;
  auto state = readJson(dir + "/state.json");
  if (state) {
    s.pid = state->value("pid", 0);
    s.startedAt = state->value("startedAt", "");
  }
  auto exited = [&] {
    auto ex = readJson(dir + "/exit.json");
    if (!ex) return false;
    s.running = false;
    s.exitCode = ex->value("exitCode", 0);
    s.finishedAt = ex->value("finishedAt", "");
    s.reason = ex->value("reason", "");
    s.message = ex->value("message", "");
    return true;
  };
  if (exited()) return s;
  if (state && (processIs(s.pid, state->value("pidStartTime", uint64_t(0))) ||
                // The workload is gone but its shim is still writing exit.json: not final yet.
                processIs(state->value("shimPid", 0), state->value("shimStartTime", uint64_t(0))))) {
    s.running = true;
    return s;
  }
  // The shim writes exit.json and then exits: if it finished both since the first look, the
  // file is there now (without this second look a busy machine reported a clean exit as an error).
  if (exited()) return s;
  if (!state) {
    // Still starting (start() has not returned), or the shim died before reporting.
    s.running = false;
    s.reason = "Created";
    return s;
  }
  s.running = false;
  s.exitCode = 255;
  s.reason = "Error";
  s.message = "the container's shim exited without recording an exit status";
  return s;
}

void Runtime::signal(const std::string& id, int sig) {
  auto state = readJson(stateDirOf(stateRoot_, id) + "/state.json");
  if (!state) return;
  pid_t pid = state->value("pid", 0);
  // Only the exact process we started: a recycled pid must never get the signal.
  if (processIs(pid, state->value("pidStartTime", uint64_t(0)))) ::kill(pid, sig);
}

void Runtime::remove(const std::string& id) {
  if (!validId(id)) return;
  std::string dir = stateDirOf(stateRoot_, id);
  auto spec = readJson(dir + "/spec.json");
  auto state = readJson(dir + "/state.json");
  if (state) {
    pid_t pid = state->value("pid", 0), shimPid = state->value("shimPid", 0);
    uint64_t pst = state->value("pidStartTime", uint64_t(0)), sst = state->value("shimStartTime", uint64_t(0));
    if (processIs(pid, pst)) ::kill(pid, SIGKILL);
    for (int i = 0; i < 250 && processIs(shimPid, sst); i++) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (processIs(shimPid, sst)) ::kill(shimPid, SIGKILL);
  }
  if (spec && spec->contains("cgroupPath")) {
    size_t keep = 0;
    for (char ch : cgroupRoot_) keep += ch == '/';
    if (!cgroupRoot_.empty()) keep++;
    if (!Cgroups((*spec)["cgroupPath"].get<std::string>()).remove(keep))
      LOGW("runtime", "cgroup of container " << id << " could not be removed");
  }
  // The rootfs lives in the container's own mount namespace; anything mounted here is a leftover.
  for (auto& m : mountsUnder(dir)) umount2(m.c_str(), MNT_DETACH);
  removeTree(dir);
}

std::vector<std::string> Runtime::list() const {
  std::vector<std::string> ids;
  DIR* d = opendir(stateRoot_.c_str());
  if (!d) return ids;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (validId(n) && exists(stateRoot_ + "/" + n + "/spec.json")) ids.push_back(n);
  }
  closedir(d);
  return ids;
}

static std::string sandboxDirOf(const std::string& stateRoot, const std::string& podUid) {
  return stateRoot + "/../sandboxes/" + podUid;
}

void Runtime::createSandbox(const SandboxSpec& s, std::string& ipcnsPath, std::string& utsnsPath) {
  if (!validId(s.podUid)) throw std::runtime_error("invalid pod uid \"" + s.podUid + "\"");
  std::string dir = sandboxDirOf(stateRoot_, s.podUid);
  ipcnsPath = dir + "/ipc";
  utsnsPath = dir + "/uts";
  if (isNsfs(ipcnsPath) && isNsfs(utsnsPath)) return;  // already there (e.g. after a daemon restart)
  removeSandbox(s.podUid);
  mkdirAll(dir, 0711);
  // The handles went with another mount namespace while containers still run in the namespaces:
  // bind those back, so containers started from now on share them again.
  for (int pid : s.livePids) {
    bool ok = true;
    for (auto [ns, dst] : {std::pair<const char*, std::string*>{"ipc", &ipcnsPath}, {"uts", &utsnsPath}}) {
      std::string src = "/proc/" + std::to_string(pid) + "/ns/" + ns;
      int fd = open(dst->c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
      if (fd >= 0) close(fd);
      ok = ok && fd >= 0 && mount(src.c_str(), dst->c_str(), nullptr, MS_BIND, nullptr) == 0;
    }
    if (ok) return;
    removeSandbox(s.podUid);
    mkdirAll(dir, 0711);
  }
  for (auto* p : {&ipcnsPath, &utsnsPath}) {
    int fd = open(p->c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) throw std::runtime_error(errnoText("create " + *p));
    close(fd);
  }
  std::string host = s.hostname.empty() ? s.podName : s.hostname;
  // IPC and UTS namespaces belong to a task, not to the whole process: a short-lived thread of
  // the daemon unshares them, names the host and bind-mounts its own namespace files, then ends.
  // No fork and no exec on a pod's start path (the bind mounts keep the namespaces alive).
  std::string err;
  std::thread([&] {
    if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
      err = errnoText("unshare ipc/uts");
      return;
    }
    if (!host.empty() && sethostname(host.data(), host.size()) < 0) {
      err = errnoText("sethostname " + host);
      return;
    }
    for (auto [ns, dst] : {std::pair<const char*, std::string*>{"ipc", &ipcnsPath}, {"uts", &utsnsPath}}) {
      std::string src = std::string("/proc/thread-self/ns/") + ns;
      if (mount(src.c_str(), dst->c_str(), nullptr, MS_BIND, nullptr) < 0) {
        err = errnoText("bind " + src + " on " + *dst);
        return;
      }
    }
  }).join();
  if (!err.empty()) {
    removeSandbox(s.podUid);
    throw std::runtime_error("create pod sandbox: " + err);
  }
}

void Runtime::removeSandbox(const std::string& podUid) {
  if (!validId(podUid)) return;
  std::string dir = sandboxDirOf(stateRoot_, podUid);
  for (const char* ns : {"/ipc", "/uts"})
    while (umount2((dir + ns).c_str(), MNT_DETACH) == 0) {
    }
  removeTree(dir);
}

int Runtime::exec(const std::string& id, const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  int stdinFd, int stdoutFd, int stderrFd, bool tty) {
  if (!validId(id) || argv.empty()) throw std::runtime_error("exec: no command");
  std::vector<std::string> args = {"exec", stateDirOf(stateRoot_, id), tty ? "1" : "0", Json(env).dump(), "--"};
  args.insert(args.end(), argv.begin(), argv.end());
  return spawnShim(shimExe_, args, stdinFd, stdoutFd, stderrFd, -1);
}

int Runtime::waitExec(int pid) { return waitChild(pid); }

std::string Runtime::stdinPath(const std::string& id) const { return stateDirOf(stateRoot_, id) + "/stdin"; }

}  // namespace k1s

namespace k1s {

// The pty slave is the process's stdin: reopening it through /proc reaches the same terminal,
// whose size change sends SIGWINCH to its foreground process group.
static void resizeTerminalOf(pid_t pid, unsigned short cols, unsigned short rows) {
  int fd = open(("/proc/" + std::to_string(pid) + "/fd/0").c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return;
  if (isatty(fd)) {
    winsize ws{rows, cols, 0, 0};
    ioctl(fd, TIOCSWINSZ, &ws);
  }
  close(fd);
}

void Runtime::resize(const std::string& id, unsigned short cols, unsigned short rows) {
  auto state = readJson(stateDirOf(stateRoot_, id) + "/state.json");
  if (!state) return;
  pid_t pid = state->value("pid", 0);
  if (processIs(pid, state->value("pidStartTime", uint64_t(0)))) resizeTerminalOf(pid, cols, rows);
}

void Runtime::resizeExec(int execPid, unsigned short cols, unsigned short rows) {
  // The command is the exec shim's only child (it forked to enter the pid namespace).
  auto kids = readFile("/proc/" + std::to_string(execPid) + "/task/" + std::to_string(execPid) + "/children");
  if (!kids) return;
  int child = atoi(kids->c_str());
  if (child > 0) resizeTerminalOf(child, cols, rows);
}

}  // namespace k1s
