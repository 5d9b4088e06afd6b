// Mount sequence of a container's init. Everything here happens in the container's private mount
// namespace, so nothing is ever visible on the host and nothing needs unmounting afterwards: the
// namespace (and the overlay with it) goes away when the container's last process exits.
#include "kubelet/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "kubelet/shim_internal.h"

namespace k1s {

const char* const kMaskedPaths[] = {"/proc/asound",     "/proc/acpi",         "/proc/kcore",  "/proc/keys",
                                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                    "/proc/sched_debug", "/proc/scsi",        "/sys/firmware",
                                    "/sys/devices/virtual/powercap", nullptr};
const char* const kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", nullptr};

namespace {

constexpr const char* kOldRoot = "/.k1s-oldroot";

void doMount(const std::string& src, const std::string& dst, const char* type, unsigned long flags,
             const std::string& data = "") {
  if (mount(src.empty() ? nullptr : src.c_str(), dst.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) < 0)
    throw std::runtime_error(shim::errnoText("mount " + (src.empty() ? std::string(type ? type : "") : src) + " on " + dst));
}

void mountOverlay(const ContainerSpec& c, const std::string& stateDir, const std::string& rootfs) {
  if (c.lowerDirs.empty()) throw std::runtime_error("no image layers for the root file system");
  std::string lower;
  // overlayfs lists the top layer first; the spec lists the lowest first.
  for (auto it = c.lowerDirs.rbegin(); it != c.lowerDirs.rend(); ++it) {
    if (it->find_first_of(":,") != std::string::npos) throw std::runtime_error("layer path contains ':' or ',': " + *it);
    lower += (lower.empty() ? "" : ":") + *it;
  }
  shim::mkdirAll(stateDir + "/upper");
  shim::mkdirAll(stateDir + "/work");
  shim::mkdirAll(rootfs);
  std::string opts = "lowerdir=" + lower + ",upperdir=" + stateDir + "/upper,workdir=" + stateDir + "/work";
  if (opts.size() >= 4000) throw std::runtime_error("overlay options exceed one page (too many or too long layer paths)");
  // volatile: no sync of the upper file system, above all the journal commit and disk flush a
  // writable overlay otherwise forces when its last mount goes at the container's exit. The upper
  // dir is this container instance's alone and is deleted with it, so nothing needs to survive a
  // host crash (a restarted container is a new instance with a new upper dir). Kernels before
  // 5.10 do not know the option.
  if (mount("overlay", rootfs.c_str(), "overlay", 0, (opts + ",volatile").c_str()) == 0) return;
  doMount("overlay", rootfs, "overlay", 0, opts);
}

void pivotInto(const std::string& rootfs) {
  std::string old = rootfs + kOldRoot;
  if (mkdir(old.c_str(), 0700) < 0 && errno != EEXIST) throw std::runtime_error(shim::errnoText("mkdir " + old));
  if (syscall(SYS_pivot_root, rootfs.c_str(), old.c_str()) < 0) throw std::runtime_error(shim::errnoText("pivot_root"));
  if (chdir("/") < 0) throw std::runtime_error(shim::errnoText("chdir /"));
}

void dropOldRoot() {
  // Make the old root private first so the detach never propagates to the host's mounts.
  mount(nullptr, kOldRoot, nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (umount2(kOldRoot, MNT_DETACH) < 0) throw std::runtime_error(shim::errnoText("umount old root"));
  rmdir(kOldRoot);
}

void ensureFile(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash > 0) shim::mkdirAll(path.substr(0, slash));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  struct stat st;
  if (fd < 0 && errno == ENOENT && lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // A dangling symlink in the image (e.g. /etc/resolv.conf → /run/...): the volume replaces it.
    unlink(path.c_str());
    fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  }
  if (fd < 0 && errno != EISDIR) throw std::runtime_error(shim::errnoText("create mount point " + path));
  if (fd >= 0) close(fd);
}

void mountDev() {
  shim::mkdirAll("/dev");
  doMount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  struct Node {
    const char* name;
    unsigned maj, min;
  };
  for (Node n : {Node{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}) {
    std::string p = std::string("/dev/") + n.name;
    if (mknod(p.c_str(), S_IFCHR | 0666, makedev(n.maj, n.min)) < 0)
      throw std::runtime_error(shim::errnoText("mknod " + p));
    chmod(p.c_str(), 0666);  // mknod applies the umask
  }
  shim::mkdirAll("/dev/pts");
  doMount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  symlink("pts/ptmx", "/dev/ptmx");
  shim::mkdirAll("/dev/shm");
  doMount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  shim::mkdirAll("/dev/mqueue");
  mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);  // best effort
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
  symlink("/proc/kcore", "/dev/core");
}

void mountSys(bool privileged) {
  shim::mkdirAll("/sys");
  unsigned long ro = privileged ? 0 : MS_RDONLY;
  if (mount("sysfs", "/sys", "sysfs", ro | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) return;
  // sysfs can be refused (e.g. sharing the host network namespace from a user namespace): bind the host's.
  doMount(std::string(kOldRoot) + "/sys", "/sys", nullptr, MS_BIND | MS_REC);
  if (!privileged) doMount("", "/sys", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

void mountVolume(const Mount& m) {
  if (m.target.empty() || m.target[0] != '/') throw std::runtime_error("mount target must be absolute: " + m.target);
  if (m.type == "tmpfs") {
    shim::mkdirAll(m.target);
    doMount("tmpfs", m.target, "tmpfs", MS_NOSUID | MS_NODEV | (m.readOnly ? MS_RDONLY : 0), "mode=1777");
    return;
  }
  std::string src = std::string(kOldRoot) + (m.source.empty() || m.source[0] != '/' ? "/" : "") + m.source;
  struct stat st;
  if (stat(src.c_str(), &st) < 0) throw std::runtime_error(shim::errnoText("mount source " + m.source));
  // The target is resolved inside the new root, so a symlink in the image cannot point it at the host.
  if (S_ISDIR(st.st_mode)) shim::mkdirAll(m.target);
  else ensureFile(m.target);
  doMount(src, m.target, nullptr, MS_BIND | MS_REC);
  if (m.readOnly) doMount("", m.target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY);
}

void maskPaths() {
  for (int i = 0; kMaskedPaths[i]; i++) {
    struct stat st;
    if (stat(kMaskedPaths[i], &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) doMount("tmpfs", kMaskedPaths[i], "tmpfs", MS_RDONLY, "size=0");
    else doMount("/dev/null", kMaskedPaths[i], nullptr, MS_BIND);
  }
  for (int i = 0; kReadonlyPaths[i]; i++) {
    if (!shim::exists(kReadonlyPaths[i])) continue;
    doMount(kReadonlyPaths[i], kReadonlyPaths[i], nullptr, MS_BIND | MS_REC);
    doMount("", kReadonlyPaths[i], nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }
}

}  // namespace

void setupRootfs(const ContainerSpec& c, const std::string& stateDir) {
  // Our mounts must never propagate back to the host; the host's later unmounts may reach us.
  doMount("", "/", nullptr, MS_REC | MS_SLAVE);
  std::string rootfs = stateDir + "/rootfs";
  mountOverlay(c, stateDir, rootfs);
  pivotInto(rootfs);
  shim::mkdirAll("/proc");
  doMount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mountDev();
  mountSys(c.privileged);
  for (auto& m : c.mounts) mountVolume(m);
  dropOldRoot();
  if (!c.privileged) maskPaths();
  if (!c.workingDir.empty()) shim::mkdirAll(c.workingDir);  // as Docker does for a missing workingDir
  if (c.readOnlyRootfs) doMount("", "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY);
}

}  // namespace k1s
