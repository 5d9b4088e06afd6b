// The API route for pods/NAME/exec|attach|portforward and the SPDY/3.1
// transport: checks and backend calls before the upgrade (errors are Status
// answers), the 101 with the negotiated X-Stream-Protocol-Version, then a
// spdy::Session whose streams become remotecommand channels or port-forward
// pairs.
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <thread>

#include "common/byte_stream.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/spdy.h"
#include "kubelet/stream_session.h"

namespace k1s {

namespace {
constexpr const char* kComp = "streams";
constexpr auto kStreamCreationTimeout = std::chrono::seconds(30);  // kubelet's default
constexpr auto kLinger = std::chrono::seconds(2);  // for the client to read the end and hang up itself

std::mutex hookMu;
WebSocketStreamHandler& webSocketHook() {
  static WebSocketStreamHandler h;
  return h;
}

class SpdyChannel : public Channel {
 public:
  explicit SpdyChannel(std::shared_ptr<spdy::Stream> s) : s_(std::move(s)) {}
  ssize_t read(char* buf, size_t n) override { return s_->read(buf, n); }
  bool write(const char* data, size_t n) override { return s_->write(data, n); }
  bool writeInPlace(char* data, size_t n, size_t room) override { return s_->writeInPlace(data, n, room); }
  void closeWrite() override { s_->closeWrite(); }
  void reset() override { s_->reset(spdy::kCancel); }

 private:
  std::shared_ptr<spdy::Stream> s_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// All values of a header, split at commas, trimmed.
std::vector<std::string> headerList(const httplib::Request& req, const char* name) {
  std::vector<std::string> out;
  for (size_t i = 0, n = req.get_header_value_count(name); i < n; ++i) {
    std::string v = req.get_header_value(name, i);
    for (size_t pos = 0; pos <= v.size();) {
      size_t comma = v.find(',', pos);
      if (comma == std::string::npos) comma = v.size();
      std::string one = v.substr(pos, comma - pos);
      one.erase(0, one.find_first_not_of(" \t"));
      one.erase(one.find_last_not_of(" \t") + 1);
      if (!one.empty()) out.push_back(one);
      pos = comma + 1;
    }
  }
  return out;
}

bool hasToken(const httplib::Request& req, const char* name, const std::string& token) {
  for (auto& v : headerList(req, name))
    if (lower(v) == token) return true;
  return false;
}

std::string joinList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s + "]";
}

// Releases what a started process holds when the upgrade does not happen.
void abandon(StreamProcess& p) {
  if (p.cancel) p.cancel();
  for (int fd : {p.stdinFd, p.stdoutFd, p.stderrFd})
    if (fd >= 0) ::close(fd);
  if (p.wait) p.wait();
}

// Waits (bounded) for the serving thread to see the client hang up, then ends the connection.
struct Linger {
  std::mutex mu;
  std::condition_variable cv;
  bool served = false;
  void servedDone() {
    std::lock_guard<std::mutex> l(mu);
    served = true;
    cv.notify_all();
  }
  void waitThenShutdown(spdy::Session& s) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, kLinger, [&] { return served; });
    l.unlock();
    s.shutdown();
  }
};

}  // namespace

void setWebSocketStreamHandler(WebSocketStreamHandler h) {
  std::lock_guard<std::mutex> l(hookMu);
  webSocketHook() = std::move(h);
}

// ---- remotecommand over SPDY ---------------------------------------------------------

