// The kubelet's stream back ends: exec through the runtime's exec shim (the
// container's namespaces, cgroup and environment), attach through the
// container's stdin FIFO and its CRI log, and port-forward sockets opened in
// the pod's network namespace (that of a running container's process).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/client.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"
#include "common/resources.h"
#include "kubelet/netns.h"
#include "kubelet/pod_logs.h"
#include "kubelet/runtime.h"
#include "kubelet/streams.h"

namespace k1s {

namespace {
constexpr const char* kComp = "streams";

struct Pipe {
  int r = -1, w = -1;
  void open() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw internalError(std::string("pipe: ") + strerror(errno));
    r = p[0], w = p[1];
  }
  void closeAll() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
    r = w = -1;
  }
};

// What a request resolved to: a running container instance.
struct Resolved {
  Json pod;
  std::string uid, name, id;
  int restartCount = 0;
  Json spec;  // the container's spec
  ContainerStatus status;
};

std::string bracketList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s + "]";
}

class KubeletStreams : public StreamBackend {
 public:
  KubeletStreams(Client& c, Runtime& rt, std::string dataDir) : client_(c), rt_(rt), dataDir_(std::move(dataDir)) {}

  StreamProcess exec(const StreamTarget& t, const StreamOptions& o) override {
    Resolved c = resolve(t.ns, t.pod, t.container);
    if (o.command.empty()) throw badRequest("you must specify at least 1 command");
    Pipe in, out, err;
    try {
      if (o.stdin) in.open();
      if (o.stdout || o.tty) out.open();
      if (o.stderr && !o.tty) err.open();
    } catch (...) {
      in.closeAll(), out.closeAll(), err.closeAll();
      throw;
    }
    int pid;
    try {
      // With a tty the exec shim's own errors ("exec failed: ...") go to the terminal's output.
      pid = rt_.exec(c.id, o.command, {}, in.r, out.w, o.tty ? out.w : err.w, o.tty);
    } catch (const std::exception& e) {
      in.closeAll(), out.closeAll(), err.closeAll();
      throw internalError(std::string("exec: ") + e.what());
    }
    for (int* fd : {&in.r, &out.w, &err.w})
      if (*fd >= 0) ::close(*fd), *fd = -1;
    LOGV(1, kComp, "exec pod=" << t.ns << "/" << t.pod << " container=" << c.name << " pid=" << pid);

    // The shim's pid stays ours until reaped: cancel and resize check `reaped` under the lock,
    // and wait() only reaps after marking it, so a signal never reaches a recycled pid.
    struct State {
      std::mutex mu;
      bool reaped = false;
    };
    auto st = std::make_shared<State>();
    Runtime* rt = &rt_;
    StreamProcess p;
    p.stdinFd = in.w;
    p.stdoutFd = out.r;
    p.stderrFd = err.r;
    p.wait = [st, rt, pid] {
      siginfo_t si{};
      while (waitid(P_PID, pid_t(pid), &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      {
        std::lock_guard<std::mutex> l(st->mu);
        if (st->reaped) return -1;
        st->reaped = true;
      }
      return rt->waitExec(pid);
    };
    p.resize = [st, rt, pid](unsigned short cols, unsigned short rows) {
      std::lock_guard<std::mutex> l(st->mu);
      if (!st->reaped) rt->resizeExec(pid, cols, rows);
    };
    p.cancel = [st, pid] {
      std::lock_guard<std::mutex> l(st->mu);
      if (st->reaped) return;
      // The command is the shim's child (it forked into the pid namespace): kill it, then the shim.
      std::ifstream kids("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
      int child;
      while (kids >> child) kill(child, SIGKILL);
      kill(pid, SIGKILL);
    };
    return p;
  }

  StreamProcess attach(const StreamTarget& t, const StreamOptions& o) override {
    Resolved c = resolve(t.ns, t.pod, t.container);
    bool stdinOpen = c.spec.value("stdin", false), tty = c.spec.value("tty", false);
    if (o.stdin && !stdinOpen)
      throw badRequest("stdin was requested but container " + c.name + " in pod " + t.pod +
                       " was not started with stdin: true");
    std::string logPath = dataDir_ + "/pods/" + c.uid + "/logs/" + c.name + "/" + std::to_string(c.restartCount) + ".log";
    Pipe out, err;
    int in = -1;
    try {
      if (o.stdout || (tty && o.stderr)) out.open();
      if (o.stderr && !tty) err.open();
      if (o.stdin) {
        // The shim keeps the FIFO open for reading, so this never blocks; our close is no EOF for it.
        in = ::open(rt_.stdinPath(c.id).c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
        if (in < 0) throw internalError("attach: open stdin of container " + c.name + ": " + strerror(errno));
        fcntl(in, F_SETFL, fcntl(in, F_GETFL) & ~O_NONBLOCK);
      }
    } catch (...) {
      out.closeAll(), err.closeAll();
      if (in >= 0) ::close(in);
      throw;
    }
    struct State {
      std::atomic<bool> cancelled{false};
      int wake[2] = {-1, -1};
      std::thread follower;
      int exitCode = -1;
      std::mutex mu;
      bool joined = false;
      ~State() {
        // The follower may hold the last reference itself.
        if (follower.joinable()) {
          if (follower.get_id() == std::this_thread::get_id()) follower.detach();
          else follower.join();
        }
        for (int fd : wake)
          if (fd >= 0) ::close(fd);
      }
    };
    auto st = std::make_shared<State>();
    if (pipe2(st->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
      out.closeAll(), err.closeAll();
      if (in >= 0) ::close(in);
      throw internalError("attach: pipe failed");
    }
    Runtime* rt = &rt_;
    std::string id = c.id;
    int outW = out.w, errW = tty ? out.w : err.w;
    if (!o.stderr && tty) errW = -1;
    if (!o.stdout && tty) outW = -1;
    st->follower = std::thread([st, rt, id, logPath, outW, errW, closeOut = out.w, closeErr = err.w] {
      followLog(st->wake[0], st->cancelled, logPath, outW, errW, [rt, id] {
        auto s = rt->status(id);
        return s && s->running;
      });
      if (!st->cancelled) {
        auto s = rt->status(id);
        if (s) st->exitCode = s->exitCode;
      }
      if (closeOut >= 0) ::close(closeOut);
      if (closeErr >= 0) ::close(closeErr);
    });
    LOGV(1, kComp, "attach pod=" << t.ns << "/" << t.pod << " container=" << c.name);
    StreamProcess p;
    p.stdinFd = in;
    p.stdoutFd = out.r;
    p.stderrFd = err.r;
    p.wait = [st] {
      std::lock_guard<std::mutex> l(st->mu);
      if (!st->joined && st->follower.joinable()) st->follower.join();
      st->joined = true;
      return st->cancelled ? -1 : st->exitCode;
    };
    p.resize = [rt, id, tty](unsigned short cols, unsigned short rows) {
      if (tty) rt->resize(id, cols, rows);
    };
    p.cancel = [st] {
      st->cancelled = true;
      char x = 1;
      if (::write(st->wake[1], &x, 1) < 0) {
      }
    };
    return p;
  }

  void checkPortForward(const std::string& ns, const std::string& pod) override { runningPid(ns, pod); }

  int dialPort(const std::string& ns, const std::string& pod, int port) override {
    int pid = runningPid(ns, pod);
    std::string nsPath = "/proc/" + std::to_string(pid) + "/ns/net";
    int fd = -1;
    std::string err;
    runInNetns(nsPath, [&] {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        err = std::string("socket: ") + strerror(errno);
        return;
      }
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(uint16_t(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        err = "dial tcp4 127.0.0.1:" + std::to_string(port) + ": connect: " +
              (errno == ECONNREFUSED ? std::string("connection refused") : std::string(strerror(errno)));
        ::close(fd);
        fd = -1;
      }
    });
    if (fd < 0)
      throw std::runtime_error("failed to connect to localhost:" + std::to_string(port) + " inside the namespace of pod " +
                               ns + "/" + pod + ": " + err);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }

 private:
  // Copies the container's output from its CRI log (records appended after now) to the pipes
  // until cancelled, or the container has stopped and the log holds nothing more.
  static void followLog(int wakeFd, const std::atomic<bool>& cancelled, const std::string& path, int outW, int errW,
                        const std::function<bool()>& running) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    lseek(fd, 0, SEEK_END);
    int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino >= 0) inotify_add_watch(ino, path.c_str(), IN_MODIFY);
    std::string pending;
    std::vector<char> buf(32 * 1024);
    bool alive = true;
    while (!cancelled) {
      ssize_t n;
      bool got = false;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
        got = true;
        pending.append(buf.data(), size_t(n));
        size_t start = 0, nl;
        while ((nl = pending.find('\n', start)) != std::string::npos) {
          CriLogLine l;
          if (parseCriLogLine(pending.substr(start, nl - start), l)) {
            if (!l.partial) l.content += '\n';
            int to = l.stream == "stderr" ? errW : outW;
            if (to >= 0) {
              const char* p = l.content.data();
              size_t left = l.content.size();
              while (left > 0) {
                ssize_t w = ::write(to, p, left);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                  if (to == outW) outW = -1; else errW = -1;  // the reader is gone
                  break;
                }
                p += w, left -= size_t(w);
              }
            }
          }
          start = nl + 1;
        }
        pending.erase(0, start);
      }
      if (got) continue;
      if (!alive) break;  // stopped, and the log is drained
      alive = running();
      if (!alive) continue;  // one more pass for the last records
      pollfd p[2] = {{wakeFd, POLLIN, 0}, {ino, POLLIN, 0}};
      poll(p, ino >= 0 ? 2 : 1, 250);
      if (ino >= 0 && (p[1].revents & POLLIN)) {
        char ev[4096];
        while (::read(ino, ev, sizeof ev) > 0) {
        }
      }
    }
    if (ino >= 0) ::close(ino);
    ::close(fd);
  }

  Json getPod(const std::string& ns, const std::string& name) {
    return client_.get(*findResource("", "pods"), ns, name);  // throws NotFound as kube words it
  }

  Resolved resolve(const std::string& ns, const std::string& podName, std::string container) {
    Resolved r;
    r.pod = getPod(ns, podName);
    r.uid = metaOf(r.pod).value("uid", "");
    const Json& spec = r.pod["spec"];
    std::vector<std::string> names;
    for (auto& c : spec.value("containers", Json::array())) names.push_back(c.value("name", ""));
    if (container.empty()) {
      if (names.size() != 1)
        throw badRequest("a container name must be specified for pod " + podName + ", choose one of: " +
                         bracketList(names));
      container = names[0];
    }
    bool found = false;
    for (auto& c : spec.value("containers", Json::array()))
      if (c.value("name", "") == container) r.spec = c, found = true;
    if (!found) throw badRequest("container " + container + " is not valid for pod " + podName);
    r.name = container;
    std::string phase = r.pod.contains("status") ? r.pod["status"].value("phase", "") : "";
    if (phase == "Succeeded" || phase == "Failed")
      throw badRequest("cannot exec into or attach to a container in a completed pod; current phase is " + phase);
    Json cs;
    if (r.pod.contains("status") && r.pod["status"].contains("containerStatuses"))
      for (auto& s : r.pod["status"]["containerStatuses"])
        if (s.value("name", "") == container) cs = s;
    r.restartCount = cs.is_object() ? cs.value("restartCount", 0) : 0;
    r.id = r.uid + "-" + container + "-" + std::to_string(r.restartCount);
    auto st = rt_.status(r.id);
    if (!st || !st->running)
      throw badRequest("container " + container + " is not running in pod " + podName);
    r.status = *st;
    return r;
  }

  // A process of a running container of the pod: its network namespace is the pod's.
  int runningPid(const std::string& ns, const std::string& podName) {
    Json pod = getPod(ns, podName);
    std::string uid = metaOf(pod).value("uid", "");
    if (pod.contains("status") && pod["status"].contains("containerStatuses"))
      for (auto& s : pod["status"]["containerStatuses"]) {
        std::string id = uid + "-" + s.value("name", "") + "-" + std::to_string(s.value("restartCount", 0));
        auto st = rt_.status(id);
        if (st && st->running && st->pid > 0) return st->pid;
      }
    std::string phase = pod.contains("status") ? pod["status"].value("phase", "Pending") : "Pending";
    throw badRequest("unable to forward port because pod is not running. Current status=" + phase);
  }

  Client& client_;
  Runtime& rt_;
  std::string dataDir_;
};

}  // namespace

std::shared_ptr<StreamBackend> makeKubeletStreamBackend(Client& c, Runtime& rt, std::string dataDir) {
  return std::make_shared<KubeletStreams>(c, rt, std::move(dataDir));
}

}  // namespace k1s
