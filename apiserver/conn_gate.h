// The API server's accept loop, in front of httplib's per-connection workers.
//
// httplib gives every connection a worker thread from accept to close, and its TLS
// handshake waits on that thread for the client's first bytes. A client that connects
// and sends nothing held a worker for the read timeout: about a thousand of them
// locked every other client out (readyz took 60 s). The gate accepts instead. A
// connection that has sent nothing yet costs one descriptor in an epoll set, no
// thread; it reaches a worker only once its first bytes (the TLS ClientHello) are
// there. Around that it keeps these bounds:
//
//  - idle (connected, nothing sent): at most `maxIdlePerAddress` per client address;
//    a new connection over it pushes out that address's oldest idle one, so a flood
//    of idle sockets cannot keep a real client of the same address out;
//  - the first request's head (TLS handshake included) must be read within
//    `firstRequestDeadline` of the accept, or the connection is closed, on a worker
//    or not (a slow handshake or a dribbled header cannot hold a worker for long);
//  - workers: at most `maxServed`, and `maxServedPerAddress` per address; a few more
//    (`reservedServed`) for addresses holding fewer than `smallClient` workers, so a
//    new client is served while others fill the pool. A connection ready for a
//    worker while none may be had waits in line (its deadline still runs);
//  - everything held at once: `maxConnections` (the oldest idle connection goes
//    first, then new ones are refused).
//
// Later requests on a kept-alive connection are httplib's (keep-alive and read
// timeouts); a client doing that slowly holds at most its address's share of workers.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace k1s {

struct ConnectionLimits {
  size_t maxConnections = 10000;
  size_t maxIdlePerAddress = 256;
  size_t maxServed = 1024;
  size_t maxServedPerAddress = 512;
  size_t reservedServed = 64;
  size_t smallClient = 4;
  std::chrono::milliseconds firstRequestDeadline{10000};
};

class ConnectionGate {
 public:
  // `serve` runs on a worker thread: it serves the connection on `fd` (a duplicate the
  // gate made for it) and closes it.
  using Serve = std::function<void(int fd)>;

  // Takes a bound, listening socket (it stays the caller's to close).
  ConnectionGate(int listenFd, ConnectionLimits limits, Serve serve);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  void start();
  // Stops accepting, closes connections not yet on a worker, ends the reading side of
  // those on one (an idle keep-alive wait returns; an answer being written still goes
  // out), and waits for every worker. The caller first makes long answers (watches) end.
  void stop();

  // Called from the request path with the descriptor the worker serves (`serve`'s fd):
  // the connection's request head has been read, so its first-request deadline is met.
  void requestHeadRead(int servedFd);

  struct Counts {
    size_t idle = 0, waiting = 0, served = 0;  // now
    size_t accepted = 0, refused = 0, pushedOut = 0, timedOut = 0;  // since start
  };
  Counts counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k1s
