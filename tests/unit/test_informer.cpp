// The informer itself (common/informer.h) against a scripted Client: the test decides what each
// list returns and feeds each watch by hand, so event delivery, the resumed watch, the relist
// after 410 Expired (handlers told what changed meanwhile), the sync gate and injected changes
// are checked without a server or a timing assumption. Handlers record on the informer's
// thread; only the test thread asserts.
#include <doctest/doctest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/informer.h"
#include "common/meta.h"

using namespace k1s;
using namespace std::chrono_literals;

namespace {

const ResourceInfo& cms() { return *findResource("", "configmaps"); }

Json cm(const std::string& name, int rv, const std::string& v = "x") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", std::to_string(rv)}}},
          {"data", {{"k", v}}}};
}

// A watch the test feeds; ends when told, or when the informer interrupts it.
class ScriptedWatch : public Watch {
 public:
  bool next(WatchEvent& out, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return !q_.empty() || ended_; });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    return true;
  }
  bool done() const override {
    std::lock_guard<std::mutex> l(mu_);
    return ended_ && q_.empty();
  }
  void stop() override { end(); }
  void interrupt() override { end(); }
  // As the store's watches do: the informer dispatcher is woken, never polls.
  bool setWaker(std::function<void()> w) override {
    bool now;
    {
      std::lock_guard<std::mutex> l(mu_);
      waker_ = w;
      now = !q_.empty() || ended_;
    }
    if (now && w) w();
    return true;
  }
  void push(const std::string& type, const Json& obj) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back({type, obj});
      cv_.notify_all();
    }
    wake();
  }
  void end() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ended_ = true;
      cv_.notify_all();
    }
    wake();
  }

 private:
  void wake() {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> l(mu_);
      w = waker_;
    }
    if (w) w();
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> q_;
  bool ended_ = false;
  std::function<void()> waker_;
};

// Lists return `items` at `rv`; each watch() opens a ScriptedWatch the test can reach, or
// throws 410 Expired while `expire` is set (once).
class ScriptedClient : public Client {
 public:
  Json create(const ResourceInfo&, const std::string&, Json, const WriteOptions&) override { return unsupported(); }
  Json get(const ResourceInfo&, const std::string&, const std::string&, const std::string&) override {
    return unsupported();
  }
  Json update(const ResourceInfo&, const std::string&, Json, const std::string&, const WriteOptions&) override {
    return unsupported();
  }
  Json patch(const ResourceInfo&, const std::string&, const std::string&, PatchType, const Json&, const std::string&,
             const WriteOptions&) override {
    return unsupported();
  }
  Json remove(const ResourceInfo&, const std::string&, const std::string&, const DeleteOptions&) override {
    return unsupported();
  }
  Json list(const ResourceInfo&, const std::string&, const ListOptions&) override {
    std::lock_guard<std::mutex> l(mu_);
    ++lists;
    return {{"metadata", {{"resourceVersion", rv}}}, {"items", items}};
  }
  std::unique_ptr<Watch> watch(const ResourceInfo&, const std::string&, const ListOptions& o) override {
    std::lock_guard<std::mutex> l(mu_);
    watchFrom.push_back(o.resourceVersion);
    if (expire) {
      expire = false;
      cv_.notify_all();
      throw gone("too old resource version");
    }
    auto w = std::make_unique<ScriptedWatch>();
    current = w.get();
    ++watches;
    cv_.notify_all();
    return w;
  }
  // Waits (up to 10 s) until the informer has opened its n-th watch; returns it.
  ScriptedWatch* awaitWatch(int n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, 10s, [&] { return watches >= n; });
    return watches >= n ? current : nullptr;
  }
  void set(Json newItems, const std::string& newRv) {
    std::lock_guard<std::mutex> l(mu_);
    items = std::move(newItems);
    rv = newRv;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  Json items = Json::array();
  std::string rv = "1";
  int lists = 0, watches = 0;
  bool expire = false;
  std::vector<std::string> watchFrom;
  ScriptedWatch* current = nullptr;  // owned by the informer

 private:
  static Json unsupported() { throw std::logic_error("not used by the informer"); }
};

