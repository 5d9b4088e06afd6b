// The loop every controller runs: N workers pull keys from a WorkQueue and
// call one idempotent sync(key); a failure re-queues the key with back-off,
// a success resets it (DESIGN rule 2).
#pragma once
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "common/informer.h"
#include "common/log.h"
#include "common/workqueue.h"

namespace k1s {

class QueueWorkers {
 public:
  using SyncFn = std::function<void(const std::string& key)>;
  QueueWorkers(const char* component, SyncFn sync, int workers)
      : component_(component), sync_(std::move(sync)), n_(workers < 1 ? 1 : workers) {}
  ~QueueWorkers() { stop(); }

  WorkQueue& queue() { return q_; }
  void start() {
    for (int i = 0; i < n_; ++i) threads_.emplace_back([this] { run(); });
  }
  void stop() {
    q_.shutdown();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void run() {
    std::string key;
    while (q_.get(key)) {
      try {
        sync_(key);
        q_.forget(key);
      } catch (const ApiError& e) {
        // Conflicts are the normal outcome of racing a writer: retry quietly.
        if (e.code == 409) LOGV(2, component_, "sync conflict key=" << key << " err=" << e.what());
        else LOGW(component_, "sync failed key=" << key << " err=" << e.what());
        q_.addRateLimited(key);
      } catch (const std::exception& e) {
        LOGW(component_, "sync failed key=" << key << " err=" << e.what());
        q_.addRateLimited(key);
      }
      q_.done(key);
    }
  }

  const char* component_;
  SyncFn sync_;
  int n_;
  WorkQueue q_{std::chrono::milliseconds(5), std::chrono::seconds(60)};
  std::vector<std::thread> threads_;
};

}  // namespace k1s
