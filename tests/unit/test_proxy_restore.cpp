// RestoreSession's batch protocol against a stand-in for iptables-restore (a
// shell script): success is the echoed marker, failure is the child's exit,
// and a failed child is replaced by a fresh one.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "netproxy/proxy_restore.h"

using namespace k1s;

namespace {

// Behaves like `iptables-restore --noflush -v` for what the session relies on:
// echoes "#" lines (and flushes), exits non-zero with a message on a bad line.
struct FakeRestore {
  std::string dir, path;
  FakeRestore() {
    char tmpl[] = "/tmp/k1s-fake-restore-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/fake-restore";
    std::ofstream(path) << "#!/bin/sh\n"
                           "while IFS= read -r line; do\n"
                           "  case \"$line\" in\n"
                           "    '#'*) echo \"$line\" ;;\n"
                           "    FAIL*) echo \"fake-restore: line failed\" >&2; exit 3 ;;\n"
                           "    WARN*) echo \"fake-restore: a warning\" ;;\n"
                           "    HANG*) exec sleep 30 ;;\n"
                           "  esac\n"
                           "done\n";
    chmod(path.c_str(), 0755);
  }
  ~FakeRestore() { std::filesystem::remove_all(dir); }
};

}  // namespace

TEST_CASE("proxy restore: one child applies batch after batch") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::Persistent);
  std::string error, output;
  REQUIRE(s.apply("*nat\n:K1S-A - [0:0]\nCOMMIT\n", &error, &output));
  pid_t first = s.childPid();
  CHECK(first > 0);
  CHECK(output.empty());
  REQUIRE(s.apply("*nat\n:K1S-B - [0:0]\nCOMMIT", &error, &output));  // no final newline
  CHECK(s.childPid() == first);
  s.close();
  CHECK(s.childPid() == -1);
}

TEST_CASE("proxy restore: a failed batch reports the child's message and the next one starts a new child") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::Persistent);
  std::string error, output;
  REQUIRE(s.apply("*nat\nCOMMIT\n", &error));
  pid_t first = s.childPid();
  CHECK_FALSE(s.apply("*nat\nFAIL here\nCOMMIT\n", &error));
  CHECK(error.find("rc=3") != std::string::npos);
  CHECK(error.find("line failed") != std::string::npos);
  CHECK(s.childPid() == -1);
  REQUIRE(s.apply("*nat\nWARN\nCOMMIT\n", &error, &output));
  CHECK(s.childPid() != first);
  CHECK(output == "fake-restore: a warning");
}

TEST_CASE("proxy restore: a batch larger than the pipe buffers does not deadlock") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::Persistent);
  std::string text = "*nat\n";
  for (int i = 0; i < 20000; ++i) text += "# echoed line " + std::to_string(i) + "\n-A K1S-X -j ACCEPT\n";
  text += "COMMIT\n";
  std::string error, output;
  REQUIRE(s.apply(text, &error, &output));
  CHECK(output.find("# echoed line 19999") != std::string::npos);
}

TEST_CASE("proxy restore: a hung child is killed after the timeout") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::Persistent);
  std::string error;
  CHECK_FALSE(s.apply("*nat\nHANG\nCOMMIT\n", &error, nullptr, std::chrono::milliseconds(200)));
  CHECK(error.find("did not finish") != std::string::npos);
  CHECK(s.childPid() == -1);
  REQUIRE(s.apply("*nat\nCOMMIT\n", &error));
}

TEST_CASE("proxy restore: one-shot mode runs a child per batch") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::OneShot);
  std::string error;
  REQUIRE(s.apply("*nat\nCOMMIT\n", &error));
  CHECK(s.childPid() == -1);
  CHECK_FALSE(s.apply("*nat\nFAIL\nCOMMIT\n", &error));
  CHECK(error.find("line failed") != std::string::npos);
}

TEST_CASE("proxy restore: a child killed between batches is replaced without failing the next batch") {
  FakeRestore fake;
  RestoreSession s({fake.path}, RestoreSession::Mode::Persistent);
  std::string error;
  REQUIRE(s.apply("*nat\nCOMMIT\n", &error));
  pid_t first = s.childPid();
  REQUIRE(kill(first, SIGKILL) == 0);
  REQUIRE(s.apply("*nat\nCOMMIT\n", &error));
  CHECK(s.childPid() != first);
  CHECK(s.childPid() > 0);
}
