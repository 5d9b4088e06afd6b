// exec, attach and port-forward over WebSocket: the handler installed with
// setWebSocketStreamHandler (kubelet/stream_session.h). It negotiates the
// subprotocol, answers 101 on the taken-over TLS connection and maps the
// channel protocol onto the transport-neutral session (runRemoteCommand,
// runPortForward), so the semantics match the SPDY transport exactly.
//
// Channel protocols (one binary message = channel byte + data):
//   exec/attach  v5.channel.k8s.io  0 stdin, 1 stdout, 2 stderr, 3 error
//                (metav1.Status), 4 resize; 255 + channel closes a channel
//                v4/v3/v2/channel.k8s.io: the same channels without 255
//                *.base64.channel.k8s.io: text messages, channel as an ASCII
//                digit, data base64-encoded
//   port-forward (v4.)channel.k8s.io and its base64 forms, portforward.k8s.io:
//                per port i of ?ports=, data channel 2i and error channel 2i+1,
//                each opened by a message with the port (2 bytes, little
//                endian). v5.channel.k8s.io adds 255 + channel (half-close).
//                SPDY/3.1+portforward.k8s.io: SPDY/3.1 framed inside binary
//                messages (kubectl 1.31+), served by the SPDY session.
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "common/byte_stream.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/websocket.h"
#include "kubelet/stream_session.h"
#include "kubelet/stream_websocket.h"

namespace k1s {

namespace {

constexpr unsigned char kCloseChannel = 255;
const char* kTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

const std::vector<std::string>& remoteCommandProtocols() {
  static const std::vector<std::string> p = {
      "v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "v3.channel.k8s.io",
      "v2.channel.k8s.io", "channel.k8s.io",    "base64.channel.k8s.io"};
  return p;
}

const std::vector<std::string>& portForwardProtocols() {
  static const std::vector<std::string> p = {kTunnelProtocol,         "v5.channel.k8s.io",
                                             "v4.channel.k8s.io",     "v4.base64.channel.k8s.io",
                                             "channel.k8s.io",        "base64.channel.k8s.io",
                                             "portforward.k8s.io"};
  return p;
}

bool isBase64Protocol(const std::string& p) { return p.find("base64.channel.k8s.io") != std::string::npos; }

std::string base64Encode(const char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data),
                            static_cast<int>(n));
  out.resize(len > 0 ? static_cast<size_t>(len) : 0);
  return out;
}

