// remotecommand and port-forward over abstract channels (see stream_session.h).
#include "kubelet/stream_session.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <thread>

#include "common/byte_stream.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"

namespace k1s {

namespace {
constexpr const char* kComp = "streams";
constexpr size_t kBuf = 32 * 1024;
// Pod -> client reads of a forwarded connection: up to 1 MiB per read(2), sent as one frame
// (SPDY DATA or WebSocket message) and one corked TLS write. Measured against 256 KiB (A/B,
// bench/streams.sh set-up): about 12% less server CPU per MB and no more for kubectl, whose
// per-frame work (a goroutine hand-off per DATA frame) shrinks too.
constexpr size_t kForwardBuf = 1024 * 1024;

bool writeFd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

// Copies a process output fd to a channel until EOF. After `abandon` is set it
// gives up within a poll period (a background process may hold the pipe open).
void pumpOut(int fd, Channel* ch, const std::atomic<bool>& abandon, const std::function<void()>& onWriteFailure) {
  std::vector<char> buf(kBuf);
  bool sink = ch != nullptr;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (abandon) break;
      continue;
    }
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (sink && !ch->write(buf.data(), size_t(n))) {
      sink = false;  // the client is gone: keep draining so the process is not blocked on a full pipe
      if (onWriteFailure) onWriteFailure();
    }
  }
  ::close(fd);
}

// Terminal sizes arrive as JSON objects ({"Width":80,"Height":24}), one after another.
void pumpResize(Channel& ch, const std::function<void(unsigned short, unsigned short)>& resize) {
  std::string pending;
  char buf[1024];
  ssize_t n;
  while ((n = ch.read(buf, sizeof buf)) > 0) {
    pending.append(buf, size_t(n));
    if (pending.size() > 64 * 1024) pending.clear();  // junk: drop rather than grow
    size_t end;
    while ((end = pending.find('}')) != std::string::npos) {
      std::string obj = pending.substr(0, end + 1);
      pending.erase(0, end + 1);
      try {
        auto j = Json::parse(obj.substr(std::min(obj.find('{'), obj.size())));
        int w = j.value("Width", 0), h = j.value("Height", 0);
        if (w > 0 && h > 0 && w < 65536 && h < 65536 && resize) resize((unsigned short)w, (unsigned short)h);
      } catch (const std::exception& e) {
        LOGV(2, kComp, "ignoring malformed terminal size: " << e.what());
      }
    }
  }
}

bool parseBool(const httplib::Request& req, const char* name, bool def) {
  if (!req.has_param(name)) return def;
  std::string v = req.get_param_value(name);
  if (v == "true" || v == "1" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "0" || v == "False" || v == "FALSE" || v.empty()) return false;
  throw badRequest("invalid value for " + std::string(name) + ": strconv.ParseBool: parsing \"" + v +
                   "\": invalid syntax");
}

}  // namespace

// ---- QueuedChannel -------------------------------------------------------------

void QueuedChannel::push(const char* data, size_t n) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queued_ < maxQueued_ || ended_; });
  if (ended_ || n == 0) return;
  q_.emplace_back(data, n);
  queued_ += n;
  cv_.notify_all();
}

void QueuedChannel::pushEnd() {
  std::lock_guard<std::mutex> l(mu_);
  ended_ = true;
  cv_.notify_all();
}

ssize_t QueuedChannel::read(char* buf, size_t n) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !q_.empty() || ended_; });
  size_t got = 0;
  while (got < n && !q_.empty()) {
    auto& f = q_.front();
    size_t take = std::min(n - got, f.size() - offset_);
    memcpy(buf + got, f.data() + offset_, take);
    got += take;
    offset_ += take;
    if (offset_ == f.size()) q_.pop_front(), offset_ = 0;
  }
  queued_ -= got;
  cv_.notify_all();
  return ssize_t(got);
}

// ---- request ---------------------------------------------------------------------

