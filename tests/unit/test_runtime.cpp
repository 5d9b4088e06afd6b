// The container runtime against a real kernel: needs root, overlayfs, cgroups, /bin/busybox
// (Debian busybox-static) and the built k1s binary (env K1S_BIN, or next to this test binary).
// Without them the tests fail and say why.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "kubelet/cgroups.h"
#include "kubelet/runtime.h"
#include "kubelet/shim_internal.h"
#include "kubelet/shim_log.h"

using namespace k1s;

namespace {

std::string slurp(const std::string& p) { return shim::readFile(p).value_or(""); }

// Waits until `done()` holds, re-checking whenever a file in `dir` is written or renamed into
// place (inotify: the shim's exit.json, a container's log lines) and when `pidToWatch` (if > 0)
// exits. False if `seconds` pass first.
bool waitOnDir(const std::string& dir, const std::function<bool()>& done, int seconds, pid_t pidToWatch = 0) {
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return false;
  shim::mkdirAll(dir);
  inotify_add_watch(in, dir.c_str(), IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_CREATE);
  int pfd = pidToWatch > 0 ? int(syscall(SYS_pidfd_open, pidToWatch, 0)) : -1;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  bool ok = false;
  for (;;) {
    if (done()) {
      ok = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{in, POLLIN, 0}, {pfd, POLLIN, 0}};
    poll(fds, pfd >= 0 ? 2 : 1, int(left.count()));
    char buf[4096];
    while (read(in, buf, sizeof buf) > 0) {
    }
    if (pfd >= 0 && (fds[1].revents & POLLIN)) {  // exited: one more look covers what it left
      close(pfd);
      pfd = -1;
    }
  }
  if (pfd >= 0) close(pfd);
  close(in);
  return ok;
}

// Whether `sig` is pending for the process (thread or shared), from /proc/<pid>/status.
bool signalPending(pid_t pid, int sig) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0)
      if (std::stoull(line.substr(7), nullptr, 16) & (1ULL << (sig - 1))) return true;
  return false;
}

std::string k1sBinary() {
  if (const char* e = getenv("K1S_BIN")) return e;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string s(self, size_t(n));
  return s.substr(0, s.rfind('/')) + "/k1s";
}

// A temp dir with a busybox root file system as the single image layer, a state root and a
// cgroup root of its own; removes all of it (and every container left) at the end.
struct Fixture {
  std::string tmp, layer, stateRoot, logDir, bin, cgroupRoot;
  std::unique_ptr<Runtime> rt;
  int seq = 0;

  Fixture() {
    REQUIRE_MESSAGE(geteuid() == 0, "the runtime tests need root (namespaces, mounts, cgroups)");
    bin = k1sBinary();
    REQUIRE_MESSAGE(access(bin.c_str(), X_OK) == 0, "k1s binary not found at " << bin << " (set K1S_BIN)");
    REQUIRE_MESSAGE(access("/bin/busybox", X_OK) == 0, "/bin/busybox missing: apt-get install busybox-static");
    char t[] = "/tmp/k1s-rt-XXXXXX";
    REQUIRE(mkdtemp(t));
    tmp = t;
    layer = tmp + "/layer";
    stateRoot = tmp + "/run/containers";
    logDir = tmp + "/logs";
    shim::mkdirAll(layer + "/bin");
    shim::mkdirAll(layer + "/tmp");
    shim::mkdirAll(layer + "/mnt");
    shim::mkdirAll(layer + "/etc");
    REQUIRE(system(("cp /bin/busybox " + layer + "/bin/busybox").c_str()) == 0);
    for (const char* a : {"sh", "echo", "hostname", "ps", "cat", "ls", "mount", "sleep", "dd", "head", "tr", "id",
                          "test", "grep", "wc", "touch", "tty", "readlink", "true", "stty"})
      REQUIRE(symlink("busybox", (layer + "/bin/" + a).c_str()) == 0);
    cgroupRoot = "k1s-test-" + std::to_string(getpid());
    rt = std::make_unique<Runtime>(stateRoot, bin, cgroupRoot);
  }
  ~Fixture() {
    if (rt)
      for (auto& id : rt->list()) rt->remove(id);
    for (auto& h : Cgroups::hierarchies()) rmdir((h + "/" + cgroupRoot).c_str());
    if (!tmp.empty()) shim::removeTree(tmp);
  }

