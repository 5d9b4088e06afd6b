// The API server's worker pool: grows with demand past its floor (every
// connection, watch and stream holds a worker), shrinks when idle, drains on shutdown.
// Every wait is on a condition (the jobs' own, or the pool's waitFor), none on time passing.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/thread_pool.h"

using namespace k1s;
using namespace std::chrono_literals;

namespace {

// Jobs that hold their worker until released, and say when they started.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int started = 0;
  std::function<void()> job() {
    return [this] {
      std::unique_lock<std::mutex> l(mu);
      ++started;
      cv.notify_all();
      cv.wait(l, [&] { return open; });
    };
  }
  bool awaitStarted(int n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return started >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> l(mu);
    return started;
  }
  void release() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("the worker pool serves more long-lived jobs at once than its floor, up to its cap") {
  Gate gate;  // outlives the pool's workers
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  GrowingThreadPool pool(2, 64, 200ms);
  CHECK(pool.waitFor([](size_t, size_t idle) { return idle == 2; }, 10s));  // the floor waits ready
  for (int i = 0; i < 40; ++i) pool.enqueue(gate.job());  // like 40 watches, each holding its worker
  CHECK(gate.awaitStarted(40));
  CHECK(pool.threads() == 40);
  gate.release();
  // Idle workers leave after the idle time, down to the floor.
  CHECK(pool.waitFor([](size_t threads, size_t idle) { return threads == 2 && idle == 2; }, 10s));
  pool.enqueue([&] {
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> l(mu);
    CHECK(cv.wait_for(l, 10s, [&] { return done; }));
  }
  CHECK(pool.threads() == 2);  // served by a waiting worker, none started
}

TEST_CASE("at its cap the worker pool queues jobs until a worker frees up") {
  Gate gate;  // outlives the pool's workers
  GrowingThreadPool pool(0, 2, 5s);
  for (int i = 0; i < 5; ++i) pool.enqueue(gate.job());
  CHECK(gate.awaitStarted(2));
  // Both workers are held by their jobs and the cap allows no third: the other three wait.
  CHECK(pool.threads() == 2);
  CHECK(gate.count() == 2);
  gate.release();
  CHECK(gate.awaitStarted(5));
}

TEST_CASE("shutting the worker pool down runs the queued jobs and waits for every worker") {
  std::atomic<int> done{0};
  {
    GrowingThreadPool pool(1, 3, 30s);
    for (int i = 0; i < 20; ++i) pool.enqueue([&] { ++done; });
    pool.shutdown();
    CHECK(done == 20);
    CHECK(pool.threads() == 0);
  }
  CHECK(done == 20);
}
