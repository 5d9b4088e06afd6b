// The runtime every controller runs on (DESIGN rule 2), as kube-controller-manager's
// controllers do: shared informers (informer_factory.h) whose handlers put keys on a
// rate-limited work queue, and N workers that take keys and call the controller's one
// idempotent sync(key). A failure re-queues the key with back-off, a success resets it.
// One start order (caches filled, then workers) and one stop order (handlers off, queue
// shut down, workers joined) for every controller.
#pragma once
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/informer_factory.h"
#include "common/workqueue.h"

namespace k1s {

class ControllerRunner {
 public:
  using SyncFn = std::function<void(const std::string& key)>;
  // `clock` (tests: a FakeClock) drives the queue's delays and back-off; it must outlive the runner.
  ControllerRunner(Client& c, const char* component, SyncFn sync, int workers, const Clock& clock = Clock::real());
  ~ControllerRunner() { stop(); }

  // The shared informer for (r, ns, selectors); handlers added with on().
  Informer& use(const ResourceInfo& r, const std::string& ns = "", const ListOptions& selectors = {}) {
    return informers_.use(r, ns, selectors);
  }
  void on(Informer& inf, InformerHandlers h) { informers_.on(inf, std::move(h)); }
  WorkQueue& queue() { return queue_; }
  const Clock& clock() const { return clock_; }
  // Tests (DESIGN rule 2): runs the controller's sync(key) once on this thread, on whatever the
  // informers' caches hold (seeded with Informer::inject, never started); throws what sync throws.
  void sync(const std::string& key) { sync_(key); }

  // Starts the informers, waits until their caches filled, then starts the workers.
  void start();
  void stop();

 private:
  void work();

  const char* component_;
  SyncFn sync_;
  int n_;
  InformerSet informers_;
  const Clock& clock_;
  WorkQueue queue_{std::chrono::milliseconds(5), std::chrono::seconds(60), clock_};
  std::vector<std::thread> threads_;
};

}  // namespace k1s
