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

// How a failed key comes back: after base, doubling up to max. The controllers' default is short
// because their syncs are cheap API reads; the kubelet's pod workers start slower (a sync may
// start containers), as kubelet's own back-off does.
struct RetryBackoff {
  std::chrono::milliseconds base{5}, max{std::chrono::seconds(60)};
};

class ControllerRunner {
 public:
  using SyncFn = std::function<void(const std::string& key)>;
  ControllerRunner(Client& c, const char* component, SyncFn sync, int workers, RetryBackoff backoff = {});
  ~ControllerRunner() { stop(); }

  // The shared informer for (r, ns, selectors); handlers added with on().
  Informer& use(const ResourceInfo& r, const std::string& ns = "", const ListOptions& selectors = {}) {
    return informers_.use(r, ns, selectors);
  }
  void on(Informer& inf, InformerHandlers h) { informers_.on(inf, std::move(h)); }
  WorkQueue& queue() { return queue_; }

  // Starts the informers, waits until their caches filled, runs beforeWorkers (work that needs the
  // full caches but must finish before any sync, as the kubelet's re-adoption of containers), then
  // starts the workers.
  void start(const std::function<void()>& beforeWorkers = nullptr);
  void stop();

 private:
  void work();

  const char* component_;
  SyncFn sync_;
  int n_;
  InformerSet informers_;
  WorkQueue queue_;
  std::vector<std::thread> threads_;
};

}  // namespace k1s
