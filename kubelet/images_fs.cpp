#include "kubelet/images_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace k1s::images {

static std::runtime_error sysError(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + strerror(errno));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256 init failed");
}
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string sha256Hex(const std::string& data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

// Feeds a file to `chunk` in 64 KiB pieces (the one read loop of the store).
static void readChunks(const std::string& path, const std::function<void(const char*, size_t)>& chunk) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw sysError("cannot open", path);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      throw sysError("cannot read", path);
    }
    if (n == 0) break;
    chunk(buf, size_t(n));
  }
  close(fd);
}

std::string sha256File(const std::string& path, int64_t* size) {
  Sha256 h;
  int64_t total = 0;
  readChunks(path, [&](const char* d, size_t n) {
    h.update(d, n);
    total += int64_t(n);
  });
  if (size) *size = total;
  return h.hex();
}

bool isHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string digestHex(const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0 || !isHex64(digest.substr(7)))
    throw std::runtime_error("unsupported digest \"" + digest + "\" (only sha256 is supported)");
  return digest.substr(7);
}

std::string readFile(const std::string& path) {
  std::string out;
  readChunks(path, [&](const char* d, size_t n) { out.append(d, n); });
  return out;
}

static std::atomic<unsigned> tmpCounter{0};

void writeFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(tmpCounter++);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw sysError("cannot create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      unlink(tmp.c_str());
      throw sysError("cannot write", tmp);
    }
    off += n;
  }
  // Data reaches disk before the rename makes it visible: a crash leaves the old file, not an empty one.
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    throw sysError("cannot write", tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    throw sysError("cannot rename to", path);
  }
}

void makeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return;
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    pos = next;
    if (cur.empty() || cur == "/") continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) throw sysError("cannot create directory", cur);
  }
  if (!isDirectory(path)) throw std::runtime_error("not a directory: " + path);
}

static void removeAt(int dirfd, const char* name) {
  struct stat st {};
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      // Layers may hold 0555 directories; make them writable so their entries can go.
      fchmod(fd, 0700);
      if (DIR* d = fdopendir(fd)) {
        while (auto* e = readdir(d)) {
          if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
          removeAt(fd, e->d_name);
        }
        closedir(d);
      } else {
        close(fd);
      }
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
  } else {
    unlinkat(dirfd, name, 0);
  }
}

void removeAll(const std::string& path) { removeAt(AT_FDCWD, path.c_str()); }

bool pathExists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string realPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) throw sysError("cannot resolve", path);
  return buf;
}

std::string makeTempDir(const std::string& parent, const std::string& prefix) {
  makeDirs(parent);
  std::string tmpl = parent + "/" + prefix + "XXXXXX";
  if (!mkdtemp(tmpl.data())) throw sysError("cannot create temporary directory in", parent);
  return tmpl;
}

FileLock::FileLock(const std::string& path) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw sysError("cannot open lock", path);
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      close(fd_);
      throw sysError("cannot lock", path);
    }
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace k1s::images
