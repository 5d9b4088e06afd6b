// Synchronous controller tests (DESIGN rule 2), after kubernetes/sample-controller's
// controller_test.go: a controller is built on a RecordingClient over the in-process API and
// never started; the test seeds its informers' caches (catchUp: as if the watch had delivered
// the API's current state), calls sync(key) on the test thread, and checks the writes the sync
// made. Time is a FakeClock. Nothing waits, nothing sleeps.
#pragma once
#include <doctest/doctest.h>
#include <time.h>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "apiserver/registry.h"
#include "common/clock.h"
#include "common/controller_runner.h"
#include "common/informer_factory.h"
#include "common/meta.h"
#include "controller/controller.h"
#include "tests/unit/api_fixture.h"

namespace k1s::test {

// Passes everything to the registry and records each write as "verb resource[/sub] ns/name"
// ("create pods default/web-x7k2p", "update replicasets/status default/web", "patch ...",
// "delete ..."). Events are written but not recorded: they are checked in the API.
class RecordingClient : public Client {
 public:
  explicit RecordingClient(Registry& reg) : reg_(reg) {}
  Json create(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o = {}) override {
    Json out = reg_.create(r, ns, std::move(obj), o);
    note("create", r, "", out);
    return out;
  }
  Json get(const ResourceInfo& r, const std::string& ns, const std::string& name, const std::string& sub = "") override {
    return reg_.get(r, ns, name, sub);
  }
  Json list(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) override {
    return reg_.list(r, ns, o);
  }
  Json update(const ResourceInfo& r, const std::string& ns, Json obj, const std::string& sub = "",
              const WriteOptions& o = {}) override {
    Json out = reg_.update(r, ns, std::move(obj), sub, o);
    note("update", r, sub, out);
    return out;
  }
  Json patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type, const Json& p,
             const std::string& sub = "", const WriteOptions& o = {}) override {
    Json out = reg_.patch(r, ns, name, type, p, sub, o);
    note("patch", r, sub, out);
    return out;
  }
  Json remove(const ResourceInfo& r, const std::string& ns, const std::string& name,
              const DeleteOptions& o = {}) override {
    Json out = reg_.remove(r, ns, name, o);
    note("delete", r, "", out);
    return out;
  }
  std::unique_ptr<Watch> watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) override {
    return reg_.watch(r, ns, o);
  }

  // The writes since the last take(), in order.
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> l(mu_);
    return std::exchange(actions_, {});
  }
  // How many writes since the last take() start with `prefix` ("create pods").
  size_t count(const std::string& prefix) {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (auto& a : actions_) n += a.rfind(prefix, 0) == 0;
    return n;
  }

 private:
  void note(const char* verb, const ResourceInfo& r, const std::string& sub, const Json& obj) {
    if (r.plural == "events") return;
    std::string what = std::string(verb) + " " + r.plural + (sub.empty() ? "" : "/" + sub) + " " + objectKey(obj);
    std::lock_guard<std::mutex> l(mu_);
    actions_.push_back(std::move(what));
  }
  Registry& reg_;
  std::mutex mu_;
  std::vector<std::string> actions_;
};

// Controllers on one RecordingClient and a FakeClock, never started. They share the client's
// informers, as in the daemon.
struct SyncHarness {
  Api api;
  Registry& reg = *api.reg;
  RecordingClient client{reg};
  FakeClock clock;
  std::vector<std::unique_ptr<Controller>> ctls;

  SyncHarness() = default;
  template <class Make>
  explicit SyncHarness(Make make, ControllerOptions o = {}) {
    add(make, o);
  }
  ~SyncHarness() {
    for (auto& c : ctls) c->stop();
  }
  template <class Make>
  Controller& add(Make make, ControllerOptions o = {}) {
    o.clock = &clock;
    ctls.push_back(make(client, o));
    REQUIRE(ctls.back()->runner());
    return *ctls.back();
  }

  // The first controller's runtime: sync(key) on this thread, its queue.
  ControllerRunner& runner() { return *ctls.front()->runner(); }
  void sync(const std::string& key) { runner().sync(key); }
  WorkQueue& queue() { return runner().queue(); }
  // Takes every key queued now (what the handlers asked for), without processing it.
  static std::vector<std::string> drain(WorkQueue& q) {
    std::vector<std::string> keys;
    std::string k;
    while (q.length() > 0 && q.get(k)) {
      keys.push_back(k);
      q.done(k);
    }
    return keys;
  }
  std::vector<std::string> drainQueue() { return drain(queue()); }

  // Brings the informer for (r, ns, selectors) up to the API's state, as its watch would:
  // ADDED, MODIFIED and DELETED through the handlers.
  void catchUp(const ResourceInfo& r, const std::string& ns = "", const ListOptions& sel = {}) {
    auto inf = client.informers().informer(r, ns, sel);
    ListOptions lo;
    lo.labelSelector = sel.labelSelector;
    lo.fieldSelector = sel.fieldSelector;
    auto now = reg.listShared(r, ns, lo);
    std::map<std::string, bool> live;
    for (auto& o : now.items) {
      live[namespaceOf(*o) + "/" + nameOf(*o)] = true;
      auto cached = inf->get(namespaceOf(*o), nameOf(*o));
      if (!cached) inf->inject("ADDED", *o);
      else if (metaOf(*cached).value("resourceVersion", "") != metaOf(*o).value("resourceVersion", ""))
        inf->inject("MODIFIED", *o);
    }
    for (auto& o : inf->list())
      if (!live.count(namespaceOf(*o) + "/" + nameOf(*o))) inf->inject("DELETED", *o);
  }
  // Puts one object into the informer for its resource (as a watch event would).
  void seed(const ResourceInfo& r, const Json& obj, const std::string& type = "ADDED") {
    client.informers().informer(r)->inject(type, obj);
  }

  struct Watched {
    Watched(const ResourceInfo* r, ListOptions sel = {}) : res(r), selectors(std::move(sel)) {}
    const ResourceInfo* res;
    ListOptions selectors;  // as the controller's informer has them
  };
  // What the running controllers would do, one step at a time: the informers of `watched` catch up
  // with the API, then every controller syncs each key its handlers queued (a failed sync is
  // retried next round, like the runner's back-off but without waiting); until a round
  // queues nothing. Keys queued for later (addAfter) stay waiting on the fake clock. `eachRound`
  // runs after every round (invariants that must hold at every step). Returns the rounds taken;
  // fails the test if the controllers do not settle.
  int settle(const std::vector<Watched>& watched, const std::function<void()>& eachRound = {}, int maxRounds = 200) {
    std::string lastError;
    for (int round = 1; round <= maxRounds; ++round) {
      for (auto& w : watched) catchUp(*w.res, "", w.selectors);
      bool any = false;
      for (auto& c : ctls) {
        auto& q = c->runner()->queue();
        for (auto& k : drain(q)) {
          any = true;
          try {
            c->runner()->sync(k);
          } catch (const std::exception& e) {
            lastError = k + ": " + e.what();
            q.add(k);  // after the next catch-up
          }
        }
      }
      if (eachRound) eachRound();
      if (!any) return round;
    }
    FAIL("the controllers did not settle in " << maxRounds << " rounds; last sync error: " << lastError);
    return maxRounds;
  }
};

// The fake clock's wall time as an RFC 3339 timestamp (for conditions the test writes).
inline std::string rfc3339(std::time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace k1s::test