// Throws ws::ProtocolError for input that is not base64 (the peer's fault).
std::string base64Decode(const std::string& in) {
  if (in.size() % 4 != 0) throw ws::ProtocolError(ws::kCloseInvalidData, "base64 channel data of a bad length");
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
  if (len < 0) throw ws::ProtocolError(ws::kCloseInvalidData, "channel data is not base64");
  size_t pad = in.size() >= 2 ? (in[in.size() - 1] == '=') + (in[in.size() - 2] == '=') : 0;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

void replyStatus(httplib::Response& res, const ApiError& e) {
  res.status = e.code;
  res.set_content(e.toStatus().dump(), "application/json");
}

// One upgraded connection: the WebSocket, its channels, and the thread that
// demultiplexes incoming messages onto them.
class ChannelSession {
 public:
  ChannelSession(std::shared_ptr<ws::Connection> c, const std::string& protocol, size_t channels)
      : c_(std::move(c)), base64_(isBase64Protocol(protocol)), v5_(protocol == "v5.channel.k8s.io") {
    for (size_t i = 0; i < channels; ++i) {
      auto idx = static_cast<unsigned char>(i);
      channels_.push_back(std::make_shared<QueuedChannel>(
          [this, idx](const char* d, size_t n) { return send(idx, d, n); }, [this, idx] { closeWrite(idx); },
          size_t(1) << 20, [this, idx](char* d, size_t n, size_t room) { return sendInPlace(idx, d, n, room); }));
    }
  }
  ~ChannelSession() {
    if (reader_.joinable()) {  // an early exit skipped finish(): still never leave the reader running
      c_->shutdown();
      reader_.join();
    }
  }
  std::shared_ptr<QueuedChannel> channel(size_t i) { return channels_.at(i); }
  ws::Connection& conn() { return *c_; }

  // Outgoing data on one channel (empty data still makes a message: the
  // "channel is open" signal clients wait for).
  bool send(unsigned char ch, const char* d, size_t n) {
    if (base64_) return c_->sendText(std::string(1, static_cast<char>('0' + ch)) + base64Encode(d, n));
    return c_->send(ws::Opcode::Binary, &ch, 1, d, n);  // channel byte + data framed in one buffer
  }

  // send() without a copy of the data: the channel byte and the frame header go into the
  // `room` bytes the caller lent in front of it.
  bool sendInPlace(unsigned char ch, char* d, size_t n, size_t room) {
    if (base64_ || room < 1) return send(ch, d, n);
    d[-1] = static_cast<char>(ch);
    return c_->sendInPlace(ws::Opcode::Binary, d - 1, n + 1, room - 1);
  }

  // Port-forward: a data channel (even number) the pod finished sending on.
  // v5 can say so with 255 + channel; older protocols cannot, so the
  // connection ends. exec/attach end the whole connection instead.
  void closeWrite(unsigned char ch) {
    if (!portForward_ || ch % 2 != 0) return;
    if (v5_) {
      std::string msg{static_cast<char>(kCloseChannel), static_cast<char>(ch)};
      c_->sendBinary(msg);
    } else {
      c_->close(ws::kCloseNormal);
    }
  }
  void setPortForward(bool b) { portForward_ = b; }

  // Runs the reader on its own thread; onEnd runs once when the peer is gone.
  void start(std::function<void()> onEnd) {
    reader_ = std::thread([this, onEnd = std::move(onEnd)] {
      std::string why;
      try {
        ws::Message m;
        while (c_->read(m)) dispatch(m);
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (!why.empty()) LOGW("streams", "websocket stream ended: " << why);
      for (auto& ch : channels_) ch->pushEnd();
      if (onEnd) onEnd();
      std::lock_guard<std::mutex> l(mu_);
      readerDone_ = true;
      cv_.notify_all();
    });
  }

  // The outcome is sent: start the close handshake and end every channel's
  // input now, so the session's readers return without waiting for the peer.
  void endInput() {
    c_->close(ws::kCloseNormal);
    for (auto& ch : channels_) ch->pushEnd();
  }

  // Our side is finished: close handshake, a moment for the peer's reply, then hang up.
  void finish() {
    c_->close(ws::kCloseNormal);
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::seconds(2), [&] { return readerDone_; });
    }
    c_->shutdown();
    if (reader_.joinable()) reader_.join();
  }

 private:
  void dispatch(const ws::Message& m) {
    if (m.data.empty()) return;
    unsigned char ch = static_cast<unsigned char>(m.data[0]);
    std::string payload;
    if (base64_) {
      if (ch < '0' || ch > '9') throw ws::ProtocolError(ws::kCloseInvalidData, "base64 channel byte is not a digit");
      ch = static_cast<unsigned char>(ch - '0');
      payload = base64Decode(m.data.substr(1));
    } else {
      payload.assign(m.data, 1, std::string::npos);
    }
    if (ch == kCloseChannel && !base64_) {
      // v5 close signal: exactly one channel byte follows.
      if (payload.size() != 1) throw ws::ProtocolError(ws::kCloseProtocolError, "close signal must name one channel");
      auto target = static_cast<unsigned char>(payload[0]);
      if (target < channels_.size()) channels_[target]->pushEnd();
      return;
    }
    if (ch >= channels_.size()) return;  // a channel this session does not use: ignored, as kube does
    if (!payload.empty()) channels_[ch]->push(payload.data(), payload.size());
  }

  std::shared_ptr<ws::Connection> c_;
  bool base64_, v5_;
  bool portForward_ = false;
  std::vector<std::shared_ptr<QueuedChannel>> channels_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool readerDone_ = false;
};

