// The Client interface: the only way components read and write cluster state
// (DESIGN rule 1). The API server's registry implements it in-process (same
// defaulting, validation, admission and watch events as an HTTP request).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/resources.h"

namespace k1s {

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;            // 0: no paging
  std::string continueToken;
  std::string resourceVersion;  // list: ignored (always latest); watch: start after this RV
  bool allowWatchBookmarks = false;
  int timeoutSeconds = 0;       // watch only; 0: no timeout
};

struct WriteOptions {
  bool dryRun = false;
  std::string fieldManager;
  std::string fieldValidation;  // "", "Strict", "Warn" (default), "Ignore"; unknown fields are dropped unless Strict
  std::vector<std::string>* warnings = nullptr;  // receives "unknown field \"spec.x\"" warnings when set
};

struct DeleteOptions {
  std::optional<int64_t> gracePeriodSeconds;
  std::string propagationPolicy;  // "", "Background", "Foreground", "Orphan"
  std::optional<std::string> preconditionUid;
  std::optional<std::string> preconditionResourceVersion;
  bool dryRun = false;
};

enum class PatchType { Merge, JSON, Strategic, Apply };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;
};

class Watch {
 public:
  virtual ~Watch() = default;
  // Waits up to `timeout` for the next event. Returns false on timeout or when
  // the watch has ended (then done() is true).
  virtual bool next(WatchEvent& out, std::chrono::milliseconds timeout) = 0;
  // As next(), the object behind a shared pointer: a watch over the in-process store hands
  // out the stored (immutable) object itself, so an informer caches it without a copy.
  virtual bool nextShared(std::string& type, std::shared_ptr<const Json>& object, std::chrono::milliseconds timeout) {
    WatchEvent e;
    if (!next(e, timeout)) return false;
    type = std::move(e.type);
    object = std::make_shared<const Json>(std::move(e.object));
    return true;
  }
  virtual bool done() const = 0;
  virtual void stop() = 0;
  // Safe from another thread while the owner waits in next(): makes that wait return now and the
  // watch end (an informer's stop() uses it instead of waiting out a poll period).
  virtual void interrupt() {}
  // Asks the watch to call `wake` (from any thread, never under a lock the caller may take)
  // whenever next() has something new to give: an event or the watch's end. Then one thread can
  // serve many watches without blocking in any (informer_dispatcher.h). False: not supported.
  virtual bool setWaker(std::function<void()> wake) { return false; }
};

class SharedInformerFactory;

class Client {
 public:
  virtual ~Client() = default;
  // The shared informers of everything using this client (common/informer_factory.h).
  SharedInformerFactory& informers();

  // `ns` is ignored for cluster-scoped kinds. `sub` names a subresource ("status", "scale").
  virtual Json create(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o = {}) = 0;
  virtual Json get(const ResourceInfo& r, const std::string& ns, const std::string& name,
                   const std::string& sub = "") = 0;
  // Returns a List object (kind XList, metadata.resourceVersion, items).
  virtual Json list(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) = 0;
  // The same items (selectors apply; limit and continue do not) as shared, read-only objects
  // with kind and apiVersion set, and the list's resourceVersion. In-process these are the
  // store's own objects, not copies; by default, list() decoded once.
  struct SharedList {
    std::vector<std::shared_ptr<const Json>> items;
    std::string resourceVersion;
  };
  virtual SharedList listShared(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {});
  virtual Json update(const ResourceInfo& r, const std::string& ns, Json obj, const std::string& sub = "",
                      const WriteOptions& o = {}) = 0;
  virtual Json patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type,
                     const Json& patch, const std::string& sub = "", const WriteOptions& o = {}) = 0;
  // Returns the object as deleted (or as marked for deletion when finalizers/grace apply).
  virtual Json remove(const ResourceInfo& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& o = {}) = 0;
  virtual std::unique_ptr<Watch> watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) = 0;

 private:
  std::once_flag informersOnce_;
  std::shared_ptr<SharedInformerFactory> informers_;
};

}  // namespace k1s
