// Helpers shared by the runtime (daemon side) and the shim: spec JSON, files, process identity.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kubelet/shim_internal.h"

namespace k1s::shim {

Json specToJson(const ContainerSpec& c) {
  Json mounts = Json::array();
  for (auto& m : c.mounts)
    mounts.push_back({{"source", m.source}, {"target", m.target}, {"type", m.type}, {"readOnly", m.readOnly}});
  return {{"id", c.id},
          {"podUid", c.podUid},
          {"podName", c.podName},
          {"podNamespace", c.podNamespace},
          {"containerName", c.containerName},
          {"lowerDirs", c.lowerDirs},
          {"args", c.args},
          {"env", c.env},
          {"workingDir", c.workingDir},
          {"uid", c.uid},
          {"gid", c.gid},
          {"hostname", c.hostname},
          {"netnsPath", c.netnsPath},
          {"ipcnsPath", c.ipcnsPath},
          {"utsnsPath", c.utsnsPath},
          {"mounts", mounts},
          {"cgroupParent", c.cgroupParent},
          {"memoryLimitBytes", c.memoryLimitBytes},
          {"cpuQuotaMicros", c.cpuQuotaMicros},
          {"cpuPeriodMicros", c.cpuPeriodMicros},
          {"cpuShares", c.cpuShares},
          {"privileged", c.privileged},
          {"noNewPrivileges", c.noNewPrivileges},
          {"readOnlyRootfs", c.readOnlyRootfs},
          {"capAdd", c.capAdd},
          {"capDrop", c.capDrop},
          {"seccompType", c.seccompType},
          {"seccompProfile", c.seccompProfile},
          {"tty", c.tty},
          {"stdinOpen", c.stdinOpen},
          {"logPath", c.logPath}};
}

ContainerSpec specFromJson(const Json& j) {
  ContainerSpec c;
  c.id = j.value("id", "");
  c.podUid = j.value("podUid", "");
  c.podName = j.value("podName", "");
  c.podNamespace = j.value("podNamespace", "");
  c.containerName = j.value("containerName", "");
  c.lowerDirs = j.value("lowerDirs", std::vector<std::string>{});
  c.args = j.value("args", std::vector<std::string>{});
  c.env = j.value("env", std::vector<std::string>{});
  c.workingDir = j.value("workingDir", "/");
  c.uid = j.value("uid", int64_t(0));
  c.gid = j.value("gid", int64_t(0));
  c.hostname = j.value("hostname", "");
  c.netnsPath = j.value("netnsPath", "");
  c.ipcnsPath = j.value("ipcnsPath", "");
  c.utsnsPath = j.value("utsnsPath", "");
  for (auto& m : j.value("mounts", Json::array()))
    c.mounts.push_back({m.value("source", ""), m.value("target", ""), m.value("type", "bind"), m.value("readOnly", false)});
  c.cgroupParent = j.value("cgroupParent", "");
  c.memoryLimitBytes = j.value("memoryLimitBytes", int64_t(0));
  c.cpuQuotaMicros = j.value("cpuQuotaMicros", int64_t(0));
  c.cpuPeriodMicros = j.value("cpuPeriodMicros", int64_t(100000));
  c.cpuShares = j.value("cpuShares", int64_t(0));
  c.privileged = j.value("privileged", false);
  c.noNewPrivileges = j.value("noNewPrivileges", false);
  c.readOnlyRootfs = j.value("readOnlyRootfs", false);
  c.capAdd = j.value("capAdd", std::vector<std::string>{});
  c.capDrop = j.value("capDrop", std::vector<std::string>{});
  // A container started before seccomp was applied has none: exec into it must not add one.
  c.seccompType = j.value("seccompType", "Unconfined");
  c.seccompProfile = j.value("seccompProfile", "");
  c.tty = j.value("tty", false);
  c.stdinOpen = j.value("stdinOpen", false);
  c.logPath = j.value("logPath", "");
  return c;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string errnoText(const std::string& what) { return what + ": " + strerror(errno); }

void writeFileAtomic(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error(errnoText("open " + tmp));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      errno = e;
      throw std::runtime_error(errnoText("write " + tmp));
    }
    off += size_t(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) < 0) throw std::runtime_error(errnoText("rename " + path));
}

bool writeSmallFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == ssize_t(data.size());
  close(fd);
  return ok;
}

void mkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && mkdir(cur.c_str(), mode) < 0 && errno != EEXIST)
      throw std::runtime_error(errnoText("mkdir " + cur));
    i = j + 1;
  }
}

void removeTree(const std::string& path) {
  if (path.empty() || path == "/") return;
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, FTW*) -> int {
        if (type == FTW_DP) rmdir(p);
        else unlink(p);
        return 0;  // keep going: remove what can be removed
      },
      64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

uint64_t procStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  auto s = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!s) return 0;
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  size_t p = s->rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s->substr(p + 2));
  std::string f;
  // Fields after ')' start at 3 (state); starttime is field 22.
  for (int i = 3; i <= 22 && (in >> f); i++)
    if (i == 22) return strtoull(f.c_str(), nullptr, 10);
  return 0;
}

bool processIs(pid_t pid, uint64_t startTime) {
  if (pid <= 0 || startTime == 0) return false;
  auto s = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!s) return false;
  size_t p = s->rfind(')');
  if (p != std::string::npos && p + 2 < s->size() && (*s)[p + 2] == 'Z') return false;  // zombie: exited
  return procStartTime(pid) == startTime;
}

std::string nowRfc3339Nano() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm u;
  gmtime_r(&ts.tv_sec, &u);
  char b[64];
  size_t n = strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &u);
  snprintf(b + n, sizeof b - n, ".%09ldZ", ts.tv_nsec);
  return b;
}

void resetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
}

std::string lookPath(const std::string& file, const std::vector<std::string>& env, std::string& err) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (file.empty()) {
    err = "exec: \"\": executable file not found in $PATH";
    return "";
  }
  if (file.find('/') != std::string::npos) {
    if (executable(file)) return file;
    err = "exec: \"" + file + "\": " + (exists(file) ? "permission denied" : "stat " + file + ": no such file or directory");
    return "";
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + file;
    if (executable(cand)) return cand;
    i = j + 1;
  }
  err = "exec: \"" + file + "\": executable file not found in $PATH";
  return "";
}

}  // namespace k1s::shim