int serveSpdyRemoteCommand(ByteStream& io, StreamProcess p, const StreamRequest& r, const std::string& protocol) {
  int version = remoteCommandVersion(protocol);
  const auto& o = r.options;
  std::map<std::string, bool> expected = {{"error", true},
                                          {"stdin", o.stdin},
                                          {"stdout", o.stdout},
                                          {"stderr", o.stderr && !o.tty},
                                          {"resize", o.tty && version >= 3}};
  size_t want = 0;
  for (auto& [_, on] : expected) want += on;

  spdy::Session session(io);
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Channel>> channels;
  bool ended = false;
  Linger linger;
  int code = -1;

  std::thread runner([&] {
    RemoteCommandChannels ch;
    {
      std::unique_lock<std::mutex> l(mu);
      bool all = cv.wait_for(l, kStreamCreationTimeout, [&] { return channels.size() >= want || ended; });
      if (!all || channels.size() < want) {
        l.unlock();
        LOGW(kComp, r.subresource << " streams not created pod=" << r.target.ns << "/" << r.target.pod
                                  << " got=" << channels.size() << " want=" << want);
        abandon(p);
        session.shutdown();
        return;
      }
      ch.error = channels["error"];
      ch.stdin = channels.count("stdin") ? channels["stdin"] : nullptr;
      ch.stdout = channels.count("stdout") ? channels["stdout"] : nullptr;
      ch.stderr = channels.count("stderr") ? channels["stderr"] : nullptr;
      ch.resize = channels.count("resize") ? channels["resize"] : nullptr;
    }
    ch.finished = [&] { linger.waitThenShutdown(session); };
    code = runRemoteCommand(p, ch, version);
  });

  std::string why = session.serve([&](std::shared_ptr<spdy::Stream> s) {
    std::string type = s->header("streamtype");
    std::lock_guard<std::mutex> l(mu);
    auto it = expected.find(type);
    if (it == expected.end() || !it->second || channels.count(type)) {
      LOGV(1, kComp, "unexpected stream type=" << type << " pod=" << r.target.ns << "/" << r.target.pod);
      s->reset(spdy::kRefusedStream);
      return;
    }
    channels[type] = std::make_shared<SpdyChannel>(s);
    cv.notify_all();
  });
  if (!why.empty()) LOGW(kComp, r.subresource << " connection failed pod=" << r.target.ns << "/" << r.target.pod << " err=" << why);
  {
    std::lock_guard<std::mutex> l(mu);
    ended = true;
    cv.notify_all();
  }
  linger.servedDone();
  if (p.cancel) p.cancel();  // the client went away first: exec is killed, attach detaches
  runner.join();
  session.shutdown();
  return code;
}

// ---- port-forward over SPDY ------------------------------------------------------------

