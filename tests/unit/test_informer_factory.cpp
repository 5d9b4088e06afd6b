// Shared informers (common/informer_factory.h) against a real in-process API: consumers of
// one (resource, selector) share one informer; a late handler gets the cache replayed;
// removed handlers hear nothing more; WaitForCacheSync semantics; the last user stops it.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "apiserver/registry.h"
#include "common/informer_factory.h"
#include "common/meta.h"
#include "tests/unit/api_fixture.h"

using namespace k1s;
using test::Api;
using test::eventually;

namespace {

const ResourceInfo& cms() { return *findResource("", "configmaps"); }

Json cm(const std::string& name, const std::string& app = "a") {
  return {{"metadata", {{"name", name}, {"labels", {{"app", app}}}}}, {"data", {{"k", "v"}}}};
}

// Names a handler saw added, under a lock (handlers run on the informer's thread).
struct Seen {
  std::mutex mu;
  std::set<std::string> added;
  std::atomic<int> calls{0};
  InformerHandlers handlers() {
    return {[this](const Json& o) {
              std::lock_guard<std::mutex> l(mu);
              added.insert(nameOf(o));
              ++calls;
            },
            [this](const Json&, const Json&) { ++calls; }, [this](const Json&) { ++calls; }};
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return added.size();
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
  CHECK(eventually([&] { return late.count() == 2; }));
  CHECK(inf.get("default", "later") != nullptr);
}

TEST_CASE("removed handlers are not called again; the last user's release stops the informer") {
  Api api;
  Registry& reg = *api.reg;
  Seen seen;
  {
    InformerSet set(reg);
    set.on(set.use(cms()), seen.handlers());
    REQUIRE(set.start());
    reg.create(cms(), "default", cm("x"));
    REQUIRE(eventually([&] { return seen.count() == 1; }));
    set.stop();
    int before = seen.calls;
    reg.create(cms(), "default", cm("y"));
    // The informer still runs (the set holds it) and takes the change; the handler is gone.
    Informer& inf = set.use(cms());
    REQUIRE(eventually([&] { return inf.get("default", "y") != nullptr; }));
    CHECK(seen.calls == before);
    CHECK(reg.informers().live() == 1);
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
