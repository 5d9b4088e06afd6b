#include "common/controller_runner.h"

#include "common/errors.h"
#include "common/log.h"

namespace k1s {

ControllerRunner::ControllerRunner(Client& c, const char* component, SyncFn sync, int workers, RetryBackoff backoff)
    : component_(component),
      sync_(std::move(sync)),
      n_(workers < 1 ? 1 : workers),
      informers_(c),
      queue_(backoff.base, backoff.max) {}

void ControllerRunner::start(const std::function<void()>& beforeWorkers) {
  if (!informers_.start()) return;  // stopped before the caches filled: no workers
  if (beforeWorkers) beforeWorkers();
  for (int i = 0; i < n_; ++i) threads_.emplace_back([this] { work(); });
}

void ControllerRunner::stop() {
  informers_.stop();  // no handler calls (and so no new keys) after this
  queue_.shutdown();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void ControllerRunner::work() {
  std::string key;
  while (queue_.get(key)) {
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
}

}  // namespace k1s
