#include "apiserver/thread_pool.h"

#include <system_error>

namespace k1s {

GrowingThreadPool::GrowingThreadPool(size_t minThreads, size_t maxThreads, std::chrono::milliseconds idleExit)
    : s_(std::make_shared<State>()) {
  s_->minThreads = minThreads;
  s_->maxThreads = std::max<size_t>(1, std::max(minThreads, maxThreads));
  s_->idleExit = idleExit;
  spawner_ = std::thread(spawner, s_);  // starts the floor at once, then follows demand
}

GrowingThreadPool::~GrowingThreadPool() { shutdown(); }

void GrowingThreadPool::enqueue(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->jobs.push_back(std::move(fn));
    // Every queued job needs a waiting worker of its own; ask for one when there are
    // fewer (at the cap, jobs wait for a worker to free up, as in a fixed pool).
    if (s_->needMore()) s_->spawn.notify_one();
  }
  s_->work.notify_one();
}

void GrowingThreadPool::spawner(std::shared_ptr<State> s) {
  std::unique_lock<std::mutex> l(s->mu);
  for (;;) {
    s->spawn.wait(l, [&] { return s->shutdown || s->needMore(); });
    if (s->shutdown && (s->jobs.empty() || s->threads > 0)) return;  // the workers drain the queue
    // (shut down with jobs queued and no worker: start one to run them, then stop)
    ++s->threads;
    ++s->starting;
    s->changed.notify_all();
    l.unlock();
    try {
      std::thread(worker, s).detach();
      l.lock();
    } catch (const std::system_error&) {  // out of threads for now: the jobs wait; try again shortly
      l.lock();
      --s->threads;
      --s->starting;
      s->spawn.wait_for(l, std::chrono::milliseconds(100), [&] { return s->shutdown; });
    }
  }
}

void GrowingThreadPool::worker(std::shared_ptr<State> s) {
  std::unique_lock<std::mutex> l(s->mu);
  --s->starting;
  for (;;) {
    if (s->jobs.empty() && !s->shutdown) {
      ++s->idle;
      s->changed.notify_all();
      bool got = s->work.wait_for(l, s->idleExit, [&] { return !s->jobs.empty() || s->shutdown; });
      --s->idle;
      s->changed.notify_all();
      if (!got && s->threads > s->minThreads) break;  // idle too long: give the memory back
      if (!got) continue;
    }
    if (s->jobs.empty()) break;  // shut down and drained
    auto fn = std::move(s->jobs.front());
    s->jobs.pop_front();
    l.unlock();
    fn();
    fn = nullptr;  // whatever the job captured goes now, not when the next one comes
    l.lock();
  }
  if (--s->threads == 0) s->gone.notify_all();
  s->changed.notify_all();
}

void GrowingThreadPool::shutdown() {
  std::unique_lock<std::mutex> l(s_->mu);
  s_->shutdown = true;
  s_->work.notify_all();
  s_->spawn.notify_all();
  l.unlock();
  if (spawner_.joinable()) spawner_.join();  // no thread starts after this
  l.lock();
  s_->gone.wait(l, [&] { return s_->threads == 0; });
}

size_t GrowingThreadPool::threads() const {
  std::lock_guard<std::mutex> l(s_->mu);
  return s_->threads;
}

bool GrowingThreadPool::waitFor(const std::function<bool(size_t, size_t)>& pred,
                                std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(s_->mu);
  return s_->changed.wait_for(l, timeout, [&] { return pred(s_->threads, s_->idle); });
}

size_t GrowingThreadPool::idle() const {
  std::lock_guard<std::mutex> l(s_->mu);
  return s_->idle;
}

}  // namespace k1s