  ContainerSpec spec(std::vector<std::string> args) {
    ContainerSpec c;
    c.id = "c" + std::to_string(++seq);
    c.podUid = "pod1";
    c.containerName = "main";
    c.lowerDirs = {layer};
    c.args = std::move(args);
    c.env = {"PATH=/bin"};
    c.hostname = "web-1";
    c.cgroupParent = "pod1";
    c.logPath = logDir + "/" + c.id + ".log";
    return c;
  }

  // Waits for the shim to record the container's exit (exit.json appears in its state dir),
  // or for the shim to die without one.
  ContainerStatus wait(const std::string& id, int seconds = 20) {
    auto first = rt->status(id);
    REQUIRE(first);
    std::optional<ContainerStatus> last;
    auto state = shim::readFile(stateRoot + "/" + id + "/state.json");
    pid_t shimPid = state ? Json::parse(*state).value("shimPid", 0) : 0;
    bool exited = waitOnDir(
        stateRoot + "/" + id,
        [&] {
          last = rt->status(id);
          return !last || !last->running;
        },
        seconds, shimPid);
    REQUIRE(last);
    if (!exited) FAIL("container " << id << " still running after " << seconds << "s");
    return *last;
  }

  // Waits until the container's log has a line containing `text`.
  bool logged(const ContainerSpec& c, const std::string& text, int seconds = 20) {
    return waitOnDir(logDir, [&] { return slurp(c.logPath).find(text) != std::string::npos; }, seconds);
  }

  // Runs to completion; returns the status and the log's content lines ("stdout F hi").
  ContainerStatus run(const ContainerSpec& c, std::vector<std::string>* lines = nullptr) {
    rt->start(c);
    auto s = wait(c.id);
    if (lines) {
      std::istringstream in(slurp(c.logPath));
      for (std::string l; std::getline(in, l);) lines->push_back(l.substr(l.find(' ') + 1));
    }
    return s;
  }

  std::string output(const ContainerSpec& c) {
    std::vector<std::string> lines;
    run(c, &lines);
    std::string out;
    for (auto& l : lines)
      if (l.rfind("stdout ", 0) == 0) out += l.substr(9) + "\n";  // drop "stdout F "
    return out;
  }
};

bool hasLine(const std::vector<std::string>& lines, const std::string& want) {
  for (auto& l : lines)
    if (l == want) return true;
  return false;
}

}  // namespace

TEST_CASE("runtime: CRI log writer splits long lines into partial records") {
  char t[] = "/tmp/k1s-crilog-XXXXXX";
  REQUIRE(mkdtemp(t));
  std::string path = std::string(t) + "/sub/c.log";
  {
    shim::CriLogWriter w(path);
    w.feed(0, "hel", 3);
    w.feed(0, "lo\nwor", 6);
    w.feed(1, "oops\n", 5);
    std::string big(20000, 'x');
    w.feed(0, big.data(), big.size());
    w.feed(0, "\n", 1);
    w.feed(0, "tail", 4);
    w.flush(0);
  }
  std::istringstream in(slurp(path));
  std::vector<std::string> recs;
  for (std::string l; std::getline(in, l);) {
    CHECK(l.size() > 31);
    CHECK(l[29] == 'Z');  // 2026-11-25T19:10:12.345678901Z
    recs.push_back(l.substr(31));
  }
  REQUIRE(recs.size() == 5);
  CHECK(recs[0] == "stdout F hello");
  CHECK(recs[1] == "stderr F oops");
  CHECK(recs[2] == "stdout P wor" + std::string(16384 - 3, 'x'));
  CHECK(recs[3] == "stdout F " + std::string(20000 - (16384 - 3), 'x'));
  CHECK(recs[4] == "stdout F tail");
  shim::removeTree(t);
}

TEST_CASE("runtime: echo hi is logged in CRI format and exits 0; exit codes propagate") {
  Fixture f;
  std::vector<std::string> lines;
  auto c = f.spec({"echo", "hi"});
  auto s = f.run(c, &lines);
  CHECK(s.exitCode == 0);
  CHECK(s.reason == "Completed");
  CHECK(hasLine(lines, "stdout F hi"));
  CHECK(!s.startedAt.empty());
  CHECK(!s.finishedAt.empty());

  auto c3 = f.spec({"sh", "-c", "echo bad >&2; exit 3"});
  lines.clear();
  auto s3 = f.run(c3, &lines);
  CHECK(s3.exitCode == 3);
  CHECK(s3.reason == "Error");
  CHECK(hasLine(lines, "stderr F bad"));
}

