// RestoreSession: the long-lived iptables-restore child and its batch protocol
// (see proxy_restore.h).
#include "netproxy/proxy_restore.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netproxy/proxy_sync.h"

extern char** environ;

namespace k1s {

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

RestoreSession::RestoreSession(std::vector<std::string> argv, Mode mode) : argv_(std::move(argv)), mode_(mode) {}

RestoreSession::~RestoreSession() { close(); }

bool RestoreSession::persistent() {
  if (mode_ == Mode::Auto) {
    std::string version;
    runCommand({argv_.at(0), "--version"}, "", &version);
    mode_ = version.find("nf_tables") != std::string::npos ? Mode::Persistent : Mode::OneShot;
  }
  return mode_ == Mode::Persistent;
}

bool RestoreSession::start(std::string* error) {
  // Writing to a child that just died must be an error return, not a kill.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  if (pipe2(out, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  // Its own process group: a Ctrl-C meant for the daemon must not kill the
  // child the daemon still needs for its clean-up on the way out.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<std::string> argv = argv_;
  argv.push_back("-v");  // echoes our "# ..." markers
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    *error = "cannot start " + argv_[0] + ": " + strerror(rc);
    return false;
  }
  // Non-blocking stdin: a large batch is written while the output is drained.
  fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
  pid_ = pid;
  in_ = in[1];
  out_ = out[0];
  return true;
}

int RestoreSession::reap() {
  if (in_ >= 0) ::close(in_);
  if (out_ >= 0) ::close(out_);
  in_ = out_ = -1;
  int status = 0;
  pid_t pid = pid_;
  pid_ = -1;
  if (pid < 0) return -1;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void RestoreSession::killChild() {
  if (pid_ > 0) kill(pid_, SIGKILL);
  reap();
}

void RestoreSession::close() {
  if (pid_ < 0) return;
  ::close(in_);  // end of file: the child finishes and exits
  in_ = -1;
  // Its exit closes our output pipe. A process forked (not exec'd) from this
  // one since the child started could still hold the child's stdin open, so
  // the child may never see the end of file: don't wait forever.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char chunk[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{out_, POLLIN, 0};
    int r = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (r < 0) continue;  // interrupted
    if (r == 0) {
      killChild();
      return;
    }
    ssize_t n = read(out_, chunk, sizeof chunk);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
  }
  reap();
}

bool RestoreSession::applyOneShot(const std::string& text, std::string* error, std::string* output) {
  std::string out;
  int rc = runCommand(argv_, text, &out);
  if (rc != 0) {
    *error = "iptables-restore failed rc=" + std::to_string(rc) + ": " + trimmed(out);
    return false;
  }
  if (output) *output = trimmed(out);
  return true;
}

bool RestoreSession::apply(const std::string& text, std::string* error, std::string* output,
                           std::chrono::milliseconds timeout) {
  if (output) output->clear();
  if (!persistent()) return applyOneShot(text, error, output);
  bool reused = pid_ >= 0;
  bool silentDeath = false;
  if (applyBatch(text, error, output, timeout, &silentDeath)) return true;
  // A child that had served earlier batches and died without a word was
  // killed from outside (a signal), not failed by this text: one retry in a
  // fresh child.
  if (reused && silentDeath) return applyBatch(text, error, output, timeout, &silentDeath);
  return false;
}

bool RestoreSession::applyBatch(const std::string& text, std::string* error, std::string* output,
                                std::chrono::milliseconds timeout, bool* silentDeath) {
  *silentDeath = false;
  if (pid_ < 0 && !start(error)) return false;
  std::string marker = "# k1s-restore-done " + std::to_string(++seq_) + "\n";
  std::string input = text;
  if (!input.empty() && input.back() != '\n') input += '\n';
  input += marker;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t off = 0;
  std::string got;
  bool writable = true;
  for (;;) {
    pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {out_, POLLIN, 0};
    if (writable && off < input.size()) fds[n++] = {in_, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      killChild();
      *error = "iptables-restore did not finish a batch within " + std::to_string(timeout.count()) + " ms" +
               (got.empty() ? "" : ": " + trimmed(got));
      return false;
    }
    int r = poll(fds, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) {
      killChild();
      *error = std::string("poll: ") + strerror(errno);
      return false;
    }
    if (r <= 0) continue;
    if (n > 1 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in_, input.data() + off, input.size() - off);
      if (w > 0) off += static_cast<size_t>(w);
      else if (w < 0 && errno != EAGAIN && errno != EINTR) writable = false;  // died: its output says why
    }
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      char chunk[4096];
      ssize_t got_n = read(out_, chunk, sizeof chunk);
      if (got_n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got_n <= 0) {
        // The child exited before echoing the marker: a line or a commit failed.
        int rc = reap();
        *silentDeath = got.empty();
        *error = "iptables-restore failed rc=" + std::to_string(rc) + ": " + trimmed(got);
        return false;
      }
      size_t from = got.size() > marker.size() ? got.size() - marker.size() : 0;
      got.append(chunk, static_cast<size_t>(got_n));
      size_t at = got.find(marker, from);
      if (at != std::string::npos) {
        got.erase(at, marker.size());
        if (output) *output = trimmed(got);
        return true;
      }
    }
  }
}

}  // namespace k1s
