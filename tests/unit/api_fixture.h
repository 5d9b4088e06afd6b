// Shared by the API-backed tests: a real in-process API (SQLite store in a temporary dir +
// registry, bootstrapped like the daemon). Tests never poll it on a timer: controllers run
// synchronously (controller_fixture.h), and other components are awaited through their
// informers' events.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

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

}  // namespace k1s::test
