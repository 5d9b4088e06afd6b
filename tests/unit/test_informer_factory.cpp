// Shared informers (common/informer_factory.h) against a real in-process API: consumers of
// one (resource, selector) share one informer; a late handler gets the cache replayed;
// removed handlers hear nothing more; WaitForCacheSync semantics; the last user stops it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "apiserver/registry.h"
#include "common/informer_factory.h"
#include "common/meta.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;
using test::Api;

namespace {

const ResourceInfo& cms() { return *findResource("", "configmaps"); }

Json cm(const std::string& name, const std::string& app = "a") {
  return {{"metadata", {{"name", name}, {"labels", {{"app", app}}}}}, {"data", {{"k", "v"}}}};
}

// Names a handler saw added, under a lock (handlers run on the informer's thread).
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> added;
  std::atomic<int> calls{0};
  InformerHandlers handlers() {
    return {[this](const Json& o) {
              std::lock_guard<std::mutex> l(mu);
              added.insert(nameOf(o));
              ++calls;
              cv.notify_all();
            },
            [this](const Json&, const Json&) { ++calls; }, [this](const Json&) { ++calls; }};
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return added.size();
  }
  // Waits (up to 10 s) until n names were added.
  bool awaitCount(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] { return added.size() >= n; });
  }
};

}  // namespace

TEST_CASE("consumers of one resource and selector share one informer") {
  Api api;
  Registry& reg = *api.reg;
  auto& f = reg.informers();
  InformerSet a(reg), b(reg), c(reg);
  Informer& ia = a.use(cms());
  Informer& ib = b.use(cms());
  ListOptions sel;
  sel.labelSelector = "app=b";
  Informer& ic = c.use(cms(), "", sel);
  CHECK(&ia == &ib);
  CHECK(&ia != &ic);  // another selector, another list+watch
  CHECK(f.live() == 2);
  reg.create(cms(), "default", cm("one", "a"));
  reg.create(cms(), "default", cm("two", "b"));
  REQUIRE(a.start());
  REQUIRE(b.start());  // a second start of a started informer: nothing new, synced at once
  REQUIRE(c.start());
  CHECK(ia.list().size() == 2);
  CHECK(ic.list().size() == 1);
}

TEST_CASE("a handler added after the cache filled gets the cache as adds, then changes") {
  Api api;
  Registry& reg = *api.reg;
  reg.create(cms(), "default", cm("early"));
  InformerSet first(reg);
  Informer& inf = first.use(cms());
  REQUIRE(first.start());
  Seen late;
  InformerSet second(reg);
  second.on(second.use(cms()), late.handlers());
  CHECK(late.count() == 1);  // "early", replayed synchronously
  reg.create(cms(), "default", cm("later"));
  CHECK(late.awaitCount(2));
  CHECK(inf.get("default", "later") != nullptr);
}

TEST_CASE("removed handlers are not called again; the last user's release stops the informer") {
  Api api;
  Registry& reg = *api.reg;
  Seen seen, other;
  {
    InformerSet set(reg), still(reg);
    set.on(set.use(cms()), seen.handlers());
    still.on(still.use(cms()), other.handlers());
    REQUIRE(set.start());
    REQUIRE(still.start());
    reg.create(cms(), "default", cm("x"));
    REQUIRE(seen.awaitCount(1));
    set.stop();
    int before = seen.calls;
    reg.create(cms(), "default", cm("y"));
    // The informer still runs (other users hold it) and takes the change: the other handler
    // hears of it, in the same step that would have called the removed one.
    REQUIRE(other.awaitCount(2));
    CHECK(seen.calls == before);
    CHECK(reg.informers().live() == 1);
    still.stop();
  }
  CHECK(reg.informers().live() == 0);
}

TEST_CASE("waitForSync blocks until the first list, and gives up on stop") {
  Api api;
  Registry& reg = *api.reg;
  Informer inf(reg, cms());
  CHECK_FALSE(inf.waitForSync(std::chrono::milliseconds(1)));  // not started
  inf.start();
  CHECK(inf.waitForSync(std::chrono::seconds(10)));
  Informer never(reg, cms());
  std::thread t([&] { never.stop(); });
  CHECK_FALSE(never.waitForSync(std::chrono::seconds(30)));  // returns on stop, not after 30 s
  t.join();
}
