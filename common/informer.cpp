#include "common/informer.h"

#include "common/informer_factory.h"

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"

namespace k1s {

std::string objectKey(const Json& obj) {
  auto ns = namespaceOf(obj);
  return ns.empty() ? nameOf(obj) : ns + "/" + nameOf(obj);
}

void splitKey(const std::string& key, std::string& ns, std::string& name) {
  auto slash = key.find('/');
  if (slash == std::string::npos) {
    ns.clear();
    name = key;
  } else {
    ns = key.substr(0, slash);
    name = key.substr(slash + 1);
  }
}

Informer::Informer(Client& client, const ResourceInfo& res, std::string ns, ListOptions selectors)
    : client_(client), res_(res), ns_(std::move(ns)), sel_(std::move(selectors)) {}

Informer::~Informer() { stop(); }

Informer::HandlerId Informer::addHandlers(InformerHandlers h) {
  std::lock_guard<std::mutex> l(handlersMu_);
  if (synced_ && h.onAdd)
    for (auto& o : list()) h.onAdd(*o);
  HandlerId id = nextHandler_++;
  handlers_.emplace_back(id, std::move(h));
  return id;
}

void Informer::removeHandlers(HandlerId id) {
  std::lock_guard<std::mutex> l(handlersMu_);
  std::erase_if(handlers_, [id](auto& h) { return h.first == id; });
}

void Informer::start() {
  std::call_once(started_, [this] {
    dispatcher_ = client_.informers().dispatcher();
    dispatcher_->add(this);
  });
}

void Informer::stop() {
  stop_ = true;
  if (dispatcher_) dispatcher_->remove(this);  // step() is not running, and will not again
  if (watch_) watch_->stop();
  {
    std::lock_guard<std::mutex> l(syncMu_);
    syncCv_.notify_all();  // waitForSync gives up
  }
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(syncMu_);
  syncCv_.wait_for(l, timeout, [&] { return synced_ || stop_; });
  return synced_;
}

CachedObject Informer::get(const std::string& ns, const std::string& name) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = cache_.find(ns + "/" + name);
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<CachedObject> Informer::list(const std::string& ns) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<CachedObject> out;
  for (auto& [k, v] : cache_)
    if (ns.empty() || k.compare(0, ns.size() + 1, ns + "/") == 0) out.push_back(v);
  return out;
}

// Lists and replaces the cache, telling handlers what changed since the last view.
void Informer::relist() {
  auto l = client_.listShared(res_, ns_, sel_);  // shared objects, not copies
  std::map<std::string, CachedObject> fresh;
  for (auto& o : l.items) fresh[namespaceOf(*o) + "/" + nameOf(*o)] = o;
  std::map<std::string, CachedObject> old;
  std::lock_guard<std::mutex> hl(handlersMu_);
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    old.swap(cache_);
    cache_ = fresh;
    rv_ = l.resourceVersion;
  }
  for (auto& [k, o] : fresh) {
    auto it = old.find(k);
    for (auto& [id, h] : handlers_) {
      if (it == old.end()) {
        if (h.onAdd) h.onAdd(*o);
      } else if (h.onUpdate) {
        h.onUpdate(*it->second, *o);
      }
    }
  }
  for (auto& [k, o] : old)
    if (!fresh.count(k))
      for (auto& [id, h] : handlers_)
        if (h.onDelete) h.onDelete(*o);
  if (!synced_) {
    std::lock_guard<std::mutex> l(syncMu_);
    synced_ = true;
    syncCv_.notify_all();
  }
}

void Informer::apply(const std::string& type, CachedObject obj) {
  if (type == "BOOKMARK") {
    std::unique_lock<std::shared_mutex> lk(mu_);
    rv_ = metaOf(*obj).value("resourceVersion", rv_);
    return;
  }
  std::string k = namespaceOf(*obj) + "/" + nameOf(*obj);
  CachedObject prev;
  std::lock_guard<std::mutex> hl(handlersMu_);
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    auto it = cache_.find(k);
    if (it != cache_.end()) prev = it->second;
    if (type == "DELETED") cache_.erase(k);
    else cache_[k] = obj;
    rv_ = metaOf(*obj).value("resourceVersion", rv_);
  }
  for (auto& [id, h] : handlers_) {
    if (type == "DELETED") {
      if (h.onDelete) h.onDelete(*obj);
    } else if (prev) {
      if (h.onUpdate) h.onUpdate(*prev, *obj);
    } else if (h.onAdd) {
      h.onAdd(*obj);
    }
  }
}

void Informer::inject(const std::string& type, const Json& obj) {
  apply(type, std::make_shared<const Json>(obj));
  if (!synced_) {
    std::lock_guard<std::mutex> l(syncMu_);
    synced_ = true;
    syncCv_.notify_all();
  }
}

// Events taken in one step before the dispatcher moves on to the next informer (fairness).
constexpr int kBatch = 256;
// When an idle watch is looked at anyway: it then sends a bookmark (keeping the revision this
// informer resumes from inside the API server's window) and notices its own timeout.
constexpr std::chrono::seconds kIdleLook{30};

InformerDispatcher::Clock::time_point Informer::step() {
  using Clock = InformerDispatcher::Clock;
  if (stop_) return Clock::time_point::max();
  try {
    if (!watch_) {  // first, or after an error: list, then watch from the list's revision
      relist();
      openWatch();
      backoff_ = 0;
    }
    std::string type;
    CachedObject obj;
    for (int n = 0; n < kBatch; ++n) {
      if (stop_) return Clock::time_point::max();
      if (!watch_->nextShared(type, obj, std::chrono::milliseconds(0))) {
        // A watch that ended on its own (its timeout) resumes from the last revision seen; one
        // whose revision fell out of the window throws 410 below and lists again.
        if (watch_->done()) {
          if (stop_) return Clock::time_point::max();  // stopped by one of its own handlers
          openWatch();
        } else {
          return Clock::now() + (watchWakes_ ? std::chrono::milliseconds(kIdleLook) : std::chrono::milliseconds(100));
        }
        continue;
      }
      apply(type, std::move(obj));
    }
    return Clock::now();  // more may be queued: come back after the others had their turn
  } catch (ApiError& e) {
    if (e.code != 410) LOGW("informer", "watch failed resource=" << res_.groupResource() << " err=" << e.what());
  } catch (std::exception& e) {
    LOGW("informer", "list failed resource=" << res_.groupResource() << " err=" << e.what());
  }
  watch_.reset();  // list again, after a pause that grows with repeated failures
  return Clock::now() + std::chrono::milliseconds(std::min(1000, 10 << std::min(backoff_++, 6)));
}

void Informer::openWatch() {
  ListOptions wo = sel_;
  wo.resourceVersion = rv_;
  wo.allowWatchBookmarks = true;
  wo.timeoutSeconds = 300 + rand() % 300;
  watch_.reset();  // the old subscription goes before the new one is made
  watch_ = client_.watch(res_, ns_, wo);
  watchWakes_ = watch_->setWaker(dispatcher_->waker(this));
}

}  // namespace k1s
