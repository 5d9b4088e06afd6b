#include "common/informer_dispatcher.h"

#include <pthread.h>

#include "common/informer.h"
#include "common/log.h"

namespace k1s {

InformerDispatcher::~InformerDispatcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();  // the last informer let go in a handler
  else thread_.join();
}

void InformerDispatcher::add(Informer* i) {
  std::lock_guard<std::mutex> l(mu_);
  entries_[i] = Entry{};
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_all();
}

void InformerDispatcher::remove(Informer* i) {
  std::unique_lock<std::mutex> l(mu_);
  entries_.erase(i);
  // From a handler (the dispatcher's own thread) the informer's step() is up the stack: it sees
  // its stop flag when the handler returns.
  if (thread_.get_id() == std::this_thread::get_id()) return;
  idle_.wait(l, [&] { return busy_ != i; });
}

void InformerDispatcher::wake(Informer* i) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(i);
    if (it == entries_.end() || it->second.ready) return;
    it->second.ready = true;
  }
  cv_.notify_all();
}

std::function<void()> InformerDispatcher::waker(Informer* i) {
  return [d = weak_from_this(), i] {
    if (auto p = d.lock()) p->wake(i);
  };
}

void InformerDispatcher::run() {
  pthread_setname_np(pthread_self(), "informers");  // counted by bench/idle.sh
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    // The first informer after the last one picked that is ready or due; else sleep until the
    // earliest due time or a wake-up.
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    Informer* pick = nullptr;
    auto from = entries_.upper_bound(last_);
    for (size_t n = 0; n < entries_.size() && !pick; ++n, ++from) {
      if (from == entries_.end()) from = entries_.begin();
      if (from->second.ready || from->second.due <= now) pick = from->first;
      else next = std::min(next, from->second.due);
    }
    if (!pick) {
      if (next == Clock::time_point::max()) cv_.wait(l);
      else cv_.wait_until(l, next);
      continue;
    }
    auto& e = entries_[pick];
    e.ready = false;
    e.due = Clock::time_point::max();
    busy_ = last_ = pick;
    l.unlock();
    Clock::time_point due;
    try {
      due = pick->step();
    } catch (std::exception& ex) {  // step() handles the API's errors; anything else: try again later
      LOGW("informers", "informer step failed err=" << ex.what());
      due = Clock::now() + std::chrono::seconds(1);
    }
    l.lock();
    busy_ = nullptr;
    auto it = entries_.find(pick);
    if (it != entries_.end()) it->second.due = std::min(it->second.due, due);
    idle_.notify_all();
  }
}

}  // namespace k1s
