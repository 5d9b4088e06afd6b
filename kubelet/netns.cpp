#include "kubelet/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace k1s {

namespace {

std::runtime_error sysError(const std::string& what, int err = errno) {
  return std::runtime_error("netns: " + what + ": " + std::strerror(err));
}

// Runs fn on a fresh thread and waits; exceptions cross back to the caller.
void onDedicatedThread(const std::function<void()>& fn) {
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
}

// True when `dir` is the root of a mount (its own line in mountinfo).
bool isMountPoint(const std::string& dir) {
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(dir, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // fields: id parent major:minor root mountpoint ...
    size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string::npos; i++) pos = line.find(' ', pos + 1);
    if (pos == std::string::npos) continue;
    size_t end = line.find(' ', pos + 1);
    if (line.substr(pos + 1, end - pos - 1) == canon) return true;
  }
  return false;
}

}  // namespace

void prepareNetnsDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("netns: create " + dir + ": " + ec.message());
  if (!isMountPoint(dir) && ::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
    throw sysError("bind " + dir);
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) throw sysError("make-shared " + dir);
}

bool releaseNetnsDir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return true;
  if (!std::filesystem::is_empty(dir, ec)) return false;
  if (isMountPoint(dir)) ::umount2(dir.c_str(), MNT_DETACH);
  std::filesystem::remove(dir, ec);
  return true;
}

bool isNetns(const std::string& path) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == NSFS_MAGIC;
}

bool createNetns(const std::string& path) {
  if (isNetns(path)) return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) throw sysError("create " + path);
  ::close(fd);
  try {
    onDedicatedThread([&] {
      // This thread alone moves into a new namespace; the bind mount keeps the
      // namespace alive after the thread (its only member) has ended.
      if (::unshare(CLONE_NEWNET) != 0) throw sysError("unshare(CLONE_NEWNET)");
      std::string self = "/proc/self/task/" + std::to_string(::gettid()) + "/ns/net";
      if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) throw sysError("bind " + path);
    });
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  return true;
}

bool attachNetns(const std::string& path, int pid) {
  if (pid <= 0 || isNetns(path)) return false;
  std::string src = "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat theirs, ours;
  if (::stat(src.c_str(), &theirs) != 0 || ::stat("/proc/self/ns/net", &ours) != 0) return false;
  if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) throw sysError("create " + path);
  ::close(fd);
  if (::mount(src.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    if (err == ENOENT) return false;  // the process ended meanwhile
    throw sysError("bind " + src + " to " + path, err);
  }
  return true;
}

void removeNetns(const std::string& path) {
  // MNT_DETACH: an open fd elsewhere (a shim about to setns) must not make this fail.
  while (isNetns(path))
    if (::umount2(path.c_str(), MNT_DETACH) != 0) throw sysError("unmount " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw sysError("remove " + path);
}

void runInNetns(const std::string& path, const std::function<void()>& fn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw sysError("open " + path);
  try {
    onDedicatedThread([&] {
      if (::setns(fd, CLONE_NEWNET) != 0) throw sysError("setns " + path);
      fn();
    });
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace k1s