// What the handlers heard, in order ("add a", "update a", "delete b").
struct Heard {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> events;
  InformerHandlers handlers() {
    auto note = [this](std::string e) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(std::move(e));
      cv.notify_all();
    };
    return {[note](const Json& o) { note("add " + nameOf(o)); },
            [note](const Json& o, const Json& n) {
              note("update " + nameOf(n) + " " + metaOf(o).value("resourceVersion", "") + "->" +
                   metaOf(n).value("resourceVersion", ""));
            },
            [note](const Json& o) { note("delete " + nameOf(o)); }};
  }
  // Waits (up to 10 s) for n events in all; returns them.
  std::vector<std::string> await(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, 10s, [&] { return events.size() >= n; });
    return events;
  }
};

}  // namespace

TEST_CASE("informer: lists, then delivers watch events in order and keeps the cache") {
  ScriptedClient c;
  c.set(Json::array({cm("a", 1)}), "1");
  Informer inf(c, cms());
  Heard h;
  inf.addHandlers(h.handlers());
  inf.start();
  REQUIRE(inf.waitForSync(10s));
  CHECK(h.await(1) == std::vector<std::string>{"add a"});
  ScriptedWatch* w = c.awaitWatch(1);
  REQUIRE(w);
  w->push("ADDED", cm("b", 2));
  w->push("MODIFIED", cm("a", 3, "y"));
  w->push("DELETED", cm("b", 4));
  w->push("BOOKMARK", {{"metadata", {{"resourceVersion", "7"}}}});
  auto got = h.await(4);
  CHECK(got == std::vector<std::string>{"add a", "add b", "update a 1->3", "delete b"});
  CHECK(inf.get("default", "b") == nullptr);
  REQUIRE(inf.get("default", "a"));
  CHECK((*inf.get("default", "a"))["data"]["k"] == "y");
  // A watch that ends resumes from the last revision seen (the bookmark's), without a relist.
  w->end();
  REQUIRE(c.awaitWatch(2));
  inf.stop();
  CHECK(c.lists == 1);
  CHECK(c.watchFrom == std::vector<std::string>{"1", "7"});
}

TEST_CASE("informer: after 410 Expired it relists and tells handlers what changed meanwhile") {
  ScriptedClient c;
  c.set(Json::array({cm("a", 1), cm("b", 1)}), "1");
  Informer inf(c, cms());
  Heard h;
  inf.addHandlers(h.handlers());
  inf.start();
  REQUIRE(inf.waitForSync(10s));
  ScriptedWatch* w = c.awaitWatch(1);
  REQUIRE(w);
  // While the informer was away: a changed, b deleted, c created.
  c.set(Json::array({cm("a", 5, "y"), cm("c", 6)}), "6");
  {
    std::lock_guard<std::mutex> l(c.mu_);
    c.expire = true;  // the resumed watch's revision is too old
  }
  w->end();
  auto got = h.await(5);
  CHECK(got == std::vector<std::string>{"add a", "add b", "update a 1->5", "add c", "delete b"});
  REQUIRE(c.awaitWatch(2));  // watching again, from the new list's revision
  inf.stop();
  CHECK(c.lists == 2);
  CHECK(c.watchFrom.back() == "6");
  CHECK(inf.list().size() == 2);
}

TEST_CASE("informer: waitForSync gates on the first list; stop() gives up the wait") {
  ScriptedClient c;
  Informer never(c, cms());
  CHECK_FALSE(never.synced());
  CHECK_FALSE(never.waitForSync(1ms));  // not started, nothing listed
  Informer inf(c, cms());
  inf.start();
  CHECK(inf.waitForSync(10s));
  CHECK(inf.synced());
  inf.stop();
}

TEST_CASE("informer: injected changes reach the cache and the handlers as watch events would") {
  ScriptedClient c;  // never listed: the informer is not started
  Informer inf(c, cms());
  Heard early;
  inf.addHandlers(early.handlers());
  CHECK_FALSE(inf.synced());
  inf.inject("ADDED", cm("a", 1));
  CHECK(inf.synced());
  inf.inject("MODIFIED", cm("a", 2));
  inf.inject("ADDED", cm("b", 3));
  inf.inject("DELETED", cm("a", 4));
  CHECK(early.events == std::vector<std::string>{"add a", "update a 1->2", "add b", "delete a"});
  // A handler added later gets the cache replayed as adds.
  Heard late;
  inf.addHandlers(late.handlers());
  CHECK(late.events == std::vector<std::string>{"add b"});
  CHECK(inf.list().size() == 1);
  CHECK(c.lists == 0);
}