TEST_CASE("runtime: a missing executable fails start with runc's message") {
  Fixture f;
  auto c = f.spec({"no-such-cmd"});
  CHECK_THROWS_WITH(f.rt->start(c), "exec: \"no-such-cmd\": executable file not found in $PATH");
  auto s = f.rt->status(c.id);
  REQUIRE(s);
  CHECK(!s->running);
  CHECK(s->reason == "StartError");
}

TEST_CASE("runtime: isolation (hostname, pid namespace, host files, mounts, capabilities)") {
  Fixture f;
  CHECK(f.output(f.spec({"hostname"})) == "web-1\n");
  // The workload is pid 1 and sees only its own processes.
  // Counted by the shell's own glob: a pipeline's second process may not exist yet when the first reads /proc.
  std::string ps = f.output(f.spec({"sh", "-c", "echo pid=$$; set -- /proc/[0-9]*; echo $#"}));
  CHECK(ps == "pid=1\n1\n");
  // A host file in /tmp is not visible.
  std::string hostFile = "/tmp/k1s-rt-hostfile-" + std::to_string(getpid());
  { std::ofstream(hostFile) << "x"; }
  auto s = f.run(f.spec({"test", "-e", hostFile}));
  unlink(hostFile.c_str());
  CHECK(s.exitCode == 1);
  // No CAP_SYS_ADMIN: mounting fails; a privileged container may.
  auto m = f.run(f.spec({"mount", "-t", "tmpfs", "x", "/mnt"}));
  CHECK(m.exitCode != 0);
  auto pc = f.spec({"mount", "-t", "tmpfs", "x", "/mnt"});
  pc.privileged = true;
  CHECK(f.run(pc).exitCode == 0);
  // Docker's default capability set, and add/drop.
  CHECK(f.output(f.spec({"grep", "CapBnd", "/proc/self/status"})) == "CapBnd:\t00000000a80425fb\n");
  auto cc = f.spec({"grep", "CapEff", "/proc/self/status"});
  cc.capAdd = {"NET_ADMIN"};
  cc.capDrop = {"CAP_CHOWN", "KILL"};
  CHECK(f.output(cc) == "CapEff:\t00000000a80435da\n");
  auto uc = f.spec({"sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"});
  uc.uid = 1000;
  uc.gid = 2000;
  CHECK(f.output(uc) == "1000\n2000\nCapEff:\t0000000000000000\n");
  // Masked and read-only paths.
  CHECK(f.output(f.spec({"sh", "-c", "wc -c < /proc/timer_list; echo 1 > /proc/sys/vm/overcommit_memory || echo ro; touch /sys/x || echo sysro"})) ==
        "0\nro\nsysro\n");
}

TEST_CASE("runtime: volumes, working directory, read-only root") {
  Fixture f;
  std::string vol = f.tmp + "/vol";
  shim::mkdirAll(vol);
  { std::ofstream(vol + "/f") << "data"; }
  std::string hosts = f.tmp + "/hosts";
  { std::ofstream(hosts) << "127.0.0.1 localhost"; }
  auto c = f.spec({"sh", "-c", "cat /data/f; echo; cat /etc/hosts; echo; pwd; touch /data/g || echo rovol; touch /w && echo rw"});
  REQUIRE(symlink("/run/systemd/resolve/stub-resolv.conf", (f.layer + "/etc/resolv.conf").c_str()) == 0);
  c.args[2] = "cat /etc/resolv.conf; echo; " + c.args[2];
  c.mounts = {{vol, "/data", "bind", true}, {hosts, "/etc/hosts", "bind", false}, {hosts, "/etc/resolv.conf", "bind", true}};
  c.workingDir = "/work/dir";
  CHECK(f.output(c) == "127.0.0.1 localhost\ndata\n127.0.0.1 localhost\n/work/dir\nrovol\nrw\n");
  auto r = f.spec({"sh", "-c", "touch /x || echo rofs; touch /tmp/y && echo tmpfs"});
  r.readOnlyRootfs = true;
  r.mounts = {{"", "/tmp", "tmpfs", false}};
  CHECK(f.output(r) == "rofs\ntmpfs\n");
}

