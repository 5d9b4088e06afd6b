#include "common/informer.h"

#include <pthread.h>

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
  std::call_once(started_, [this] { thread_ = std::thread([this] { run(); }); });
}

void Informer::stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> l(watchMu_);
    if (watch_) watch_->interrupt();  // wake run() from its blocking wait
  }
  {
    std::lock_guard<std::mutex> l(syncMu_);
    syncCv_.notify_all();  // waitForSync gives up
  }
  if (thread_.joinable()) thread_.join();
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

// How long one wait on the watch lasts. Events, the watch's end and stop() (which interrupts
// the watch) all wake it at once; the length only bounds a lost wake-up.
constexpr std::chrono::milliseconds kWatchWait{60000};

void Informer::run() {
  pthread_setname_np(pthread_self(), "informer");  // counted by bench/idle.sh
  int backoff = 0;
  while (!stop_) {
    try {
      relist();
      ListOptions wo = sel_;
      wo.resourceVersion = rv_;
      wo.allowWatchBookmarks = true;
      wo.timeoutSeconds = 300 + rand() % 300;
      setWatch(client_.watch(res_, ns_, wo));
      backoff = 0;
      std::string type;
      CachedObject obj;
      while (!stop_) {
        if (watch_->nextShared(type, obj, kWatchWait)) {
          apply(type, std::move(obj));
        } else if (watch_->done()) {
          break;
        }
      }
      // A watch that ended on its own resumes from the last revision seen.
      while (!stop_) {
        wo.resourceVersion = rv_;
        setWatch(client_.watch(res_, ns_, wo));
        bool ended = false;
        while (!stop_ && !ended) {
          if (watch_->nextShared(type, obj, kWatchWait)) {
            apply(type, std::move(obj));
          } else {
            ended = watch_->done();
          }
        }
      }
    } catch (ApiError& e) {
      if (e.code != 410) LOGW("informer", "watch failed resource=" << res_.groupResource() << " err=" << e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(backoff++, 6))));
    } catch (std::exception& e) {
      LOGW("informer", "list failed resource=" << res_.groupResource() << " err=" << e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(backoff++, 6))));
    }
  }
  if (watch_) watch_->stop();
}

void Informer::setWatch(std::unique_ptr<Watch> w) {
  std::lock_guard<std::mutex> l(watchMu_);
  watch_ = std::move(w);
  // stop() may have run between our last look at stop_ and now: it found no watch to interrupt.
  if (stop_) watch_->interrupt();
}

}  // namespace k1s
