#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "kubelet/ipam.h"

using namespace k1s;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/k1s-ipam-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("ipam: hands out host addresses, skipping network, gateway and broadcast") {
  Ipam ipam("10.244.0.0/29", "");  // .0 network, .1 bridge, .7 broadcast
  CHECK(ipam.gateway() == "10.244.0.1");
  CHECK(ipam.prefix() == 29);
  CHECK(ipam.capacity() == 5);
  std::set<std::string> got;
  for (int i = 0; i < 5; i++) got.insert(ipam.allocate("pod-" + std::to_string(i)));
  CHECK(got == std::set<std::string>{"10.244.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5", "10.244.0.6"});
  CHECK_THROWS_WITH_AS(ipam.allocate("one-too-many"), doctest::Contains("no free address"), std::runtime_error);
}

TEST_CASE("ipam: the same pod keeps its address") {
  Ipam ipam("10.244.0.0/24", "");
  auto a = ipam.allocate("a");
  ipam.allocate("b");
  CHECK(ipam.allocate("a") == a);
  REQUIRE(ipam.lookup("a"));
  CHECK(ipam.lookup("a")->ip == a);
  CHECK_FALSE(ipam.lookup("nope"));
}

TEST_CASE("ipam: a released address is not the next one handed out") {
  Ipam ipam("10.244.0.0/24", "");
  auto a = ipam.allocate("a");
  CHECK(ipam.release("a"));
  CHECK_FALSE(ipam.release("a"));
  auto b = ipam.allocate("b");
  CHECK(b != a);
  CHECK(ipam.leases().size() == 1);
}

TEST_CASE("ipam: round-robin wraps around and reuses freed addresses only when needed") {
  Ipam ipam("10.244.0.0/29", "");
  for (int i = 0; i < 5; i++) ipam.allocate("p" + std::to_string(i));  // .2 … .6
  ipam.release("p1");                                                   // frees .3
  CHECK(ipam.allocate("q") == "10.244.0.3");  // the only free one, found after wrapping
  ipam.release("p0");
  ipam.release("p4");  // frees .2 and .6; last handed out was .3
  CHECK(ipam.allocate("r") == "10.244.0.6");
  CHECK(ipam.allocate("s") == "10.244.0.2");
}

TEST_CASE("ipam: leases survive a restart through the state file") {
  TempDir d;
  std::string state = d.path + "/data/ipam.json";  // the data dir may not exist yet
  std::string a, b;
  {
    Ipam ipam("10.244.0.0/24", state);
    a = ipam.allocate("a", Json{{"veth", "k1s0v1"}});
    b = ipam.allocate("b");
    ipam.release("b");
  }
  Ipam again("10.244.0.0/24", state);
  REQUIRE(again.lookup("a"));
  CHECK(again.lookup("a")->ip == a);
  CHECK(again.lookup("a")->info["veth"] == "k1s0v1");
  CHECK_FALSE(again.lookup("b"));
  CHECK(again.allocate("a") == a);
  // The round-robin position survives too: b's address is not handed out again.
  auto c = again.allocate("c");
  CHECK(c != a);
  CHECK(c != b);
  CHECK_FALSE(std::filesystem::exists(state + ".tmp"));
}

TEST_CASE("ipam: leases outside a changed range are dropped, duplicates too") {
  TempDir d;
  std::string state = d.path + "/ipam.json";
  std::ofstream(state) << R"({"pods":{"x":{"ip":"10.1.0.5"},"y":{"ip":"10.244.0.9"},"z":{"ip":"10.244.0.9"}}})";
  Ipam ipam("10.244.0.0/24", state);
  CHECK_FALSE(ipam.lookup("x"));
  CHECK(ipam.leases().size() == 1);
  CHECK(ipam.lookup("y")->ip == "10.244.0.9");
}

TEST_CASE("ipam: bad input is refused") {
  CHECK_THROWS_AS(Ipam("10.244.0.0", ""), std::runtime_error);
  CHECK_THROWS_AS(Ipam("10.244.0.0/31", ""), std::runtime_error);
  TempDir d;
  std::string state = d.path + "/ipam.json";
  std::ofstream(state) << "{not json";
  CHECK_THROWS_WITH_AS(Ipam("10.244.0.0/24", state), doctest::Contains("corrupt state file"), std::runtime_error);
}

TEST_CASE("ipam: setInfo updates bookkeeping of an existing lease only") {
  Ipam ipam("10.244.0.0/24", "");
  ipam.allocate("a");
  CHECK(ipam.setInfo("a", Json{{"netns", "/run/k1s/netns/k1s0-a"}}));
  CHECK(ipam.lookup("a")->info["netns"] == "/run/k1s/netns/k1s0-a");
  CHECK_FALSE(ipam.setInfo("b", Json::object()));
}
