// The transport-neutral half of exec, attach and port-forward: what the
// Kubernetes stream protocols mean (remotecommand's stdin/stdout/stderr/error/
// resize channels and its exit-code Status; port-forward's data/error pairs),
// independent of whether SPDY/3.1 streams (kubelet/stream_spdy.cpp) or
// WebSocket channels (kubelet/stream_websocket.cpp) carry the bytes.
//
// A transport maps its streams onto Channels and calls runRemoteCommand or
// runPortForward; the functions here pump a StreamProcess's fds or a dialed
// socket to and from those channels with 32 KiB buffers.
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kubelet/streams.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace k1s {

class ByteStream;

// One byte channel of an upgraded connection (a SPDY stream, or one channel
// number of a WebSocket). read() is called by one thread; write() and
// closeWrite() may come from any thread.
class Channel {
 public:
  virtual ~Channel() = default;
  // Blocks: > 0 bytes, 0 once the peer ended its input (or the connection ended).
  virtual ssize_t read(char* buf, size_t n) = 0;
  // Whole write; false when the channel or the connection is gone.
  virtual bool write(const char* data, size_t n) = 0;
  bool write(const std::string& s) { return write(s.data(), s.size()); }
  // write() for a caller that lends the `room` bytes before data and lets data be changed
  // (ByteStream::writeInPlace): the transport frames the bytes where they are.
  virtual bool writeInPlace(char* data, size_t n, size_t room) { return write(data, n); }
  // No more output from us on this channel (SPDY FIN; WebSocket v5 close signal, or nothing).
  virtual void closeWrite() = 0;
  // Abandons the channel in both directions (SPDY RST_STREAM): a blocked read returns 0.
  virtual void reset() { closeWrite(); }
};

// A Channel whose input the transport's reader thread pushes in (WebSocket
// channels are demultiplexed that way). Output goes to the given functions.
class QueuedChannel : public Channel {
 public:
  using InPlaceSend = std::function<bool(char*, size_t, size_t)>;
  QueuedChannel(std::function<bool(const char*, size_t)> send, std::function<void()> close = nullptr,
                size_t maxQueued = 1 << 20, InPlaceSend sendInPlace = nullptr)
      : send_(std::move(send)), close_(std::move(close)), sendInPlace_(std::move(sendInPlace)), maxQueued_(maxQueued) {}
  // Reader side: queues input (waits while more than maxQueued bytes are unread,
  // unless ended); pushEnd() marks the end of input (also on connection loss).
  void push(const char* data, size_t n);
  void pushEnd();
  ssize_t read(char* buf, size_t n) override;
  bool write(const char* data, size_t n) override { return send_ && send_(data, n); }
  bool writeInPlace(char* data, size_t n, size_t room) override {
    return sendInPlace_ ? sendInPlace_(data, n, room) : write(data, n);
  }
  void closeWrite() override {
    if (close_) close_();
  }
  void reset() override {
    pushEnd();
    closeWrite();
  }

 private:
  std::function<bool(const char*, size_t)> send_;
  std::function<void()> close_;
  InPlaceSend sendInPlace_;
  size_t maxQueued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  size_t queued_ = 0, offset_ = 0;
  bool ended_ = false;
};

// ---- the request -------------------------------------------------------------

// An exec/attach/portforward request as the API saw it (query parameters parsed).
struct StreamRequest {
  std::string subresource;  // "exec", "attach" or "portforward"
  StreamTarget target;      // ns, pod, container (may be empty: the backend picks/complains)
  StreamOptions options;    // exec/attach
  std::vector<int> ports;   // portforward (the `ports` query; may be empty: ports come in stream headers)
};
// Parses command (repeated), container, stdin, stdout, stderr, tty, ports.
// Throws ApiError 400 with kube's messages for a bad request.
StreamRequest parseStreamRequest(const std::string& subresource, const std::string& ns, const std::string& pod,
                                 const httplib::Request& req);

// ---- remotecommand (exec, attach) -------------------------------------------

// Protocol versions, newest first: v5 is WebSocket only, the rest SPDY or WebSocket.
//   channel.k8s.io          v1: error channel carries plain text; no resize
//   v2.channel.k8s.io           error channel plain text
//   v3.channel.k8s.io           + resize channel
//   v4.channel.k8s.io           error channel carries a metav1.Status (exit code)
//   v5.channel.k8s.io           + stdin close signal (WebSocket)
int remoteCommandVersion(const std::string& protocol);  // 1..5; 0 when unknown
const std::vector<std::string>& spdyRemoteCommandProtocols();  // v4, v3, v2, channel.k8s.io

struct RemoteCommandChannels {
  std::shared_ptr<Channel> stdin, stdout, stderr, error, resize;  // null when not used
  // Called once the outcome is written and the output channels are closed: the
  // transport ends the connection (after letting the client read what was
  // sent), so that channel reads return 0. runRemoteCommand then joins its
  // stdin/resize readers and returns.
  std::function<void()> finished;
};

// Runs a started exec/attach to its end: stdin channel -> p.stdinFd, p.stdoutFd
// -> stdout, p.stderrFd -> stderr, resize JSON ({"Width":W,"Height":H}) ->
// p.resize. When the process ends (and its output is drained) it writes the
// outcome on the error channel — v4+: a Status (Success, or Failure with reason
// NonZeroExitCode and details.causes[{reason: ExitCode, message: "N"}]);
// v1-v3: a text message for a non-zero exit only — then closes the output
// channels. When the connection ends first, the transport makes channel reads
// return 0 and writes fail, and calls p.cancel() (safe at any time, from any
// thread); this then returns. Returns the exit code (-1 when cancelled).
int runRemoteCommand(StreamProcess& p, const RemoteCommandChannels& ch, int version);

// The error channel's payload for an exit code (exposed for tests and other transports).
std::string remoteCommandExitMessage(int exitCode, int version);

// ---- port-forward -----------------------------------------------------------

// One forwarded connection (an error + data channel pair): dials the pod's
// localhost:port and copies both ways; once one direction has ended the other
// gets a second to finish (as containerd does), then the pair is closed
// (the data channel reset if the client still has it open). A failed dial
// writes kube's message ("error forwarding port P to pod NAME, uid ...: ...")
// on the error channel and closes it; the connection's other pairs carry on.
// Lets a transport stop all its forwarded connections when its own connection ends.
class CancelGroup {
 public:
  bool add(int fd);  // false when already cancelled
  void remove(int fd);
  void cancelAll();  // shuts every registered socket down; later add() fails
 private:
  std::mutex mu_;
  std::vector<int> fds_;
  bool cancelled_ = false;
};
void runPortForward(StreamBackend& b, const std::string& ns, const std::string& pod, int port, Channel& data,
                    Channel& error, CancelGroup* group = nullptr);

// ---- transports ---------------------------------------------------------------

// SPDY/3.1 after the 101 answer (kubelet/stream_spdy.cpp); both block until the
// connection ends. Over the taken-over TLS stream, or over a WebSocket message
// stream for kubectl 1.33's "SPDY/3.1+portforward.k8s.io" tunnel.
void serveSpdyPortForward(ByteStream& io, StreamBackend& b, const std::string& ns, const std::string& pod);
// `p` was started before the upgrade; `protocol` is the negotiated remotecommand version.
int serveSpdyRemoteCommand(ByteStream& io, StreamProcess p, const StreamRequest& r, const std::string& protocol);

// The API route for pods/NAME/exec|attach|portforward: checks the request and
// the pod (errors as Status before any upgrade), then upgrades. SPDY is served
// here; `Upgrade: websocket` goes to the installed WebSocket handler, and
// without one gets 400 so that kubectl 1.30+ falls back to SPDY.
void serveStreamRequest(StreamBackend& b, const std::string& subresource, const std::string& ns,
                        const std::string& pod, const httplib::Request& req, httplib::Response& res);

// The WebSocket transport plugs in here (kubelet/stream_websocket.cpp). It is
// called for requests carrying `Upgrade: websocket`, after parseStreamRequest
// succeeded; it does its own handshake and the backend calls. Pass nullptr to
// remove it.
using WebSocketStreamHandler =
    std::function<void(StreamBackend& b, const StreamRequest& r, const httplib::Request& req, httplib::Response& res)>;
void setWebSocketStreamHandler(WebSocketStreamHandler h);

}  // namespace k1s
