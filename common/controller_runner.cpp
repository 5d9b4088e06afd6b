#include "common/controller_runner.h"

#include "common/errors.h"
#include "common/log.h"

namespace k1s {

ControllerRunner::ControllerRunner(Client& c, const char* component, SyncFn sync, int workers, const Clock& clock,
                                   RetryBackoff backoff)
    : component_(component),
      sync_(std::move(sync)),
      n_(workers < 1 ? 1 : workers),
      informers_(c),
      clock_(clock),
      queue_(backoff.base, backoff.max, clock_) {}

void ControllerRunner::start(const std::function<void()>& beforeWorkers) {
  if (!informers_.start()) return;  // stopped before the caches filled: no workers
  if (beforeWorkers) beforeWorkers();
  first_ = std::thread([this] { work(); });
}

void ControllerRunner::stop() {
  informers_.stop();  // no handler calls (and so no new keys) after this
  queue_.shutdown();
  if (first_.joinable()) first_.join();
  std::unique_lock<std::mutex> l(mu_);
  extrasGone_.wait(l, [&] { return extras_ == 0; });
}

void ControllerRunner::work() {
  std::string key;
  while (queue_.get(key)) {
    growIfBacklog();
    process(key);
  }
}

void ControllerRunner::workWhileReady() {
  std::string key;
  while (queue_.tryGet(key)) {
    growIfBacklog();
    process(key);
  }
  std::lock_guard<std::mutex> l(mu_);
  --extras_;
  extrasGone_.notify_all();  // under the lock: stop() cannot return (and free it) before this
}

void ControllerRunner::growIfBacklog() {
  if (queue_.length() == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  if (extras_ + 1 >= n_) return;
  try {
    std::thread([this] { workWhileReady(); }).detach();
    ++extras_;
  } catch (const std::system_error& e) {  // out of threads: the workers there are carry on
    LOGW(component_, "no extra worker err=" << e.what());
  }
}

void ControllerRunner::process(const std::string& key) {
  try {
    sync_(key);
    queue_.forget(key);
  } catch (const ApiError& e) {
    // Conflicts are the normal outcome of racing a writer: retry quietly.
    if (e.code == 409) LOGV(2, component_, "sync conflict key=" << key << " err=" << e.what());
    else LOGW(component_, "sync failed key=" << key << " err=" << e.what());
    queue_.addRateLimited(key);
  } catch (const std::exception& e) {
    LOGW(component_, "sync failed key=" << key << " err=" << e.what());
    queue_.addRateLimited(key);
  }
  queue_.done(key);
}

}  // namespace k1s
