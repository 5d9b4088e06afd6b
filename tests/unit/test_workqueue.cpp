// The work queue (common/workqueue.h) and the controller runner's retry loop on a FakeClock:
// dedup, a key in processing held back until done, rate-limited back-off and its reset,
// delayed adds, shutdown. No test waits for real time to pass.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/registry.h"
#include "common/controller_runner.h"
#include "common/workqueue.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;
using namespace std::chrono_literals;

namespace {

// Takes a ready key without blocking (length() says one is there).
std::string take(WorkQueue& q) {
  REQUIRE(q.length() > 0);
  std::string k;
  REQUIRE(q.get(k));
  return k;
}

}  // namespace

TEST_CASE("work queue: a key is queued once, and held back while processing until done") {
  FakeClock clock;
  WorkQueue q(5ms, 300s, clock);
  q.add("a");
  q.add("b");
  q.add("a");
  CHECK(q.length() == 2);
  CHECK(take(q) == "a");
  // Added again while a worker holds it: not handed to a second worker, queued on done().
  q.add("a");
  q.add("a");
  CHECK(q.length() == 1);  // only b
  CHECK(take(q) == "b");
  CHECK(q.length() == 0);
  q.done("a");
  CHECK(q.length() == 1);
  CHECK(take(q) == "a");
  q.done("a");
  q.done("b");
  CHECK(q.length() == 0);
}

TEST_CASE("work queue: delayed adds come due on the clock") {
  FakeClock clock;
  WorkQueue q(5ms, 300s, clock);
  q.addAfter("later", 1s);
  q.addAfter("now", 0ms);  // no delay: queued at once
  CHECK(q.length() == 1);
  CHECK(take(q) == "now");
  CHECK(q.waiting() == 1);
  clock.advance(999ms);
  CHECK(q.length() == 0);
  clock.advance(1ms);
  CHECK(q.length() == 1);
  CHECK(q.waiting() == 0);
  CHECK(take(q) == "later");
}

TEST_CASE("work queue: rate-limited re-adds back off exponentially up to the cap; forget resets") {
  FakeClock clock;
  WorkQueue q(5ms, 40ms, clock);
  auto dueAfter = [&](std::chrono::milliseconds d) {
    // Not due a millisecond early, due on time.
    clock.advance(d - 1ms);
    bool early = q.length() == 0;
    clock.advance(1ms);
    bool onTime = q.length() == 1;
    if (onTime) {
      std::string k;
      q.get(k);
      q.done(k);
    }
    return early && onTime;
  };
  CHECK(q.retries("k") == 0);
  q.addRateLimited("k");
  CHECK(q.retries("k") == 1);
  CHECK(dueAfter(5ms));
  q.addRateLimited("k");
  CHECK(dueAfter(10ms));
  q.addRateLimited("k");
  CHECK(dueAfter(20ms));
  q.addRateLimited("k");
  CHECK(dueAfter(40ms));
  q.addRateLimited("k");
  CHECK(dueAfter(40ms));  // capped
  CHECK(q.retries("k") == 5);
  // Other keys have their own count.
  q.addRateLimited("other");
  CHECK(dueAfter(5ms));
  q.forget("k");
  CHECK(q.retries("k") == 0);
  q.addRateLimited("k");
  CHECK(dueAfter(5ms));
}

TEST_CASE("work queue: a worker blocked on a delayed key wakes when the clock passes it") {
  FakeClock clock;
  WorkQueue q(5ms, 300s, clock);
  std::string got;
  bool ok = false;
  std::thread worker([&] { ok = q.get(got); });  // blocks: nothing queued
  q.addAfter("k", 10s);
  CHECK(clock.awaitWaiters(1, 10s));  // the worker now waits on the clock for "k"
  clock.advance(10s);
  worker.join();
  CHECK(ok);
  CHECK(got == "k");
  q.done("k");
}

TEST_CASE("work queue: shutdown wakes blocked workers, drops new keys, and drains queued ones") {
  FakeClock clock;
  WorkQueue q(5ms, 300s, clock);
  bool ok = true;
  std::thread worker([&] {
    std::string k;
    ok = q.get(k);
  });
  q.shutdown();
  worker.join();
  CHECK_FALSE(ok);

  WorkQueue q2(5ms, 300s, clock);
  q2.add("queued");
  q2.addAfter("delayed", 1s);
  q2.shutdown();
  q2.add("late");
  q2.addAfter("late-delayed", 1ms);
  std::string k;
  REQUIRE(q2.get(k));
  CHECK(k == "queued");
  q2.done(k);
  CHECK_FALSE(q2.get(k));  // the delayed key is not waited for after shutdown
}

TEST_CASE("controller runner: a failed sync comes back after its back-off; a success forgets it") {
  test::Api api;
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  ControllerRunner runner(
      *api.reg, "test-runner",
      [&](const std::string&) {
        std::lock_guard<std::mutex> l(mu);
        ++calls;
        cv.notify_all();
        if (calls <= 2) throw std::runtime_error("not yet");
      },
      1, clock);
  runner.start();  // no informers: workers start at once
  auto waitCalls = [&](int n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return calls >= n; });
  };
  runner.queue().add("k");
  REQUIRE(waitCalls(1));
  // The worker hands the key back for 5 ms of the fake clock, then 10 ms, and waits on the
  // clock for it: nothing runs again until the clock moves.
  REQUIRE(clock.awaitWaiters(1, 10s));
  CHECK(runner.queue().retries("k") == 1);
  CHECK(runner.queue().waiting() == 1);
  clock.advance(4ms);
  CHECK(runner.queue().waiting() == 1);
  clock.advance(1ms);
  REQUIRE(waitCalls(2));
  REQUIRE(clock.awaitWaiters(1, 10s));
  CHECK(runner.queue().retries("k") == 2);
  clock.advance(10ms);
  REQUIRE(waitCalls(3));
  runner.stop();  // joins the worker: its forget() has run
  CHECK(runner.queue().retries("k") == 0);
  CHECK(calls == 3);
}

// The runner's on-demand workers: one at rest, a second when keys back up (up to N), none past N.
TEST_CASE("controller runner: a backlog starts a second worker, never more than N") {
  for (int n : {1, 2}) {
    CAPTURE(n);
    test::Api api;
    std::mutex mu;
    std::condition_variable cv;
    int running = 0, most = 0, done = 0;
    ControllerRunner runner(
        *api.reg, "test-runner",
        [&](const std::string&) {
          std::unique_lock<std::mutex> l(mu);
          most = std::max(most, ++running);
          cv.notify_all();
          // Holds its key until another sync runs beside it (or, with one worker, briefly gives up).
          cv.wait_for(l, n > 1 ? 10s : 50ms, [&] { return most > 1; });
          --running;
          ++done;
          cv.notify_all();
        },
        n);
    runner.queue().add("a");
    runner.queue().add("b");  // queued before the first worker exists: a backlog at once
    runner.start();
    {
      std::unique_lock<std::mutex> l(mu);
      CHECK(cv.wait_for(l, 10s, [&] { return done == 2; }));
    }
    runner.stop();  // returns only once the extra worker left
    CHECK(most == n);
  }
}
