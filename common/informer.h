// An informer as in client-go: list, then watch from the list's revision,
// keeping a local cache and calling handlers; re-lists when the watch ends or
// its revision is too old (410). Cached objects are shared and immutable:
// copy before changing (DESIGN rule 2).
//
// One informer serves every consumer of its (resource, namespace, selectors) in the
// process: take it from SharedInformerFactory (informer_factory.h), add handlers, start
// it (a second start is a no-op), and remove the handlers when done. It has no thread of its
// own: the process's InformerDispatcher (informer_dispatcher.h) runs it when its watch has events.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/client.h"
#include "common/informer_dispatcher.h"

namespace k1s {

using CachedObject = std::shared_ptr<const Json>;

struct InformerHandlers {
  std::function<void(const Json& obj)> onAdd;
  std::function<void(const Json& oldObj, const Json& newObj)> onUpdate;
  std::function<void(const Json& obj)> onDelete;
};

class Informer {
 public:
  using HandlerId = uint64_t;
  Informer(Client& client, const ResourceInfo& res, std::string ns = "", ListOptions selectors = {});
  ~Informer();
  // At any time. Added after the cache filled, the handlers first get an add for every
  // cached object (as client-go's AddEventHandler), then the changes that follow.
  HandlerId addHandlers(InformerHandlers h);
  // Once this returns, the handlers are not called again.
  void removeHandlers(HandlerId id);
  void start();  // once; later calls do nothing
  void stop();
  // Blocks until the first list has filled the cache (true), or timeout / stop (false).
  bool waitForSync(std::chrono::milliseconds timeout);
  bool synced() const { return synced_; }

  // Tests (DESIGN rule 2): applies a change as if the watch had delivered it ("ADDED" and
  // "MODIFIED" put the object, "DELETED" removes it), handlers included, to an informer that is
  // never started, as client-go's tests add to an informer's indexer. The first call marks the
  // cache filled.
  void inject(const std::string& type, const Json& obj);

  CachedObject get(const std::string& ns, const std::string& name) const;
  std::vector<CachedObject> list(const std::string& ns = "") const;
  const ResourceInfo& resource() const { return res_; }

  // The dispatcher's call: (re)lists if needed, takes what the watch has queued, and says when
  // it wants to be looked at again without a wake-up.
  InformerDispatcher::Clock::time_point step();

 private:
  void relist();
  void openWatch();
  void apply(const std::string& type, CachedObject obj);

  Client& client_;
  const ResourceInfo& res_;
  std::string ns_;
  ListOptions sel_;
  // Held while the cache changes and the handlers hear of it, and while handlers are added
  // or removed: a handler added meanwhile sees each change once, in order.
  std::mutex handlersMu_;
  std::vector<std::pair<HandlerId, InformerHandlers>> handlers_;
  HandlerId nextHandler_ = 1;
  mutable std::shared_mutex mu_;
  std::map<std::string, CachedObject> cache_;  // "ns/name"
  std::string rv_;
  std::atomic<bool> stop_{false}, synced_{false};
  std::mutex syncMu_;
  std::condition_variable syncCv_;
  std::once_flag started_;
  std::shared_ptr<InformerDispatcher> dispatcher_;
  // Touched by step() only, and by stop() once the dispatcher will not call step() again.
  std::unique_ptr<Watch> watch_;
  bool watchWakes_ = false;  // the watch calls the dispatcher's waker (else: looked at every 100 ms)
  int backoff_ = 0;
};

// "ns/name" (or "name" for cluster-scoped objects): the work-queue key.
std::string objectKey(const Json& obj);
void splitKey(const std::string& key, std::string& ns, std::string& name);

}  // namespace k1s