TEST_CASE("runtime: memory limit and OOM kill") {
  Fixture f;
  auto c = f.spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  c.memoryLimitBytes = 16 << 20;
  auto s = f.run(c);
  CHECK(s.reason == "OOMKilled");
  CHECK(s.exitCode == 137);
  // Without the limit the same command completes.
  auto ok = f.spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  CHECK(f.run(ok).exitCode == 0);
}

TEST_CASE("runtime: signals") {
  Fixture f;
  // A shell that traps TERM stops on SIGTERM.
  auto t = f.spec({"sh", "-c", "trap 'exit 143' TERM; echo trapped; sleep 1000 & wait"});
  f.rt->start(t);
  REQUIRE(f.logged(t, "stdout F trapped\n"));  // the trap is set
  f.rt->signal(t.id, SIGTERM);
  auto st = f.wait(t.id, 5);
  CHECK(st.exitCode == 143);
  // `sleep` as pid 1 has no handler, so the kernel drops SIGTERM (as with Docker and kube); SIGKILL stops it.
  // The kernel decides at kill() time: a dropped signal is never pending, a fatal one would
  // have left SIGKILL pending on the process (or it would be gone already).
  auto c = f.spec({"sleep", "1000"});
  auto started = f.rt->start(c);
  f.rt->signal(c.id, SIGTERM);
  CHECK_FALSE(signalPending(started.pid, SIGTERM));
  CHECK_FALSE(signalPending(started.pid, SIGKILL));
  std::string procStatus = slurp("/proc/" + std::to_string(started.pid) + "/status");
  CHECK(!procStatus.empty());
  CHECK(procStatus.find("State:\tZ") == std::string::npos);
  CHECK(f.rt->status(c.id)->running);
  f.rt->signal(c.id, SIGKILL);
  auto s = f.wait(c.id, 5);
  CHECK(s.exitCode == 137);
  CHECK(s.reason == "Error");
}

TEST_CASE("runtime: shims survive the Runtime and are re-adopted; remove leaves nothing") {
  Fixture f;
  auto c = f.spec({"sleep", "1000"});
  c.memoryLimitBytes = 64 << 20;
  auto started = f.rt->start(c);
  REQUIRE(started.pid > 0);
  f.rt.reset();  // the daemon goes away
  std::string stat = slurp("/proc/" + std::to_string(started.pid) + "/stat");
  CHECK(!stat.empty());
  // The workload's parent (the shim) is not a child of ours: it detached.
  std::string shimPpid = slurp("/proc/" + std::to_string(started.pid) + "/status");
  f.rt = std::make_unique<Runtime>(f.stateRoot, f.bin, f.cgroupRoot);
  auto ids = f.rt->list();
  REQUIRE(ids.size() == 1);
  CHECK(ids[0] == c.id);
  auto s = f.rt->status(c.id);
  REQUIRE(s);
  CHECK(s->running);
  CHECK(s->pid == started.pid);
  auto st = shim::readFile(f.stateRoot + "/" + c.id + "/state.json");
  REQUIRE(st);
  pid_t shimPid = Json::parse(*st)["shimPid"];
  uint64_t shimStart = Json::parse(*st)["shimStartTime"], workloadStart = shim::procStartTime(started.pid);
  CHECK(shim::processIs(shimPid, shimStart));
  CHECK(getppid() != shimPid);
  CHECK(slurp("/proc/" + std::to_string(shimPid) + "/stat").find(") S " + std::to_string(getpid()) + " ") == std::string::npos);
  // The rootfs is mounted only inside the container: the host never sees it.
  CHECK(slurp("/proc/self/mountinfo").find(f.stateRoot) == std::string::npos);
  auto dirs = Cgroups(f.cgroupRoot + "/pod1/" + c.id).dirs();
  REQUIRE(!dirs.empty());
  for (auto& d : dirs) CHECK(shim::exists(d));

  f.rt->remove(c.id);
  CHECK(!f.rt->status(c.id));
  CHECK(f.rt->list().empty());
  CHECK(!shim::exists(f.stateRoot + "/" + c.id));
  CHECK(slurp("/proc/self/mountinfo").find(f.tmp) == std::string::npos);
  for (auto& d : dirs) CHECK(!shim::exists(d));
  for (auto& h : Cgroups::hierarchies()) CHECK(!shim::exists(h + "/" + f.cgroupRoot + "/pod1"));
  CHECK(!shim::processIs(started.pid, workloadStart));  // gone (at most a zombie awaiting init)
  CHECK(!shim::processIs(shimPid, shimStart));
}

