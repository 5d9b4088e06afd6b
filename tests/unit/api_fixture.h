// Shared by the controller tests: a real in-process API (SQLite store in a
// temporary dir + registry, bootstrapped like the daemon), and a bounded poll.
#pragma once
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "apiserver/registry.h"

namespace k1s::test {

struct Api {
  std::string dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Registry> reg;
  Api() {
    char tmpl[] = "/tmp/k1s-unit-XXXXXX";
    dir = mkdtemp(tmpl);
    store = std::make_unique<Store>(dir + "/db");
    reg = std::make_unique<Registry>(*store, ClusterConfig{});
    reg->bootstrap("127.0.0.1", 6443);
  }
  ~Api() {
    reg.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

// Polls `pred` until it holds or `ms` pass; exceptions count as "not yet".
template <class F>
bool eventually(F pred, int ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    try {
      if (pred()) return true;
    } catch (const std::exception&) {
    }
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace k1s::test
