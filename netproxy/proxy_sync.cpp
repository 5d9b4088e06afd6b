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

// Runs the commands at once, output discarded, and returns their exit codes
// (-1: could not start or killed). Each nf_tables client's exit waits for the
// kernel's RCU clean-up of earlier commits, so overlapping them saves most of
// the time a series of read-only checks would take.
std::vector<int> runConcurrently(const std::vector<std::vector<std::string>>& commands) {
  std::vector<pid_t> pids;
  for (const auto& argv : commands) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    if (pid < 0) {
      codes.push_back(-1);
      continue;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return codes;
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
  auto jumps = jumpRules();
  std::vector<std::vector<std::string>> checks;
  for (const auto& j : jumps) {
    checks.push_back({"iptables", "-w", "5", "-t", j.table, "-C", j.chain});
    checks.back().insert(checks.back().end(), j.args.begin(), j.args.end());
  }
  auto present = runConcurrently(checks);
  // Inserted one by one, in order: each goes to the top of its chain.
  for (size_t i = 0; i < jumps.size(); ++i) {
    if (present[i] == 0) continue;
    const auto& j = jumps[i];
    std::string out;
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
    // Partial syncs go through the long-lived child (no exec, no exit wait).
    // Full syncs and clean-up, rare and large, run in a process of their own:
    // there exec is noise, and a huge batch in the long-lived child was seen
    // slower than in a fresh process (a 5,000-service clean-up passed 120 s).
    bool applied = r.full ? oneShot_.apply(r.plan.text, &r.error, &out) : restore_.apply(r.plan.text, &r.error, &out);
    r.restoreMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!out.empty()) LOGW("proxy", "iptables-restore said: " << out);
    if (!applied) {
      r.ok = false;
      // What is in the kernel is unknown now: re-learn it; the retry is a full sync.
      rules_.reset();
      existing_ = existingChains();
      needFull_ = true;
      return r;
    }
  }
  rules_.commit();
  if (r.full) {
    auto t0 = std::chrono::steady_clock::now();
    ensureJumps();  // also repairs a jump someone deleted
    r.jumpsMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    lastFull_ = now;
    needFull_ = false;
    existing_.clear();  // the leftovers are gone; from now on the committed state says what exists
  }
  if (o_.flushConntrack) {
    // After the rules: a flow deleted now is re-created through the new DNAT.
    for (const auto& del : staleUdpFlows(ports_, ports, o_)) {
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
  std::string error;
  if (!chains.empty() && !oneShot_.apply(renderCleanup(chains), &error))
    LOGE("proxy", "cleanup failed: " << error);
  else
    LOGI("proxy", "removed iptables chains count=" << chains.size());
  restore_.close();  // a later sync starts a new child
  rules_.reset();
  existing_.clear();
  ports_.clear();
  needFull_ = true;
}

}  // namespace k1s
