#include "apiserver/thread_pool.h"

#include <malloc.h>

#include <cstdlib>
#include <thread>

namespace k1s {

namespace {
// glibc gives every thread that allocates an arena of its own, up to 8 per core; each
// keeps its touched pages. The daemon's threads mostly wait, and the per-thread caches
// (tcache) keep the common allocations off the arena locks: a few arenas are enough.
// Set before main() starts any thread; MALLOC_ARENA_MAX / GLIBC_TUNABLES still win.
const bool kArenasCapped = [] {
  if (std::getenv("MALLOC_ARENA_MAX") || std::getenv("GLIBC_TUNABLES")) return false;
  return mallopt(M_ARENA_MAX, 4) == 1;
}();
}  // namespace

GrowingThreadPool::GrowingThreadPool(size_t minThreads, size_t maxThreads, std::chrono::milliseconds idleExit)
    : s_(std::make_shared<State>()) {
  s_->minThreads = minThreads;
  s_->maxThreads = std::max<size_t>(1, std::max(minThreads, maxThreads));
  s_->idleExit = idleExit;
}

GrowingThreadPool::~GrowingThreadPool() { shutdown(); }

void GrowingThreadPool::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> l(s_->mu);
  s_->jobs.push_back(std::move(fn));
  // Every queued job needs a waiting worker of its own; start one when there are
  // fewer (at the cap, jobs wait for a worker to free up, as in a fixed pool).
  if (s_->jobs.size() > s_->idle && s_->threads < s_->maxThreads && !s_->shutdown) {
    ++s_->threads;
    std::thread(worker, s_).detach();
    return;
  }
  l.unlock();
  s_->work.notify_one();
}

void GrowingThreadPool::worker(std::shared_ptr<State> s) {
  std::unique_lock<std::mutex> l(s->mu);
  for (;;) {
    if (s->jobs.empty() && !s->shutdown) {
      ++s->idle;
      bool got = s->work.wait_for(l, s->idleExit, [&] { return !s->jobs.empty() || s->shutdown; });
      --s->idle;
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
  bool last = --s->threads == 0;
  if (last) s->gone.notify_all();
  bool shrinking = !s->shutdown;
  l.unlock();
  if (shrinking) malloc_trim(0);  // a burst is over: give its freed heap back
}

void GrowingThreadPool::shutdown() {
  std::unique_lock<std::mutex> l(s_->mu);
  s_->shutdown = true;
  s_->work.notify_all();
  s_->gone.wait(l, [&] { return s_->threads == 0; });
}

size_t GrowingThreadPool::threads() const {
  std::lock_guard<std::mutex> l(s_->mu);
  return s_->threads;
}

size_t GrowingThreadPool::idle() const {
  std::lock_guard<std::mutex> l(s_->mu);
  return s_->idle;
}

}  // namespace k1s
