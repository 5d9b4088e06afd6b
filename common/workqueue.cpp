#include "common/workqueue.h"

namespace k1s {

void WorkQueue::addLocked(const std::string& key) {
  if (shutdown_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // done() re-queues it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  std::lock_guard<std::mutex> l(mu_);
  if (shutdown_) return;
  auto at = clock_.now() + delay;
  if (auto it = waitingAt_.find(key); it != waitingAt_.end()) {
    if (it->second <= at) return;
    for (auto w = waiting_.lower_bound(it->second); w != waiting_.end() && w->first == it->second; ++w)
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
  }
  waiting_.emplace(at, key);
  waitingAt_[key] = at;
  cv_.notify_all();
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::chrono::milliseconds d;
  {
    std::lock_guard<std::mutex> l(mu_);
    int n = failures_[key]++;
    d = base_ * (1LL << std::min(n, 30));
    if (d > max_) d = max_;
  }
  addAfter(key, d);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  failures_.erase(key);
}

int WorkQueue::retries(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promoteDueLocked() {
  auto now = clock_.now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    auto key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waitingAt_.erase(key);
    addLocked(key);
  }
}

bool WorkQueue::get(std::string& key) {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    promoteDueLocked();
    if (!queue_.empty()) break;
    if (shutdown_) return false;
    if (waiting_.empty()) cv_.wait(l);
    else clock_.waitUntil(cv_, l, waiting_.begin()->first);
  }
  takeLocked(key);
  return true;
}

bool WorkQueue::tryGet(std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  promoteDueLocked();
  if (queue_.empty() || shutdown_) return false;
  takeLocked(key);
  return true;
}

void WorkQueue::takeLocked(std::string& key) {
  key = queue_.front();
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutdown() {
  std::lock_guard<std::mutex> l(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::length() {
  std::lock_guard<std::mutex> l(mu_);
  promoteDueLocked();
  return queue_.size();
}

size_t WorkQueue::waiting() {
  std::lock_guard<std::mutex> l(mu_);
  promoteDueLocked();
  return waiting_.size();
}

}  // namespace k1s
