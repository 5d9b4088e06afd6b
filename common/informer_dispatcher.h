// One thread runs every informer of the process. An informer's watch wakes the dispatcher when it
// has events (Watch::setWaker); the dispatcher then lets that informer take what is queued, apply
// it to its cache and call its handlers, and goes on to the next. Between wake-ups it sleeps until
// the earliest time an informer asked to be looked at again (a retry after an error, the watch's
// periodic bookmark). So sixteen shared informers cost one thread, not sixteen, and nothing polls.
//
// Handlers therefore run one at a time for the whole process, as they must be short anyway (they
// put keys on a work queue: controller_runner.h); a handler must never wait for another informer.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace k1s {

class Informer;

class InformerDispatcher : public std::enable_shared_from_this<InformerDispatcher> {
 public:
  using Clock = std::chrono::steady_clock;
  InformerDispatcher() = default;
  ~InformerDispatcher();
  // The informer's step() runs soon (its first list), on the dispatcher's thread.
  void add(Informer* i);
  // Returns once the informer's step() is not running and will never run again.
  void remove(Informer* i);
  // Safe from any thread, under any lock that step() does not take: the informer has events.
  void wake(Informer* i);
  // What a watch calls when it has events (holds no reference that keeps the dispatcher alive).
  std::function<void()> waker(Informer* i);

 private:
  struct Entry {
    bool ready = true;
    Clock::time_point due = Clock::time_point::max();
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::map<Informer*, Entry> entries_;
  Informer* busy_ = nullptr;  // whose step() runs now
  Informer* last_ = nullptr;  // picked last: the next pick starts after it (round robin)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace k1s
