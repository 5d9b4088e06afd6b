// The idle shim's memory release: the daemon's libraries' written pages go back to the kernel, and
// what the shim still does afterwards (exceptions, strings, a first call through a lazily bound
// PLT slot, file I/O) keeps working. Runs in a forked child: the release is one-way.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "kubelet/shim_memory.h"

// clang says ASan through __has_feature, GCC through __SANITIZE_ADDRESS__.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define K1S_HAS_ASAN 1
#endif
#endif
#ifndef K1S_HAS_ASAN
#define K1S_HAS_ASAN 0
#endif

namespace {

long rssKb() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string key;
  long kb = 0;
  while (f >> key) {
    if (key == "Rss:") {
      f >> kb;
      return kb;
    }
    f.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

TEST_CASE("shim: releaseIdleMemory drops the libraries' pages and the process keeps working") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    long before = rssKb();
    k1s::shim::releaseIdleMemory();
    long after = rssKb();
    bool works = false;
    try {
      throw std::runtime_error("still unwinding");
    } catch (const std::exception& e) {
      works = std::string(e.what()) == "still unwinding";
    }
    double load[1];
    works = works && getloadavg(load, 1) == 1;  // rarely called: likely a first lazy binding here
    works = works && rssKb() > 0;               // ifstream, locale, heap
    char out[64];
    int n = snprintf(out, sizeof out, "%ld %ld %d", before, after, works ? 1 : 0);
    if (write(p[1], out, size_t(n)) != n) _exit(3);
    _exit(0);  // as the shim does: the dropped libraries' destructors must not run
  }
  close(p[1]);
  char buf[64] = {};
  ssize_t got = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(got > 0);
  long before = 0, after = 0;
  int works = 0;
  REQUIRE(sscanf(buf, "%ld %ld %d", &before, &after, &works) == 3);
  CHECK(works == 1);
  // OpenSSL, SQLite, ICU, libnl, libarchive and friends: several hundred KiB of relocated data.
  // (Under ASan the process's RSS is mostly the sanitizer's shadow and allocator: not measured.)
#if !defined(__SANITIZE_ADDRESS__) && !K1S_HAS_ASAN
  CHECK(before - after >= 300);
#endif
}