std::shared_ptr<ws::Connection> upgrade(const httplib::Request& req, const ws::ServerHandshake& h) {
  auto io = takeOverConnection(req);
  // Interactive traffic of small messages: without this, Nagle holds each small
  // write until the client's (delayed, up to 40 ms) ACK of the previous one.
  if (req.ssl)
    if (int fd = SSL_get_fd(req.ssl); fd >= 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  if (!sendSwitchingProtocols(*io, h.responseHeaders)) throw std::runtime_error("client went away during upgrade");
  return std::make_shared<ws::Connection>(std::move(io), ws::Connection::Role::Server);
}

void serveRemoteCommand(StreamBackend& b, const StreamRequest& r, const httplib::Request& req, httplib::Response& res,
                        const ws::ServerHandshake& h) {
  std::string protocol = h.protocol.empty() ? "channel.k8s.io" : h.protocol;  // no offer: the original protocol
  // The base64 forms are the same versions with another encoding.
  std::string plain = protocol;
  if (auto b64 = plain.find("base64."); b64 != std::string::npos) plain.erase(b64, 7);
  int version = remoteCommandVersion(plain);
  // Started before the upgrade so a missing container is still a plain Status reply.
  StreamProcess p = r.subresource == "exec" ? b.exec(r.target, r.options) : b.attach(r.target, r.options);
  std::shared_ptr<ws::Connection> conn;
  try {
    conn = upgrade(req, h);
  } catch (...) {
    // The client is gone: end what we started and release its fds.
    if (p.cancel) p.cancel();
    for (int fd : {p.stdinFd, p.stdoutFd, p.stderrFd})
      if (fd >= 0) ::close(fd);
    if (p.wait) p.wait();
    throw;
  }
  LOGI("streams", r.subresource << " over websocket protocol=" << protocol << " pod=" << r.target.ns << "/"
                                << r.target.pod << " tty=" << r.options.tty);
  ChannelSession s(conn, protocol, 5);
  RemoteCommandChannels ch;
  if (r.options.stdin) ch.stdin = s.channel(0);
  if (r.options.stdout) ch.stdout = s.channel(1);
  if (r.options.stderr && !r.options.tty) ch.stderr = s.channel(2);
  ch.error = s.channel(3);
  if (r.options.tty && version >= 3) ch.resize = s.channel(4);
  ch.finished = [&s] { s.endInput(); };
  // kube's first message for the older protocols: an empty one on the lowest
  // channel we will write. v5 clients (client-go) register their streams
  // while reading and would log a message that comes first as unknown.
  if (version < 5) s.send(ch.stdout ? 1 : ch.stderr ? 2 : 3, "", 0);
  auto cancel = p.cancel;
  s.start([cancel] {
    if (cancel) cancel();
  });
  int code = runRemoteCommand(p, ch, version);
  LOGV(2, "streams", r.subresource << " over websocket ended pod=" << r.target.ns << "/" << r.target.pod
                                   << " exit=" << code);
  s.finish();
}

void servePortForward(StreamBackend& b, const StreamRequest& r, const httplib::Request& req, httplib::Response& res,
                      const ws::ServerHandshake& h) {
  b.checkPortForward(r.target.ns, r.target.pod);
  if (h.protocol == kTunnelProtocol) {
    auto conn = upgrade(req, h);
    LOGI("streams", "portforward over websocket protocol=" << h.protocol << " pod=" << r.target.ns << "/"
                                                           << r.target.pod);
    auto bytes = ws::messageStream(conn);
    serveSpdyPortForward(*bytes, b, r.target.ns, r.target.pod);
    conn->close(ws::kCloseNormal);
    conn->shutdown();
    return;
  }
  if (r.ports.empty()) throw badRequest("query parameter \"ports\" is required");
  for (int port : r.ports)
    if (port <= 0 || port > 65535) throw badRequest("port \"" + std::to_string(port) + "\" must be between 1 and 65535");
  auto conn = upgrade(req, h);
  LOGI("streams", "portforward over websocket protocol=" << (h.protocol.empty() ? "channel.k8s.io" : h.protocol)
                                                         << " pod=" << r.target.ns << "/" << r.target.pod);
  ChannelSession s(conn, h.protocol, 2 * r.ports.size());
  s.setPortForward(true);
  for (size_t i = 0; i < r.ports.size(); ++i) {
    char port[2] = {static_cast<char>(r.ports[i] & 0xFF), static_cast<char>((r.ports[i] >> 8) & 0xFF)};
    s.send(static_cast<unsigned char>(2 * i), port, 2);
    s.send(static_cast<unsigned char>(2 * i + 1), port, 2);
  }
  // The client going away stops every forwarded socket at once.
  CancelGroup group;
  s.start([&group] { group.cancelAll(); });
  // One pair per port, each on its own thread (a single port, the usual case, on this one); the
  // connection lives until all are done.
  auto pair = [&](size_t i) {
    runPortForward(b, r.target.ns, r.target.pod, r.ports[i], *s.channel(2 * i), *s.channel(2 * i + 1), &group);
  };
  std::vector<std::thread> pairs;
  for (size_t i = 1; i < r.ports.size(); ++i) pairs.emplace_back(pair, i);
  pair(0);
  for (auto& t : pairs) t.join();
  s.finish();
}

void serveWebSocket(StreamBackend& b, const StreamRequest& r, const httplib::Request& req, httplib::Response& res) {
  ws::UpgradeRequest u;
  u.method = req.method;
  for (auto& [k, v] : req.headers) {
    std::string name = k;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
    u.headers.emplace(name, v);
  }
  bool portForward = r.subresource == "portforward";
  auto h = ws::negotiate(u, portForward ? portForwardProtocols() : remoteCommandProtocols(), true);
  if (!h.ok) {
    // Before any upgrade: a Status the client can print (kubectl then falls back to SPDY).
    LOGW("streams", "websocket " << r.subresource << " refused pod=" << r.target.ns << "/" << r.target.pod << ": "
                                 << h.error);
    for (auto& [k, v] : h.responseHeaders) res.set_header(k, v);
    replyStatus(res, ApiError(h.httpStatus, h.httpStatus == 426 ? "BadRequest" : "BadRequest", h.error));
    return;
  }
  try {
    if (portForward)
      servePortForward(b, r, req, res, h);
    else
      serveRemoteCommand(b, r, req, res, h);
  } catch (const ApiError& e) {
    replyStatus(res, e);  // only reached before the upgrade: afterwards nothing throws ApiError
  } catch (const std::exception& e) {
    LOGW("streams", "websocket " << r.subresource << " pod=" << r.target.ns << "/" << r.target.pod
                                 << " failed: " << e.what());
  }
}

}  // namespace

void installWebSocketStreams() { setWebSocketStreamHandler(serveWebSocket); }

}  // namespace k1s
