// Small file-system and digest helpers for the image store (private to kubelet/images*.cpp).
#pragma once
#include <openssl/evp.h>

#include <cstdint>
#include <string>

namespace k1s::images {

// Streaming SHA-256; hex() returns the 64 lowercase hex digits.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  std::string hex();

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256Hex(const std::string& data);
// sha256 of a file's bytes; also returns its size through *size when given.
std::string sha256File(const std::string& path, int64_t* size = nullptr);

// "sha256:<64 hex>" -> "<64 hex>"; throws std::runtime_error for any other algorithm or form.
std::string digestHex(const std::string& digest);
bool isHex64(const std::string& s);

std::string readFile(const std::string& path);  // throws std::runtime_error
// Writes via <path>.tmp-<pid>-<n> and rename(2), so readers see the old or the new file, never half.
void writeFileAtomic(const std::string& path, const std::string& data);
void makeDirs(const std::string& path, unsigned mode = 0755);
void removeAll(const std::string& path);  // like rm -rf; never follows symlinks
bool pathExists(const std::string& path);
bool isDirectory(const std::string& path);
std::string realPath(const std::string& path);  // throws when it does not resolve
// A fresh, empty directory under parent named <prefix><random>.
std::string makeTempDir(const std::string& parent, const std::string& prefix);

// Exclusive flock(2) on a file for the lifetime of the object: serializes writers
// (the CLI and the daemon's drop-dir import may run at the same time).
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace k1s::images
