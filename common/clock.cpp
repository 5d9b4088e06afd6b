#include "common/clock.h"

namespace k1s {

namespace {

class RealClock : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::time_t wallSeconds() const override { return std::time(nullptr); }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& l, time_point t) const override {
    cv.wait_until(l, t);
  }
};

}  // namespace

const Clock& Clock::real() {
  static const RealClock c;
  return c;
}

}  // namespace k1s
