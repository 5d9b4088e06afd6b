// Applies iptables-restore text through one long-lived
// `iptables-restore --noflush -v` child instead of a new process per sync.
//
// Why: with the nf_tables backend a fresh process costs far more than the
// commit itself. Measured on iptables 1.8.9 / kernel 6.18 for a one-service
// change: the commit is ~0.5 ms, but exec + loading extensions take a few ms
// and closing the netlink socket at exit blocks for an RCU grace period
// (the kernel flushes its pending rule destruction on socket release,
// 15-25 ms here). A long-lived child pays neither; it still fetches a fresh
// cache (generation checked by the kernel) for every batch.
//
// How a batch's success is learnt: iptables-restore commits at every COMMIT
// line and exits with a message on the first failing line or commit. With -v
// it echoes comment lines ("# ...") to stdout and flushes, so each batch is
// followed by a unique "# k1s-restore-done N" line: seeing it echoed means
// every COMMIT before it succeeded; end of file before it means the child
// failed (its output says why) and the next batch starts a fresh child.
//
// The legacy backend keeps one process per batch (OneShot): a long-lived
// legacy iptables-restore could hold the xtables lock between batches.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace k1s {

class RestoreSession {
 public:
  enum class Mode {
    Auto,        // Persistent when `<argv0> --version` says nf_tables, else OneShot
    Persistent,  // one child fed batch after batch
    OneShot,     // a new child per batch, its stdin closed after the text
  };
  // `argv`: the restore command without -v (added in Persistent mode).
  explicit RestoreSession(std::vector<std::string> argv = {"iptables-restore", "-w", "5", "--noflush"},
                          Mode mode = Mode::Auto);
  ~RestoreSession();
  RestoreSession(const RestoreSession&) = delete;
  RestoreSession& operator=(const RestoreSession&) = delete;

  // Applies `text` (whole "*table ... COMMIT" blocks). True when all of it
  // was committed; otherwise false with the child's message in *error.
  // `output` (optional) receives anything else the child printed.
  bool apply(const std::string& text, std::string* error, std::string* output = nullptr,
             std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Ends the child (end of file on its stdin) and reaps it.
  void close();
  bool persistent();
  pid_t childPid() const { return pid_; }  // -1: none running

 private:
  bool start(std::string* error);
  // One attempt; *silentDeath: the child ended without printing anything.
  bool applyBatch(const std::string& text, std::string* error, std::string* output, std::chrono::milliseconds timeout,
                  bool* silentDeath);
  bool applyOneShot(const std::string& text, std::string* error, std::string* output);
  void killChild();
  int reap();  // waits for the child; its exit code or -1

  std::vector<std::string> argv_;
  Mode mode_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;  // the child's stdin, its stdout+stderr
  unsigned long long seq_ = 0;
};

}  // namespace k1s
