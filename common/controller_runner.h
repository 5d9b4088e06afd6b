// The runtime every controller runs on (DESIGN rule 2), as kube-controller-manager's
// controllers do: shared informers (informer_factory.h) whose handlers put keys on a
// rate-limited work queue, and up to N workers that take keys and call the controller's one
// idempotent sync(key). A failure re-queues the key with back-off, a success resets it.
// One start order (caches filled, then workers) and one stop order (handlers off, queue
// shut down, workers joined) for every controller.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/informer_factory.h"
#include "common/workqueue.h"

namespace k1s {

// How a failed key comes back: after base, doubling up to max. The controllers' default is short
// because their syncs are cheap API reads; the kubelet's pod workers start slower (a sync may
// start containers), as kubelet's own back-off does.
struct RetryBackoff {
  std::chrono::milliseconds base{5}, max{std::chrono::seconds(60)};
};

class ControllerRunner {
 public:
  using SyncFn = std::function<void(const std::string& key)>;
  // `clock` (tests: a FakeClock) drives the queue's delays and back-off; it must outlive the runner.
  ControllerRunner(Client& c, const char* component, SyncFn sync, int workers, const Clock& clock = Clock::real(),
                   RetryBackoff backoff = {});
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

  // Starts the informers, waits until their caches filled, runs beforeWorkers (work that needs the
  // full caches but must finish before any sync, as the kubelet's re-adoption of containers), then
  // starts the first worker.
  void start(const std::function<void()>& beforeWorkers = nullptr);
  void stop();

 private:
  // One worker waits on the queue for good. A worker that takes a key while more are ready
  // starts another (up to N); those extra workers take keys while any are ready and then leave.
  // So an idle controller holds one thread, a busy one N (client-go's N goroutines cost nothing
  // parked; N threads for each of nine controllers were a third of an idle daemon's threads).
  void work();
  void workWhileReady();
  void process(const std::string& key);
  void growIfBacklog();

  const char* component_;
  SyncFn sync_;
  int n_;
  InformerSet informers_;
  const Clock& clock_;
  WorkQueue queue_;
  std::thread first_;
  std::mutex mu_;
  std::condition_variable extrasGone_;
  int extras_ = 0;  // extra workers running (detached; stop() waits for none)
};

}  // namespace k1s
