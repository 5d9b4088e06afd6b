// Flags of `k1s server`: the SQLite synchronous mode (--sync).
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "cli/server_flags.h"

using namespace k1s;

static ServerFlags parse(std::vector<std::string> args) {
  args.insert(args.begin(), "server");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parseServerFlags(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("server flags: --sync defaults to NORMAL and takes normal or full") {
  CHECK(parse({}).sync == "NORMAL");
  CHECK(parse({"--sync=full"}).sync == "FULL");
  CHECK(parse({"--sync", "full"}).sync == "FULL");
  CHECK(parse({"--sync=full", "--sync=normal"}).sync == "NORMAL");
}

TEST_CASE("server flags: a bad --sync value is one line naming the flag and the choices") {
  CHECK_THROWS_WITH_AS(parse({"--sync=FULL;DROP"}),
                       "invalid value \"FULL;DROP\" for flag --sync: must be normal or full", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse({"--sync=off"}), "invalid value \"off\" for flag --sync: must be normal or full",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse({"--sync"}), "flag needs an argument: --sync", std::invalid_argument);
}
