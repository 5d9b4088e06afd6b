// Time as the work queue and the controllers see it, injectable as client-go's clock.Clock:
// Clock::real() by default; tests pass a FakeClock and move it by hand, so delays, back-off,
// minReadySeconds and progress deadlines are checked without waiting for them.
#pragma once
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

namespace k1s {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time: delays, back-off, TTLs.
  virtual time_point now() const = 0;
  // Wall time in seconds since the epoch: compared with objects' timestamps.
  virtual std::time_t wallSeconds() const = 0;
  // With `l` (cv's mutex) held: waits until cv is notified or this clock reaches `t`. May wake
  // early; callers re-check their condition.
  virtual void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& l, time_point t) const = 0;

  static const Clock& real();
};

// A clock that moves only when told. A queue waiting on it wakes when advance() passes its
// deadline. advance() must not race the destruction of a queue that waits on this clock.
class FakeClock : public Clock {
 public:
  FakeClock() : now_(std::chrono::steady_clock::now()), wall_(std::time(nullptr)) {}
  time_point now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  std::time_t wallSeconds() const override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_ + std::chrono::duration_cast<std::chrono::seconds>(now_ - start_).count();
  }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& l, time_point t) const override {
    Waiter w{&cv, l.mutex()};
    {
      std::lock_guard<std::mutex> g(mu_);
      if (now_ >= t) return;
      waiters_.push_back(w);  // before `l` is released: an advance from now on notifies us
      waitersChanged_.notify_all();
    }
    cv.wait(l);
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
      if (*it == w) {
        waiters_.erase(it);
        break;
      }
  }
  void advance(std::chrono::nanoseconds d) {
    std::vector<Waiter> wake;
    {
      std::lock_guard<std::mutex> g(mu_);
      now_ += std::chrono::duration_cast<time_point::duration>(d);
      wake = waiters_;
    }
    // Taking the waiter's mutex orders this notify after its wait began.
    for (auto& [cv, m] : wake) {
      std::lock_guard<std::mutex> g(*m);
      cv->notify_all();
    }
  }
  // Blocks (in real time, up to `timeout`) until at least `n` threads wait on this clock, e.g.
  // until a worker has handed a failed key back and waits for its back-off. False on timeout.
  bool awaitWaiters(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> g(mu_);
    return waitersChanged_.wait_for(g, timeout, [&] { return waiters_.size() >= n; });
  }

 private:
  using Waiter = std::pair<std::condition_variable*, std::mutex*>;
  mutable std::mutex mu_;
  time_point now_;
  const time_point start_ = now_;
  std::time_t wall_;
  mutable std::vector<Waiter> waiters_;
  mutable std::condition_variable waitersChanged_;
};

}  // namespace k1s