StreamRequest parseStreamRequest(const std::string& subresource, const std::string& ns, const std::string& pod,
                                 const httplib::Request& req) {
  StreamRequest r;
  r.subresource = subresource;
  r.target = {ns, pod, req.has_param("container") ? req.get_param_value("container") : ""};
  if (subresource == "portforward") {
    for (size_t i = 0, n = req.get_param_value_count("ports"); i < n; ++i) {
      std::string v = req.get_param_value("ports", i);
      for (size_t pos = 0; pos <= v.size();) {
        size_t comma = v.find(',', pos);
        std::string one = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? v.size() + 1 : comma + 1;
        char* end = nullptr;
        long p = strtol(one.c_str(), &end, 10);
        if (one.empty() || *end || p < 1 || p > 65535)
          throw badRequest("invalid port \"" + one + "\": port must be in the range 1 to 65535");
        r.ports.push_back(int(p));
      }
    }
    return r;
  }
  r.options.stdin = parseBool(req, "stdin", false);
  r.options.stdout = parseBool(req, "stdout", true);
  r.options.stderr = parseBool(req, "stderr", true);
  r.options.tty = parseBool(req, "tty", false);
  if (subresource == "exec") {
    for (size_t i = 0, n = req.get_param_value_count("command"); i < n; ++i)
      r.options.command.push_back(req.get_param_value("command", i));
    if (r.options.command.empty()) throw badRequest("you must specify at least 1 command");
  }
  if (!r.options.stdin && !r.options.stdout && !r.options.stderr)
    throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
  return r;
}

// ---- remotecommand -------------------------------------------------------------

int remoteCommandVersion(const std::string& protocol) {
  if (protocol == "channel.k8s.io") return 1;
  if (protocol == "v2.channel.k8s.io") return 2;
  if (protocol == "v3.channel.k8s.io") return 3;
  if (protocol == "v4.channel.k8s.io") return 4;
  if (protocol == "v5.channel.k8s.io") return 5;
  return 0;
}

const std::vector<std::string>& spdyRemoteCommandProtocols() {
  static const std::vector<std::string> p = {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                             "channel.k8s.io"};
  return p;
}

std::string remoteCommandExitMessage(int exitCode, int version) {
  std::string text = exitCode < 0 ? "command was cancelled"
                                  : "command terminated with non-zero exit code: exit status " + std::to_string(exitCode);
  if (version < 4) return exitCode == 0 ? "" : text;
  if (exitCode == 0) return Json{{"metadata", Json::object()}, {"status", "Success"}}.dump();
  if (exitCode < 0)
    return Json{{"metadata", Json::object()}, {"status", "Failure"}, {"message", text}, {"reason", "InternalError"},
                {"code", 500}}
        .dump();
  return Json{{"metadata", Json::object()},
              {"status", "Failure"},
              {"message", text},
              {"reason", "NonZeroExitCode"},
              {"details", {{"causes", Json::array({{{"reason", "ExitCode"}, {"message", std::to_string(exitCode)}}})}}}}
      .dump();
}

int runRemoteCommand(StreamProcess& p, const RemoteCommandChannels& ch, int version) {
  std::atomic<bool> abandon{false};
  auto cancel = p.cancel;
  std::vector<std::thread> inputs, outputs;
  if (p.stdinFd >= 0) {
    if (ch.stdin) {
      int fd = p.stdinFd;
      auto in = ch.stdin;
      inputs.emplace_back([fd, in] {
        std::vector<char> buf(kBuf);
        ssize_t n;
        bool open = true;
        while ((n = in->read(buf.data(), buf.size())) > 0)
          if (open && !writeFd(fd, buf.data(), size_t(n))) open = false;  // keep reading so the client never blocks
        ::close(fd);  // the end of the client's input is the end of the command's stdin
      });
    } else {
      ::close(p.stdinFd);
    }
  }
  if (ch.resize) {
    auto rz = ch.resize;
    auto resize = p.resize;
    inputs.emplace_back([rz, resize] { pumpResize(*rz, resize); });
  }
  if (p.stdoutFd >= 0) outputs.emplace_back([&, fd = p.stdoutFd] { pumpOut(fd, ch.stdout.get(), abandon, cancel); });
  if (p.stderrFd >= 0) outputs.emplace_back([&, fd = p.stderrFd] { pumpOut(fd, ch.stderr.get(), abandon, cancel); });
  int code = p.wait ? p.wait() : -1;
  // Output written just before the exit is still in the pipes: the pumps drain to EOF. A background
  // process that inherited the pipes would keep them open forever, so after the exit they stop at
  // the first quiet moment.
  abandon = true;
  for (auto& t : outputs) t.join();
  if (ch.error) {
    std::string msg = remoteCommandExitMessage(code, version);
    if (!msg.empty()) ch.error->write(msg);
    ch.error->closeWrite();
  }
  if (ch.stdout) ch.stdout->closeWrite();
  if (ch.stderr) ch.stderr->closeWrite();
  if (ch.finished) ch.finished();
  for (auto& t : inputs) t.join();
  return code;
}

