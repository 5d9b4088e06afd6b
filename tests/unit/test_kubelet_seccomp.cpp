// Seccomp: kube's choice of profile per container, and the compiled RuntimeDefault filter judged
// by the kernel in a forked child (a filter cannot be removed once loaded).
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "kubelet/caps.h"
#include "kubelet/seccomp.h"

using namespace k1s;

namespace {

Json withProfile(Json owner, const Json& profile) {
  owner["securityContext"]["seccompProfile"] = profile;
  return owner;
}

// Runs `body` in a child under the filter; the child's exit status is body's result (0..255).
int underFilter(const Json& profile, uint64_t caps, const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    try {
      SeccompFilter f(profile, caps);
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);  // so an unprivileged test run may load it too
      f.load();
      _exit(body());
    } catch (...) {
      _exit(250);
    }
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 300;
}

int errnoOf(long rc) { return rc < 0 ? errno : 0; }

uint64_t defaultCaps() { return containerCapabilities(false, {}, {}); }

}  // namespace

TEST_CASE("seccomp: the container's profile over the pod's, RuntimeDefault when neither says") {
  Json pod = Json::object(), c = Json::object();
  CHECK(containerSeccomp(pod, c, false, "/nonexistent").type == "RuntimeDefault");
  Json podUnconfined = withProfile(pod, {{"type", "Unconfined"}});
  CHECK(containerSeccomp(podUnconfined, c, false, "/nonexistent").type == "Unconfined");
  CHECK(containerSeccomp(podUnconfined, withProfile(c, {{"type", "RuntimeDefault"}}), false, "/x").type ==
        "RuntimeDefault");
  // containerd ignores seccomp for privileged containers.
  CHECK(containerSeccomp(pod, withProfile(c, {{"type", "RuntimeDefault"}}), true, "/x").type == "Unconfined");
}

TEST_CASE("seccomp: Localhost profiles come from the seccomp root; a missing one is containerd's error") {
  std::string root = std::filesystem::temp_directory_path() / ("k1s-seccomp-" + std::to_string(getpid()));
  std::filesystem::create_directories(root + "/p");
  std::ofstream(root + "/p/ok.json") << R"({"defaultAction":"SCMP_ACT_ALLOW"})";
  Json c = withProfile(Json::object(), {{"type", "Localhost"}, {"localhostProfile", "p/ok.json"}});
  SeccompChoice ch = containerSeccomp(Json::object(), c, false, root);
  CHECK(ch.type == "Localhost");
  CHECK(ch.profile == R"({"defaultAction":"SCMP_ACT_ALLOW"})");
  Json missing = withProfile(Json::object(), {{"type", "Localhost"}, {"localhostProfile", "p/no.json"}});
  try {
    containerSeccomp(Json::object(), missing, false, root);
    FAIL("no error for a missing profile");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "failed to create containerd container: cannot load seccomp profile \"" + root +
                                       "/p/no.json\": open " + root + "/p/no.json: no such file or directory");
  }
  Json escape = withProfile(Json::object(), {{"type", "Localhost"}, {"localhostProfile", "../etc/x.json"}});
  CHECK_THROWS(containerSeccomp(Json::object(), escape, false, root));
  std::filesystem::remove_all(root);
}

TEST_CASE("seccomp: RuntimeDefault refuses namespaces without CAP_SYS_ADMIN and keeps ordinary calls") {
  const Json& p = runtimeDefaultSeccompProfile();
  uint64_t caps = defaultCaps();
  CHECK(underFilter(p, caps, [] { return errnoOf(unshare(CLONE_NEWUSER)); }) == EPERM);
  CHECK(underFilter(p, caps, [] { return errnoOf(unshare(CLONE_NEWNS)); }) == EPERM);
  CHECK(underFilter(p, caps, [] { return errnoOf(syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr)); }) ==
        EPERM);
  // clone3's flags are out of seccomp's reach: ENOSYS, so libc falls back to clone(2).
  CHECK(underFilter(p, caps, [] {
          uint64_t args[11] = {};  // struct clone_args (version 2): judged before the kernel reads it
          return errnoOf(syscall(SYS_clone3, args, sizeof args));
        }) == ENOSYS);
  // clone(2) with a namespace flag is refused, a plain fork is not.
  CHECK(underFilter(p, caps, [] { return errnoOf(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)); }) ==
        EPERM);
  CHECK(underFilter(p, caps, [] {
          pid_t c = fork();
          if (c == 0) _exit(7);
          int st = 0;
          waitpid(c, &st, 0);
          return c > 0 && WEXITSTATUS(st) == 7 ? 0 : 1;
        }) == 0);
  CHECK(underFilter(p, caps, [] {
          int s = socket(AF_INET, SOCK_STREAM, 0);
          return s >= 0 && getpid() > 0 ? 0 : 1;
        }) == 0);
  CHECK(underFilter(p, caps, [] { return errnoOf(socket(AF_VSOCK, SOCK_STREAM, 0)); }) == EPERM);
  CHECK(underFilter(p, caps, [] { return errnoOf(syscall(SYS_keyctl, 0, 0, 0, 0, 0)); }) == EPERM);
  CHECK(underFilter(p, caps, [] { return errnoOf(syscall(SYS_bpf, 0, nullptr, 0)); }) == EPERM);
}

TEST_CASE("seccomp: CAP_SYS_ADMIN's rules apply when the container holds it") {
  uint64_t caps = defaultCaps() | (1ULL << capabilityFromName("SYS_ADMIN"));
  // Allowed by the filter: whatever the kernel then says, it is not the filter's EPERM for unshare of
  // the UTS namespace (root in the test may create one; it dies with the child).
  int r = underFilter(runtimeDefaultSeccompProfile(), caps, [] { return errnoOf(unshare(CLONE_NEWUTS)); });
  if (geteuid() == 0) CHECK(r == 0);
}

TEST_CASE("seccomp: profile errors and Docker's includes/excludes") {
  auto compile = [](const Json& p) { SeccompFilter f(p, 0); };
  CHECK_THROWS_WITH(compile({{"defaultAction", "SCMP_ACT_NOPE"}}), "seccomp: invalid action \"SCMP_ACT_NOPE\"");
  Json bad = {{"defaultAction", "SCMP_ACT_ALLOW"},
              {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"args", {{{"index", 0}, {"op", "X"}}}}}}}};
  CHECK_THROWS_WITH(compile(bad), "seccomp: invalid operator \"X\"");
  // Unknown syscall names are skipped, as runc does.
  Json unknown = {{"defaultAction", "SCMP_ACT_ALLOW"},
                  {"syscalls", {{{"names", {"no_such_call", "mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  CHECK(underFilter(unknown, 0, [] { return errnoOf(syscall(SYS_mkdir, "/nonexistent/x", 0700)); }) == EPERM);
  // A rule that includes a capability the container lacks is left out.
  Json inc = {{"defaultAction", "SCMP_ACT_ALLOW"},
              {"syscalls",
               {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}, {"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}}}}};
  CHECK(underFilter(inc, 0, [] { return errnoOf(syscall(SYS_mkdir, "/nonexistent/x", 0700)); }) == ENOENT);
  CHECK(underFilter(inc, 1ULL << capabilityFromName("SYS_ADMIN"),
                    [] { return errnoOf(syscall(SYS_mkdir, "/nonexistent/x", 0700)); }) == EACCES);
}
