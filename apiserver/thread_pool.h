// The HTTPS server's worker pool. httplib gives every connection a worker for
// the connection's whole life (keep-alive, watches, exec and port-forward
// streams), so the pool must be able to hold many at once, yet an idle daemon
// should not keep hundreds of parked threads (each one's stack pages and TLS
// count in RSS). Threads start on demand up to a cap and leave after a while
// without work, down to a small floor.
//
// Threads are started by a spawner thread, never by enqueue(): httplib calls
// enqueue() from its accept loop, and a listen backlog of 5 overflows (SYNs
// dropped, clients retrying after 1 s, 3 s, ...) if that loop stops to create
// threads while a hundred watchers connect at once.
#pragma once
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace k1s {

class GrowingThreadPool : public httplib::TaskQueue {
 public:
  GrowingThreadPool(size_t minThreads, size_t maxThreads,
                    std::chrono::milliseconds idleExit = std::chrono::seconds(30));
  ~GrowingThreadPool() override;
  void enqueue(std::function<void()> fn) override;
  // Runs the jobs already queued, then waits for every worker to leave.
  void shutdown() override;

  size_t threads() const;  // workers alive or starting
  size_t idle() const;     // of them, waiting for a job
  // Blocks until pred(threads, idle) holds (true) or `timeout` passes (false): tests wait on
  // the pool's state instead of polling it.
  bool waitFor(const std::function<bool(size_t threads, size_t idle)>& pred, std::chrono::milliseconds timeout) const;

 private:
  // Shared with the (detached) workers so that it outlives the last of them.
  struct State {
    std::mutex mu;
    std::condition_variable work, gone, spawn;
    std::condition_variable changed;  // threads or idle changed (waitFor)
    std::deque<std::function<void()>> jobs;
    size_t threads = 0, idle = 0, starting = 0;
    size_t minThreads, maxThreads;
    std::chrono::milliseconds idleExit;
    bool shutdown = false;
    bool needMore() const {
      return threads < maxThreads && (jobs.size() > idle + starting || threads < minThreads);
    }
  };
  static void worker(std::shared_ptr<State> s);
  static void spawner(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;
  std::thread spawner_;
};

}  // namespace k1s
