// The API server's worker pool: grows with demand past its floor (every
// connection, watch and stream holds a worker), shrinks when idle, drains on shutdown.
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
// Polls cond for up to 5 s (no timing assertion: only that it happens).
bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}
}  // namespace

TEST_CASE("the worker pool serves more long-lived jobs at once than its floor, up to its cap") {
  GrowingThreadPool pool(2, 64, 200ms);
  CHECK(eventually([&] { return pool.idle() == 2; }));  // the floor waits ready
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> running{0};
  for (int i = 0; i < 40; ++i)  // like 40 watches, each holding its worker
    pool.enqueue([&] {
      ++running;
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return release; });
    });
  CHECK(eventually([&] { return running == 40; }));
  CHECK(pool.threads() == 40);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  // Idle workers leave after the idle time, down to the floor.
  CHECK(eventually([&] { return pool.threads() == 2; }));
  std::atomic<int> done{0};
  pool.enqueue([&] { ++done; });
  CHECK(eventually([&] { return done == 1; }));
  CHECK(pool.threads() == 2);  // served by a waiting worker, none started
}

TEST_CASE("at its cap the worker pool queues jobs until a worker frees up") {
  GrowingThreadPool pool(0, 2, 5s);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> started{0};
  for (int i = 0; i < 5; ++i)
    pool.enqueue([&] {
      ++started;
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return release; });
    });
  CHECK(eventually([&] { return started == 2; }));
  std::this_thread::sleep_for(50ms);
  CHECK(started == 2);
  CHECK(pool.threads() == 2);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  CHECK(eventually([&] { return started == 5; }));
}

TEST_CASE("shutting the worker pool down runs the queued jobs and waits for every worker") {
  std::atomic<int> done{0};
  {
    GrowingThreadPool pool(1, 3, 30s);
    for (int i = 0; i < 20; ++i)
      pool.enqueue([&] {
        std::this_thread::sleep_for(1ms);
        ++done;
      });
    pool.shutdown();
    CHECK(done == 20);
    CHECK(pool.threads() == 0);
  }
  CHECK(done == 20);
}
