// RuleSyncer: the diff against what was last applied (proxy_rules.h) fed to
// iptables-restore --noflush, the built-in chain jumps, conntrack clean-up.
#include "netproxy/proxy_sync.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "netproxy/proxy_conntrack.h"

extern char** environ;

namespace k1s {

namespace {

// Above this many endpoints, partial syncs leave unused chains to the next
// full sync (kube-proxy's threshold for its large-cluster mode).
constexpr size_t kLargeClusterEndpoints = 1000;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::set<std::string> existingChains() {
  std::string out;
  if (runCommand({"iptables-save"}, "", &out) != 0) return {};
  return chainsInSave(out);
}

}  // namespace

int runCommand(const std::vector<std::string>& argv, const std::string& input, std::string* output) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    if (output) *output = std::string("cannot start ") + argv[0] + ": " + strerror(rc);
    return -1;
  }
  // Small inputs fit the pipe buffer: write them here and skip a thread.
  std::thread writer;
  if (input.size() <= 32768) {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(in[1], input.data() + off, input.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in[1]);
  } else {
    // Feed stdin and drain stdout together so neither side blocks on a full pipe.
    writer = std::thread([fd = in[1], &input] {
      size_t off = 0;
      while (off < input.size()) {
        ssize_t n = write(fd, input.data() + off, input.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(fd);
    });
  }
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  close(out[0]);
  if (writer.joinable()) writer.join();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(buf);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RuleSyncer::RuleSyncer(ProxyOptions o) : o_(std::move(o)), rules_(o_) {}

void RuleSyncer::learnExisting() { existing_ = existingChains(); }

void RuleSyncer::ensureJumps() {
  for (const auto& j : jumpRules()) {
    std::vector<std::string> check = {"iptables", "-w", "5", "-t", j.table, "-C", j.chain};
    check.insert(check.end(), j.args.begin(), j.args.end());
    std::string out;
    if (runCommand(check, "", &out) == 0) continue;
    std::vector<std::string> add = {"iptables", "-w", "5", "-t", j.table, "-I", j.chain};
    add.insert(add.end(), j.args.begin(), j.args.end());
    if (runCommand(add, "", &out) != 0)
      LOGE("proxy", "cannot add jump " << j.table << "/" << j.chain << ": " << trim(out));
  }
}

SyncResult RuleSyncer::sync(const std::vector<ProxyServicePort>& ports, bool forceFull) {
  SyncResult r;
  auto now = std::chrono::steady_clock::now();
  r.full = forceFull || needFull_ || now >= nextFullSync();
  size_t endpoints = 0;
  for (const auto& sp : ports) endpoints += sp.endpoints.size();
  r.plan = rules_.plan(ports, r.full, existing_, endpoints > kLargeClusterEndpoints);
  if (!r.plan.text.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out;
    int rc = runCommand({"iptables-restore", "-w", "5", "--noflush"}, r.plan.text, &out);
    r.restoreMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) {
      r.ok = false;
      r.error = "iptables-restore failed rc=" + std::to_string(rc) + ": " + trim(out);
      // What is in the kernel is unknown now: re-learn it; the retry is a full sync.
      rules_.reset();
      existing_ = existingChains();
      needFull_ = true;
      return r;
    }
  }
  rules_.commit();
  if (r.full) {
    ensureJumps();  // also repairs a jump someone deleted
    lastFull_ = now;
    needFull_ = false;
    existing_.clear();  // the leftovers are gone; from now on the committed state says what exists
  }
  if (o_.flushConntrack) {
    // After the rules: a flow deleted now is re-created through the new DNAT.
    for (const auto& del : staleUdpFlows(ports_, ports)) {
      std::vector<std::string> argv = {"conntrack"};
      argv.insert(argv.end(), del.begin(), del.end());
      std::string out;
      int rc = runCommand(argv, "", &out);
      ++r.conntrackDeletes;
      // Exit 1 with "0 flow entries have been deleted" is the common, fine case.
      if (rc != 0 && rc != 1) {
        std::string args;
        for (const auto& a : del) args += " " + a;
        LOGW("proxy", "conntrack" << args << ": rc=" << rc << " " << trim(out));
      }
    }
  }
  ports_ = ports;
  return r;
}

void RuleSyncer::cleanup() {
  for (const auto& j : jumpRules()) {
    std::vector<std::string> del = {"iptables", "-w", "5", "-t", j.table, "-D", j.chain};
    del.insert(del.end(), j.args.begin(), j.args.end());
    std::string out;
    for (int i = 0; i < 8 && runCommand(del, "", &out) == 0; ++i) {  // duplicates from older runs too
    }
  }
  auto chains = existingChains();
  std::string out;
  if (!chains.empty() && runCommand({"iptables-restore", "-w", "5", "--noflush"}, renderCleanup(chains), &out) != 0)
    LOGE("proxy", "cleanup failed: " << trim(out));
  else
    LOGI("proxy", "removed iptables chains count=" << chains.size());
  rules_.reset();
  existing_.clear();
  ports_.clear();
  needFull_ = true;
}

}  // namespace k1s
