// An informer as in client-go: list, then watch from the list's revision,
// keeping a local cache and calling handlers; re-lists when the watch ends or
// its revision is too old (410). Cached objects are shared and immutable:
// copy before changing (DESIGN rule 2).
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/client.h"

namespace k1s {

using CachedObject = std::shared_ptr<const Json>;

struct InformerHandlers {
  std::function<void(const Json& obj)> onAdd;
  std::function<void(const Json& oldObj, const Json& newObj)> onUpdate;
  std::function<void(const Json& obj)> onDelete;
};

class Informer {
 public:
  Informer(Client& client, const ResourceInfo& res, std::string ns = "", ListOptions selectors = {});
  ~Informer();
  void addHandlers(InformerHandlers h);  // before start()
  // Before start(): after an event wakes the informer it waits `window` and then takes every
  // event queued meanwhile, so a burst of changes costs one wake-up instead of one each.
  // For caches whose readers can stand a few milliseconds of lag (garbage collector).
  void setBatchWindow(std::chrono::milliseconds window) { batch_ = window; }
  void start();
  void stop();
  // Waits until the first list has filled the cache.
  bool waitForSync(std::chrono::milliseconds timeout);
  bool synced() const { return synced_; }

  CachedObject get(const std::string& ns, const std::string& name) const;
  std::vector<CachedObject> list(const std::string& ns = "") const;
  const ResourceInfo& resource() const { return res_; }

 private:
  void run();
  void relist();
  void apply(const std::string& type, CachedObject obj);
  void drainBatch(std::string& type, CachedObject& obj);
  void setWatch(std::unique_ptr<Watch> w);

  Client& client_;
  const ResourceInfo& res_;
  std::string ns_;
  ListOptions sel_;
  std::vector<InformerHandlers> handlers_;
  mutable std::shared_mutex mu_;
  std::map<std::string, CachedObject> cache_;  // "ns/name"
  std::string rv_;
  std::chrono::milliseconds batch_{0};
  std::atomic<bool> stop_{false}, synced_{false};
  std::thread thread_;
  std::mutex watchMu_;  // guards the watch_ pointer between run() and stop()'s interrupt()
  std::unique_ptr<Watch> watch_;
};

// "ns/name" (or "name" for cluster-scoped objects): the work-queue key.
std::string objectKey(const Json& obj);
void splitKey(const std::string& key, std::string& ns, std::string& name);

}  // namespace k1s