void serveSpdyPortForward(ByteStream& io, StreamBackend& b, const std::string& ns, const std::string& pod) {
  spdy::Session session(io);
  CancelGroup group;
  struct Pair {
    std::shared_ptr<spdy::Stream> data, error;
  };
  std::map<std::string, Pair> pending;  // by requestID, until both streams are there
  struct Worker {
    std::thread t;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Worker> workers;
  auto reap = [&] {
    for (auto it = workers.begin(); it != workers.end();) {
      if (*it->done) {
        it->t.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  };

  std::string why = session.serve([&](std::shared_ptr<spdy::Stream> s) {
    reap();
    std::string type = s->header("streamtype"), id = s->header("requestid"), portText = s->header("port");
    if ((type != "data" && type != "error") || id.empty()) {
      LOGV(1, kComp, "port-forward: refusing stream type=" << type << " requestID=" << id);
      s->reset(spdy::kRefusedStream);
      return;
    }
    Pair& p = pending[id];
    (type == "data" ? p.data : p.error) = s;
    if (!p.data || !p.error) return;
    Pair ready = p;
    pending.erase(id);
    char* end = nullptr;
    long port = strtol(portText.c_str(), &end, 10);
    if (portText.empty() || *end || port < 1 || port > 65535) {
      ready.error->write("invalid port \"" + portText + "\" in the stream headers");
      ready.error->closeWrite();
      ready.data->reset(spdy::kCancel);
      return;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers.push_back({std::thread([&b, &group, ns, pod, port, ready, done] {
                         SpdyChannel data(ready.data), error(ready.error);
                         runPortForward(b, ns, pod, int(port), data, error, &group);
                         *done = true;
                       }),
                       done});
  });
  if (!why.empty()) LOGW(kComp, "port-forward connection failed pod=" << ns << "/" << pod << " err=" << why);
  group.cancelAll();
  session.shutdown();
  for (auto& w : workers) w.t.join();
}

// ---- the route ---------------------------------------------------------------------

void serveStreamRequest(StreamBackend& b, const std::string& sub, const std::string& ns, const std::string& pod,
                        const httplib::Request& req, httplib::Response& res) {
  if (req.method != "POST" && req.method != "GET")
    throw methodNotSupported("pods/" + sub, req.method == "PUT" ? "update" : lower(req.method));
  StreamRequest r = parseStreamRequest(sub, ns, pod, req);

  if (hasToken(req, "Upgrade", "websocket")) {
    WebSocketStreamHandler hook;
    {
      std::lock_guard<std::mutex> l(hookMu);
      hook = webSocketHook();
    }
    // K1S_STREAMS_SPDY_ONLY (set for the daemon) refuses WebSocket upgrades, so that tests can
    // hold kubectl 1.30+ to their fallback: SPDY/3.1 must serve every client on its own.
    static const bool spdyOnly = getenv("K1S_STREAMS_SPDY_ONLY") != nullptr;
    if (spdyOnly) hook = nullptr;
    // Without a WebSocket transport the answer must not be 101: kubectl 1.30+ then falls back to SPDY.
    if (!hook) throw badRequest("unable to upgrade: WebSocket streams are not supported by this server; use SPDY/3.1");
    return hook(b, r, req, res);
  }
  if (!hasToken(req, "Connection", "upgrade") || !hasToken(req, "Upgrade", "spdy/3.1"))
    throw badRequest("Upgrade request required: pods/" + sub + " needs Connection: Upgrade and Upgrade: SPDY/3.1");

  const std::vector<std::string> portForwardProtocols = {"portforward.k8s.io"};
  const auto& supported = sub == "portforward" ? portForwardProtocols : spdyRemoteCommandProtocols();
  auto offered = headerList(req, "X-Stream-Protocol-Version");
  if (offered.empty()) throw badRequest("unable to upgrade: X-Stream-Protocol-Version is required");
  std::string chosen;
  for (auto& o : offered)
    if (std::find(supported.begin(), supported.end(), o) != supported.end()) {
      chosen = o;
      break;
    }
  if (chosen.empty()) {
    for (auto& s : supported) res.set_header("X-Accepted-Stream-Protocol-Versions", s);
    throw ApiError(403, "Forbidden",
                   "unable to upgrade: unable to negotiate protocol: client supports " + joinList(offered) +
                       ", server accepts " + joinList(supported));
  }

  // Everything a client must see as a Status happens before the upgrade.
  StreamProcess proc;
  if (sub == "portforward") b.checkPortForward(ns, pod);
  else if (sub == "exec") proc = b.exec(r.target, r.options);
  else proc = b.attach(r.target, r.options);

  std::unique_ptr<ByteStream> io;
  try {
    io = takeOverConnection(req);
  } catch (...) {
    if (sub != "portforward") abandon(proc);
    throw;
  }
  res.set_header("Connection", "close");
  if (!sendSwitchingProtocols(*io, {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"},
                                    {"X-Stream-Protocol-Version", chosen}})) {
    if (sub != "portforward") abandon(proc);
    io->shutdown();
    return;
  }
  LOGV(1, kComp, sub << " upgraded pod=" << ns << "/" << pod << " protocol=" << chosen);
  if (sub == "portforward") {
    serveSpdyPortForward(*io, b, ns, pod);
  } else {
    int code = serveSpdyRemoteCommand(*io, std::move(proc), r, chosen);
    LOGV(1, kComp, sub << " done pod=" << ns << "/" << pod << " exit=" << code);
  }
  io->shutdown();
}

}  // namespace k1s