// ---- port-forward ----------------------------------------------------------------

bool CancelGroup::add(int fd) {
  std::lock_guard<std::mutex> l(mu_);
  if (cancelled_) return false;
  fds_.push_back(fd);
  return true;
}

void CancelGroup::remove(int fd) {
  std::lock_guard<std::mutex> l(mu_);
  fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
}

void CancelGroup::cancelAll() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = true;
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

void runPortForward(StreamBackend& b, const std::string& ns, const std::string& pod, int port, Channel& data,
                    Channel& error, CancelGroup* group) {
  int sock = -1;
  try {
    sock = b.dialPort(ns, pod, port);
  } catch (const std::exception& e) {
    std::string msg = "error forwarding port " + std::to_string(port) + " to pod " + pod + ": " + e.what();
    LOGV(1, kComp, "port-forward failed pod=" << ns << "/" << pod << " port=" << port << " err=" << e.what());
    error.write(msg);
    error.closeWrite();
    data.closeWrite();
    return;
  }
  if (group && !group->add(sock)) {
    ::close(sock);
    error.closeWrite();
    data.closeWrite();
    return;
  }
  // Client -> pod on a thread of its own, pod -> client on this one (a thread fewer to start per
  // forwarded connection). The client's FIN becomes a half close towards the pod, the pod's EOF
  // a FIN to the client; when one direction is over the other has a second to finish, after
  // which the direction that finished ends it (shutting the socket down unblocks the pod
  // reader; resetting the data channel unblocks the client reader).
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;
  };
  auto done = std::make_shared<Done>();
  // This direction is over; true when the other one is too, or ended within the grace period.
  auto finishThenAwaitOther = [done] {
    std::unique_lock<std::mutex> l(done->mu);
    done->count++;
    done->cv.notify_all();
    return done->cv.wait_for(l, std::chrono::seconds(1), [&] { return done->count >= 2; });
  };
  std::thread upThread([&, finishThenAwaitOther] {
    std::vector<char> buf(kBuf);
    ssize_t n;
    while ((n = data.read(buf.data(), buf.size())) > 0)
      if (!writeFd(sock, buf.data(), size_t(n))) break;
    ::shutdown(sock, SHUT_WR);
    if (!finishThenAwaitOther()) ::shutdown(sock, SHUT_RDWR);
  });
  {
    // Room in front of the bytes read: the transport writes its frame headers there and sends
    // header and payload from this buffer as they are (no copy into a frame per read). Not
    // zero-filled: a short-lived connection touches only the pages its reads fill.
    std::unique_ptr<char[]> buf(new char[kFrameHeadroom + kForwardBuf]);
    char* in = buf.get() + kFrameHeadroom;
    for (;;) {
      ssize_t n = ::read(sock, in, kForwardBuf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!data.writeInPlace(in, size_t(n), kFrameHeadroom)) break;  // the client is gone
    }
    data.closeWrite();
    if (!finishThenAwaitOther()) {
      ::shutdown(sock, SHUT_RDWR);
      data.reset();
    }
  }
  upThread.join();
  if (group) group->remove(sock);
  ::close(sock);
  error.closeWrite();
}

}  // namespace k1s
