// Extraction of the embedded shim executable (see shim_binary.h), and `k1s shim ...`.
#include "kubelet/shim_binary.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "kubelet/runtime.h"
#include "kubelet/shim_internal.h"

// Defined by the build (generated/shim_blob.cpp): the k1s-shim executable's bytes.
extern "C" const char k1s_shim_data[];
extern "C" const char k1s_shim_end[];

namespace k1s {
namespace {

constexpr const char* kPrefix = "k1s-shim-";

std::string contentName(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: names the content, not a security boundary
  for (size_t i = 0; i < n; i++) h = (h ^ uint8_t(p[i])) * 1099511628211ULL;
  char b[40];
  snprintf(b, sizeof b, "%s%016llx", kPrefix, (unsigned long long)h);
  return b;
}

bool sameSize(const std::string& path, size_t n) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) == n && (st.st_mode & 0111);
}

}  // namespace

std::string installEmbeddedShim(const std::string& dir) {
  size_t n = size_t(k1s_shim_end - k1s_shim_data);
  if (n == 0) return "";
  std::string name = contentName(k1s_shim_data, n);
  std::string path = dir + "/" + name;
  shim::mkdirAll(dir, 0711);
  if (!sameSize(path, n)) {
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0) throw std::runtime_error(shim::errnoText("create " + tmp));
    for (size_t off = 0; off < n;) {
      ssize_t w = write(fd, k1s_shim_data + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int e = errno;
        close(fd);
        unlink(tmp.c_str());
        errno = e;
        throw std::runtime_error(shim::errnoText("write " + tmp));
      }
      off += size_t(w);
    }
    // fchmod: the umask must not leave the file unexecutable for anyone.
    if (fchmod(fd, 0755) < 0 || close(fd) < 0 || rename(tmp.c_str(), path.c_str()) < 0) {
      unlink(tmp.c_str());
      throw std::runtime_error(shim::errnoText("install " + path));
    }
  }
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (strncmp(e->d_name, kPrefix, strlen(kPrefix)) == 0 && name != e->d_name && !strstr(e->d_name, ".tmp."))
        unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
  }
  return path;
}

// `k1s shim ...`: the same code as the shim executable, run in this process; `install <dir>`
// writes the embedded executable (benchmarks and debugging run exactly what the kubelet runs).
int runShim(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "install") == 0) {
    try {
      std::string p = installEmbeddedShim(argv[2]);
      if (p.empty()) {
        fprintf(stderr, "k1s shim install: this k1s binary has no embedded shim\n");
        return 1;
      }
      printf("%s\n", p.c_str());
      return 0;
    } catch (const std::exception& e) {
      fprintf(stderr, "k1s shim install: %s\n", e.what());
      return 1;
    }
  }
  return shim::shimMain(argc, argv);
}

}  // namespace k1s
