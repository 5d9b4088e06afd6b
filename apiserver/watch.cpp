#include "apiserver/watch.h"

#include <deque>

#include "common/errors.h"
#include "common/meta.h"
#include "common/selector.h"

namespace k1s {
namespace {

using Clock = std::chrono::steady_clock;

class StoreWatch : public StoreWatchStream {
 public:
  StoreWatch(Store& store, const ResourceInfo& r, const std::string& ns, const ListOptions& o)
      : store_(store), res_(r), labels_(LabelSelector::parse(o.labelSelector)),
        fields_(FieldSelector::parse(o.fieldSelector, r.kind)), bookmarks_(o.allowWatchBookmarks) {
    int64_t from = 0;
    if (!o.resourceVersion.empty() && o.resourceVersion != "0") {
      try {
        from = std::stoll(o.resourceVersion);
      } catch (...) {
        throw badRequest("invalid resource version \"" + o.resourceVersion + "\"");
      }
    }
    if (from > 0) {
      sub_ = store_.watch(r, ns, from);
      lastRv_ = from;
    } else {
      // No resourceVersion: the current state as ADDED events, then changes.
      // Subscribing first and listing second could repeat an event; listing
      // at a revision and subscribing from it cannot.
      int64_t rv = 0;
      auto objs = store_.list(r, ns, &rv);
      sub_ = store_.watch(r, ns, rv);
      for (auto& obj : objs)
        if (matches(*obj)) initial_.push_back({"ADDED", obj, nullptr});
      lastRv_ = rv;
    }
    if (o.timeoutSeconds > 0) deadline_ = Clock::now() + std::chrono::seconds(o.timeoutSeconds);
    nextBookmark_ = Clock::now() + std::chrono::seconds(30);
  }
  ~StoreWatch() override { stop(); }

  bool next(WatchEvent& out, std::chrono::milliseconds timeout) override {
    Event e;
    if (!nextShared(e, timeout)) return false;
    out.type = e.type;
    out.object = *e.object;
    return true;
  }

  bool nextShared(std::string& type, std::shared_ptr<const Json>& object, std::chrono::milliseconds timeout) override {
    Event e;
    if (!nextShared(e, timeout)) return false;
    type = std::move(e.type);
    object = std::move(e.object);
    return true;
  }

  bool nextShared(Event& out, std::chrono::milliseconds timeout) override {
    if (!initial_.empty()) {
      out = std::move(initial_.front());
      initial_.pop_front();
      return true;
    }
    auto until = Clock::now() + timeout;
    while (!done()) {
      auto now = Clock::now();
      if (deadline_ && now >= *deadline_) {
        stop();
        return false;
      }
      if (bookmarks_ && now >= nextBookmark_) {
        nextBookmark_ = now + std::chrono::seconds(30);
        out = {"BOOKMARK",
               std::make_shared<const Json>(Json{{"kind", res_.kind},
                                                 {"apiVersion", res_.apiVersion()},
                                                 {"metadata", {{"resourceVersion", std::to_string(lastRv_)}}}}),
               nullptr};
        return true;
      }
      // Past the caller's timeout (or with none) an event already queued is still taken.
      bool last = now >= until;
      Clock::duration wait{0};
      if (!last) {  // until the caller's timeout, the next bookmark or the deadline; events wake it
        wait = until - now;
        if (bookmarks_) wait = std::min<Clock::duration>(wait, nextBookmark_ - now);
        if (deadline_) wait = std::min<Clock::duration>(wait, *deadline_ - now);
      }
      StoreEvent e;
      // Rounded up: a wait truncated to 0 ms would spin on pop() for the last millisecond
      // before the caller's timeout (every informer, every 200 ms).
      if (!sub_->pop(e, std::chrono::ceil<std::chrono::milliseconds>(wait))) {
        if (sub_->closed()) stop();
        if (last) return false;
        continue;
      }
      lastRv_ = e.rv;
      bool nowIn = matches(*e.object);
      bool before = e.prev && matches(*e.prev);
      std::string type;
      if (e.type == "DELETED") {
        if (!before && !nowIn) continue;
        type = "DELETED";
      } else if (nowIn && before) {
        type = "MODIFIED";
      } else if (nowIn) {
        type = "ADDED";
      } else if (before) {
        type = "DELETED";  // left the selector
      } else {
        continue;
      }
      out = {type, e.object, e.encoded};
      return true;
    }
    return false;
  }

  bool done() const override { return stopped_ && initial_.empty(); }

  void stop() override {
    if (!stopped_ && sub_) store_.unwatch(sub_);
    stopped_ = true;
  }

  // Closing the subscription is thread-safe and wakes the reader's pop(); the reader then stops.
  void interrupt() override {
    if (sub_) sub_->close();
  }

  // The initial ADDED events are queued here, not in the subscription: they wake the reader too.
  bool setWaker(std::function<void()> wake) override {
    if (!sub_) return false;
    sub_->setWaker(wake);
    if (!initial_.empty() && wake) wake();
    return true;
  }

 private:
  bool matches(const Json& o) const {
    return (labels_.empty() || labels_.matches(labelsOf(o))) && (fields_.empty() || fields_.matches(o));
  }

  Store& store_;
  const ResourceInfo& res_;
  LabelSelector labels_;
  FieldSelector fields_;
  bool bookmarks_;
  std::shared_ptr<Subscription> sub_;
  std::deque<Event> initial_;
  int64_t lastRv_ = 0;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point nextBookmark_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Watch> makeWatch(Store& store, const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  return std::make_unique<StoreWatch>(store, r, ns, o);
}

}  // namespace k1s
