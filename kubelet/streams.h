// The kubelet's stream back ends for pods/exec, pods/attach and
// pods/portforward, independent of the framing (SPDY/3.1 or WebSocket) that
// carries them to the client. A transport pumps the file descriptors of a
// StreamProcess to and from its channels; port-forward gets connected sockets.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace k1s {

struct StreamTarget {
  std::string ns, pod, container;  // container empty: the pod's only/first container
};

struct StreamOptions {
  std::vector<std::string> command;  // exec only
  bool stdin = false, stdout = true, stderr = true, tty = false;
};

// A running exec or attach. The transport owns the fds (closes them when done).
// With a tty, stdoutFd carries the terminal's output and stderrFd is -1.
struct StreamProcess {
  int stdinFd = -1;   // write end; -1 without stdin
  int stdoutFd = -1;  // read end; -1 when not requested
  int stderrFd = -1;  // read end; -1 when not requested or tty
  // Blocks until the end: exec -> the command's exit code; attach -> the
  // container's exit code when it ends, or -1 after cancel().
  std::function<int()> wait;
  std::function<void(unsigned short cols, unsigned short rows)> resize;
  // The client went away: exec -> the command is killed; attach -> detach only.
  // Safe at any time and from any thread, also after wait() returned.
  std::function<void()> cancel;
};

// Implemented by the kubelet (kubelet/streams.cpp). Errors a client must see as
// a Status before the upgrade throw ApiError (404 no such pod/container,
// 400 "container not found"/not running, 500 otherwise).
class StreamBackend {
 public:
  virtual ~StreamBackend() = default;
  virtual StreamProcess exec(const StreamTarget& t, const StreamOptions& o) = 0;
  virtual StreamProcess attach(const StreamTarget& t, const StreamOptions& o) = 0;
  // Throws ApiError unless the pod exists and is running (checked before an upgrade).
  virtual void checkPortForward(const std::string& ns, const std::string& pod) = 0;
  // A TCP socket connected to localhost:port inside the pod's network
  // namespace. Throws std::runtime_error with the message for the
  // port-forward error stream (e.g. "... connect: connection refused").
  virtual int dialPort(const std::string& ns, const std::string& pod, int port) = 0;
};

class Client;
class Runtime;

// The kubelet's back end: pods read through the client, containers through the
// runtime, container logs (for attach) under <dataDir>/pods/<uid>/logs.
std::shared_ptr<StreamBackend> makeKubeletStreamBackend(Client& c, Runtime& rt, std::string dataDir);

}  // namespace k1s
