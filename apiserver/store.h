// The store: SQLite (WAL) for durability, an in-memory copy of every object
// for reads, and a bounded window of watch events for fan-out (DESIGN rule 3).
// One write = one SQLite transaction; resourceVersion is a global revision.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/resources.h"

struct sqlite3;
struct sqlite3_stmt;

namespace k1s {

using ObjectPtr = std::shared_ptr<const Json>;

struct StoreEvent {
  size_t bytes() const { return encoded ? encoded->size() : 0; }
  int64_t rv = 0;
  std::string type;  // ADDED, MODIFIED, DELETED
  const ResourceInfo* res = nullptr;
  ObjectPtr object;  // the object after the change (as deleted, for DELETED)
  ObjectPtr prev;    // before the change (null for ADDED); lets selector watches see objects leave
  std::shared_ptr<const std::string> encoded;  // `object` as JSON text, made once for every watcher
};

// One watcher's queue. The store pushes matching events; the reader pops them.
class Subscription {
 public:
  Subscription(const ResourceInfo* res, std::string ns, size_t maxEvents, size_t maxBytes)
      : res_(res), ns_(std::move(ns)), maxEvents_(maxEvents), maxBytes_(maxBytes) {}
  bool wants(const StoreEvent& e) const;
  // Queues e; wakes the reader now, or (wake = false) when the caller calls wake() later,
  // outside its own locks.
  void push(const StoreEvent& e, bool wake = true);
  void wake();
  // Also calls `waker` (outside this subscription's lock) on every wake and on close; at once if
  // something is already queued. For readers that do not block in pop() (informer_dispatcher.h).
  void setWaker(std::function<void()> waker);
  // Waits up to timeout; false on timeout or when closed and drained.
  bool pop(StoreEvent& out, std::chrono::milliseconds timeout);
  void close();
  bool closed() const;

 private:
  const ResourceInfo* res_;
  std::string ns_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StoreEvent> q_;
  size_t maxEvents_, maxBytes_, bytes_ = 0;
  bool closed_ = false;
  std::function<void()> waker_;
};

class Store {
 public:
  // synchronous: "NORMAL" (WAL-safe against process crash, the default) or "FULL".
  // The watch window keeps the last `watchWindow` events, and fewer when their JSON text
  // passes `watchWindowBytes` (large objects: 1,000 updates of a 1 MB ConfigMap must not be
  // held at once; each event also holds the parsed object, about as large again). A
  // watcher's own queue may hold twice that (a replay and as much again); past it, it is
  // closed. Together at most ~64 MiB of text, ~130 MB with the objects.
  explicit Store(const std::string& path, const std::string& synchronous = "NORMAL",
                 size_t watchWindow = 20000, size_t watchWindowBytes = 32 << 20);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int64_t revision() const;
  ObjectPtr get(const ResourceInfo& r, const std::string& ns, const std::string& name) const;
  // Objects of a kind, sorted by namespace then name; ns "" = all namespaces.
  // `rv` receives the revision the snapshot reflects.
  std::vector<ObjectPtr> list(const ResourceInfo& r, const std::string& ns, int64_t* rv = nullptr) const;

  class Txn {
   public:
    ObjectPtr get(const ResourceInfo& r, const std::string& ns, const std::string& name) const;
    std::vector<ObjectPtr> list(const ResourceInfo& r, const std::string& ns) const;
    // Writes obj (sets metadata.resourceVersion); returns the stored copy.
    ObjectPtr put(const ResourceInfo& r, Json obj);
    // The JSON text of what the last put/remove stored (what watchers and the database get).
    std::shared_ptr<const std::string> lastEncoded() const { return events_.empty() ? nullptr : events_.back().encoded; }
    // Removes the object; `last` is the final state reported in the DELETED event
    // (its resourceVersion is set to the deletion's revision).
    ObjectPtr remove(const ResourceInfo& r, Json last);
    // Named allocation pools (cluster IPs, node ports, pod IPs): unique values, in the same transaction.
    bool allocate(const std::string& pool, const std::string& value, const std::string& owner);
    void release(const std::string& pool, const std::string& value);
    std::map<std::string, std::string> allocations(const std::string& pool) const;  // value -> owner

   private:
    friend class Store;
    explicit Txn(Store& s) : s_(s) {}
    Store& s_;
    static std::string key(const ResourceInfo& r, const std::string& ns, const std::string& name);
    std::vector<StoreEvent> events_;
    std::map<std::string, ObjectPtr> overlay_;  // this txn's writes; nullptr = removed
    std::vector<std::shared_ptr<Subscription>> toWake_;  // readers with new events, woken after unlock
  };

  // Runs f inside one SQLite transaction with the single writer lock held. If f
  // throws, the transaction rolls back and nothing is visible. Events are
  // published to watchers after COMMIT, in revision order.
  template <class F>
  auto transact(F&& f) -> decltype(f(std::declval<Txn&>()));

  // Subscribes to events after revision `fromRv` (0: from now on). Throws
  // ApiError 410 when events after fromRv have left the window.
  std::shared_ptr<Subscription> watch(const ResourceInfo& r, const std::string& ns, int64_t fromRv);
  void unwatch(const std::shared_ptr<Subscription>& s);
  int64_t oldestWatchableRevision() const;

 private:
  void begin();
  void commit(Txn& t);
  void rollback();
  void exec(const char* sql);
  void load();
  sqlite3_stmt* stmt(const char* sql);

  sqlite3* db_ = nullptr;
  std::mutex writeMu_;
  std::map<std::string, sqlite3_stmt*> stmts_;
  int64_t rv_ = 0;  // last committed revision (guarded by dataMu_)
  int64_t pendingRv_ = 0;

  // In-memory copy: resource -> "ns/name" -> object.
  mutable std::shared_mutex dataMu_;
  std::map<const ResourceInfo*, std::map<std::string, ObjectPtr>> data_;

  // Watch window and subscribers.
  mutable std::mutex watchMu_;
  std::deque<StoreEvent> window_;
  size_t windowCap_, windowBytesCap_, windowBytes_ = 0;
  int64_t windowStart_ = 0;  // events with rv > windowStart_ are all in window_
  std::vector<std::shared_ptr<Subscription>> subs_;
};

template <class F>
auto Store::transact(F&& f) -> decltype(f(std::declval<Txn&>())) {
  std::unique_lock<std::mutex> l(writeMu_);
  Txn t(*this);
  begin();
  // Readers are woken after the writer lock is released: a woken reader costs the waker a
  // few microseconds that the next writer need not wait for.
  auto wakeReaders = [&] {
    l.unlock();
    for (auto& s : t.toWake_) s->wake();
  };
  try {
    if constexpr (std::is_void_v<decltype(f(t))>) {
      f(t);
      commit(t);
      wakeReaders();
    } else {
      auto r = f(t);
      commit(t);
      wakeReaders();
      return r;
    }
  } catch (...) {
    if (l.owns_lock()) rollback();
    throw;
  }
}

}  // namespace k1s
