// A work queue of keys as in client-go: a key is queued at most once, is never
// processed by two workers at once (re-added if it changes while processing),
// and failures come back with exponential back-off.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <deque>
#include <string>

#include "common/clock.h"

namespace k1s {

class WorkQueue {
 public:
  // Delays and back-off run on `clock` (tests: a FakeClock), which must outlive the queue.
  explicit WorkQueue(std::chrono::milliseconds baseDelay = std::chrono::milliseconds(5),
                     std::chrono::milliseconds maxDelay = std::chrono::seconds(300), const Clock& clock = Clock::real())
      : base_(baseDelay), max_(maxDelay), clock_(clock) {}

  void add(const std::string& key);
  // Adds the key once the delay passed. A key already waiting keeps the earlier of the two times
  // (client-go's delaying queue), so a periodic re-add after each sync stays one pending entry.
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Re-queues after this key's next back-off delay (5ms, 10ms, 20ms, ...).
  void addRateLimited(const std::string& key);
  // Resets the key's back-off after a success.
  void forget(const std::string& key);
  int retries(const std::string& key);
  // Blocks until a key is ready or the queue shuts down (then returns false).
  bool get(std::string& key);
  // As get(), without waiting: false when no key is ready now (or the queue shut down).
  bool tryGet(std::string& key);
  // Marks the key processed; re-queues it if it was added meanwhile.
  void done(const std::string& key);
  void shutdown();
  // Keys ready to be taken now (delayed keys count once due).
  size_t length();
  // Keys added with a delay that is not yet due.
  size_t waiting();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_, processing_;
  std::multimap<Clock::time_point, std::string> waiting_;
  std::map<std::string, Clock::time_point> waitingAt_;  // key -> its one entry in waiting_
  std::map<std::string, int> failures_;
  std::chrono::milliseconds base_, max_;
  const Clock& clock_;
  bool shutdown_ = false;
  void promoteDueLocked();
  void addLocked(const std::string& key);
  void takeLocked(std::string& key);
};

}  // namespace k1s