TEST_CASE("runtime: pod sandbox shares IPC and UTS; exec joins the container") {
  Fixture f;
  std::string ipc, uts;
  f.rt->createSandbox({"pod1", "web-0", "default", "web-0", "", {}}, ipc, uts);
  struct stat ipcSt;
  REQUIRE(stat(ipc.c_str(), &ipcSt) == 0);
  // A background shell says "execd" once pid 1 has become `sleep` (it spins on the condition
  // inside the container for the microseconds the exec takes).
  auto c = f.spec({"sh", "-c",
                   "hostname; readlink /proc/self/ns/ipc; "
                   "(until [ \"$(cat /proc/1/comm)\" = sleep ]; do :; done; echo execd) & exec sleep 1000"});
  c.ipcnsPath = ipc;
  c.utsnsPath = uts;
  f.rt->start(c);
  REQUIRE(f.logged(c, "stdout F execd\n"));

  int p[2];
  REQUIRE(pipe(p) == 0);
  int pid = f.rt->exec(c.id, {"sh", "-c", "echo $X; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; id -u"}, {"X=from-exec"},
                       -1, p[1], p[1], false);
  close(p[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(p[0]);
  CHECK(f.rt->waitExec(pid) == 0);
  CHECK(out == "from-exec\nweb-0\nsleep 1000 \n0\n");  // sh exec'd its last command
  int e = f.rt->exec(c.id, {"sh", "-c", "exit 5"}, {}, -1, -1, -1, false);
  CHECK(f.rt->waitExec(e) == 5);
  int nf = f.rt->exec(c.id, {"nope"}, {}, -1, -1, -1, false);
  CHECK(f.rt->waitExec(nf) == 127);
  // With a tty the command gets a pty of the container's devpts.
  REQUIRE(pipe(p) == 0);
  int tp = f.rt->exec(c.id, {"tty"}, {}, -1, p[1], -1, true);
  close(p[1]);
  out.clear();
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  close(p[0]);
  CHECK(f.rt->waitExec(tp) == 0);
  CHECK(out.rfind("/dev/pts/", 0) == 0);

  f.rt->signal(c.id, SIGKILL);
  f.wait(c.id);
  std::string log = slurp(c.logPath);
  CHECK(log.find("stdout F web-0\n") != std::string::npos);
  CHECK(log.find("stdout F ipc:[" + std::to_string(ipcSt.st_ino) + "]\n") != std::string::npos);
  f.rt->remove(c.id);
  f.rt->removeSandbox("pod1");
  CHECK(slurp("/proc/self/mountinfo").find(f.tmp) == std::string::npos);
  CHECK(!shim::exists(f.stateRoot + "/../sandboxes/pod1"));
}

TEST_CASE("runtime: tty and attach stdin") {
  Fixture f;
  auto t = f.spec({"tty"});
  t.tty = true;
  std::string out = f.output(t);
  CHECK(out == "/dev/pts/0\r\n");  // a pty of the container's own devpts; output logged as stdout

  auto r = f.spec({"sh", "-c", "read x; stty size"});
  r.tty = r.stdinOpen = true;
  f.rt->start(r);
  f.rt->resize(r.id, 120, 40);
  { std::ofstream(f.rt->stdinPath(r.id)) << "go\n"; }
  CHECK(f.wait(r.id, 5).exitCode == 0);
  CHECK(slurp(r.logPath).find("stdout F 40 120\r\n") != std::string::npos);

  auto c = f.spec({"sh", "-c", "read line; echo got:$line"});
  c.stdinOpen = true;
  f.rt->start(c);
  {
    std::ofstream in(f.rt->stdinPath(c.id));
    in << "hello\n";
  }
  auto s = f.wait(c.id, 5);
  CHECK(s.exitCode == 0);
  CHECK(slurp(c.logPath).find("stdout F got:hello\n") != std::string::npos);
}
