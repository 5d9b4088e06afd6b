#include "kubelet/images_layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "kubelet/images_fs.h"

namespace k1s::images {
namespace {

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteDeleter>;

std::string archiveError(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown archive error";
}

// Entry names are relative to the layer root: "./a//b/" -> "a/b", "/etc/x" -> "etc/x" (as docker
// does). Any ".." component is refused outright: a layer never needs one, and a crafted one is how
// an archive writes outside its directory.
std::string cleanEntryPath(const char* raw, const std::string& what) {
  if (!raw) throw std::runtime_error(what + ": entry without a usable name");
  std::string out, part;
  std::string s = raw;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string::npos) j = s.size();
    part = s.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") throw std::runtime_error(what + ": path \"" + s + "\" escapes the layer (\"..\")");
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::string parentOf(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

// Every existing component of dest/relDir must be a real directory, never a symlink (which could
// point anywhere on the host); missing ones are created when `create`.
void checkDirChain(const std::string& dest, const std::string& relDir, bool create, const std::string& what) {
  std::string cur = dest;
  size_t i = 0;
  while (i < relDir.size()) {
    size_t j = relDir.find('/', i);
    if (j == std::string::npos) j = relDir.size();
    cur += "/" + relDir.substr(i, j - i);
    i = j + 1;
    struct stat st {};
    if (lstat(cur.c_str(), &st) != 0) {
      if (errno != ENOENT || !create) throw std::runtime_error(what + ": missing directory " + relDir);
      if (mkdir(cur.c_str(), 0755) != 0) throw std::runtime_error(what + ": cannot create " + cur + ": " + strerror(errno));
      continue;
    }
    if (S_ISLNK(st.st_mode)) throw std::runtime_error(what + ": path \"" + relDir + "\" goes through a symlink");
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error(what + ": \"" + relDir + "\" is not a directory");
  }
}

const char* entryPath(archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  return p ? p : archive_entry_pathname_utf8(e);  // non-ASCII names under the C locale
}

void copyData(archive* in, archive* out, const std::string& what) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(in, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return;
    if (r < ARCHIVE_WARN) throw std::runtime_error(what + ": " + archiveError(in));
    if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN)
      throw std::runtime_error(what + ": " + archiveError(out));
  }
}

// trusted.overlay.* in a layer would be read by overlayfs as its own metadata (redirects,
// opaque markers); only whiteout conversion may set those.
void dropOverlayXattrs(archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return;
  std::vector<std::pair<std::string, std::string>> keep;
  const char* name;
  const void* value;
  size_t size;
  bool dropped = false;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (std::string(name).rfind("trusted.overlay.", 0) == 0) {
      dropped = true;
      continue;
    }
    keep.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
  if (!dropped) return;
  archive_entry_xattr_clear(e);
  for (auto& [n, v] : keep) archive_entry_xattr_add_entry(e, n.c_str(), v.data(), v.size());
}

struct HashingReader {
  int fd = -1;
  Sha256 hash;
  int64_t total = 0;
  char buf[1 << 16];
};

la_ssize_t hashingRead(archive*, void* ud, const void** out) {
  auto* r = static_cast<HashingReader*>(ud);
  ssize_t n;
  do n = read(r->fd, r->buf, sizeof r->buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  r->hash.update(r->buf, n);
  r->total += n;
  *out = r->buf;
  return n;
}

// The layer compressions images use (OCI: gzip, zstd; older tools: bzip2, xz). Named one by one
// rather than "all": libarchive is linked statically and only what is named is linked in.
void supportLayerFilters(archive* a) {
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
}

}  // namespace

LayerDigests digestLayer(const std::string& blobPath) {
  HashingReader r;
  r.fd = open(blobPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.fd < 0) throw std::runtime_error("cannot open layer " + blobPath + ": " + strerror(errno));
  LayerDigests d;
  {
    ReadArchive a(archive_read_new());
    supportLayerFilters(a.get());
    archive_read_support_format_raw(a.get());  // the decompressed stream as one entry
    Sha256 diff;
    archive_entry* e;
    int rc = archive_read_open(a.get(), &r, nullptr, hashingRead, nullptr);
    if (rc == ARCHIVE_OK) rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while ((rc = archive_read_data_block(a.get(), &buf, &size, &offset)) == ARCHIVE_OK) diff.update(buf, size);
    }
    if (rc != ARCHIVE_EOF) d.error = archiveError(a.get());
    d.compressed = archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_NONE;
    d.diffHex = diff.hex();
  }
  // The blob digest covers every byte, including any the decompressor never asked for.
  const void* ignored;
  la_ssize_t n;
  while ((n = hashingRead(nullptr, &r, &ignored)) > 0) {
  }
  close(r.fd);
  if (n < 0) throw std::runtime_error("cannot read layer " + blobPath + ": " + strerror(errno));
  d.blobHex = r.hash.hex();
  d.blobSize = r.total;
  return d;
}

void extractLayer(const std::string& blobPath, const std::string& dest) {
  ReadArchive in(archive_read_new());
  supportLayerFilters(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), blobPath.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::runtime_error("layer " + blobPath + ": " + archiveError(in.get()));
  WriteArchive out(archive_write_disk_new());
  // No user/group lookup is installed, so owners stay the tar's numeric ids (container ids, not
  // host names). SECURE_* make libarchive itself refuse ".." and writes through symlinks as well.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  std::set<std::string> whiteouts;  // made in this layer; a same-layer file of that name replaces one
  const std::string what = "layer";
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw std::runtime_error("layer " + blobPath + ": " + archiveError(in.get()));
    std::string rel = cleanEntryPath(entryPath(e), what);
    if (rel.empty()) continue;  // the layer root itself
    std::string parent = parentOf(rel);
    std::string base = rel.substr(parent.empty() ? 0 : parent.size() + 1);
    if (base.rfind(".wh.", 0) == 0) {
      checkDirChain(dest, parent, true, what);
      std::string dir = parent.empty() ? dest : dest + "/" + parent;
      if (base == ".wh..wh..opq") {
        if (setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
          throw std::runtime_error("layer: cannot mark " + parent + " opaque: " + strerror(errno));
      } else if (base.rfind(".wh..wh.", 0) != 0) {  // other .wh..wh.* are aufs bookkeeping: ignored
        std::string victim = parent.empty() ? base.substr(4) : parent + "/" + base.substr(4);
        std::string target = dest + "/" + victim;
        if (!pathExists(target)) {  // a whiteout hides lower layers only, never its own layer's file
          if (mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0)
            throw std::runtime_error("layer: cannot create whiteout for " + victim + ": " + strerror(errno));
          whiteouts.insert(victim);
        }
      }
      continue;
    }
    auto type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) continue;
    // Deleted and re-created as a directory in this layer: the whiteout becomes an opaque
    // directory, so nothing of the lower layers' directory shows through.
    for (size_t cut = 0; cut != std::string::npos;) {
      cut = rel.find('/', cut + 1);
      std::string prefix = rel.substr(0, cut);
      if (cut != std::string::npos && whiteouts.erase(prefix)) {
        std::string dir = dest + "/" + prefix;
        if (unlink(dir.c_str()) != 0 || mkdir(dir.c_str(), 0755) != 0 ||
            setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
          throw std::runtime_error("layer: cannot re-create " + prefix + ": " + strerror(errno));
      }
    }
    checkDirChain(dest, parent, true, what);  // tars may omit directory entries
    dropOverlayXattrs(e);
    if (const char* link = archive_entry_hardlink(e)) {
      std::string target = cleanEntryPath(link, what);
      if (target.empty()) throw std::runtime_error("layer: hard link " + rel + " to the layer root");
      checkDirChain(dest, parentOf(target), false, what);
      archive_entry_copy_hardlink(e, (dest + "/" + target).c_str());
    }
    bool replacesWhiteout = whiteouts.erase(rel) > 0;
    if (replacesWhiteout) unlink((dest + "/" + rel).c_str());
    archive_entry_copy_pathname(e, (dest + "/" + rel).c_str());
    if (type == AE_IFLNK && !archive_entry_symlink(e) && archive_entry_symlink_utf8(e))
      archive_entry_copy_symlink(e, archive_entry_symlink_utf8(e));
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN)
      throw std::runtime_error("layer: cannot extract \"" + rel + "\": " + archiveError(out.get()));
    if (archive_entry_size(e) > 0) copyData(in.get(), out.get(), "layer: " + rel);
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN)
      throw std::runtime_error("layer: cannot extract \"" + rel + "\": " + archiveError(out.get()));
    if (replacesWhiteout && type == AE_IFDIR &&
        setxattr((dest + "/" + rel).c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
      throw std::runtime_error("layer: cannot mark " + rel + " opaque: " + strerror(errno));
  }
  // Directory modes and times are applied here (deferred so read-only directories could be filled).
  if (archive_write_close(out.get()) < ARCHIVE_WARN) throw std::runtime_error("layer: " + archiveError(out.get()));
}

void unpackArchive(const std::string& archivePath, const std::string& dest) {
  ReadArchive in(archive_read_new());
  supportLayerFilters(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), archivePath.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::runtime_error(archivePath + ": not a tar archive: " + archiveError(in.get()));
  const std::string what = archivePath;
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw std::runtime_error(archivePath + ": not a tar archive: " + archiveError(in.get()));
    std::string rel = cleanEntryPath(entryPath(e), what);
    if (rel.empty()) continue;
    std::string parent = parentOf(rel);
    checkDirChain(dest, parent, true, what);
    std::string full = dest + "/" + rel;
    auto type = archive_entry_filetype(e);
    if (const char* hard = archive_entry_hardlink(e)) {
      std::string target = cleanEntryPath(hard, what);
      checkDirChain(dest, parentOf(target), false, what);
      if (link(std::string(dest + "/" + target).c_str(), full.c_str()) != 0)
        throw std::runtime_error(what + ": cannot link " + rel + ": " + strerror(errno));
    } else if (type == AE_IFDIR) {
      checkDirChain(dest, rel, true, what);
    } else if (type == AE_IFREG) {
      int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) throw std::runtime_error(what + ": cannot create " + rel + ": " + strerror(errno));
      const void* buf;
      size_t size;
      la_int64_t offset;
      int rc;
      while ((rc = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (pwrite(fd, buf, size, offset) != static_cast<ssize_t>(size)) {
          close(fd);
          throw std::runtime_error(what + ": cannot write " + rel + ": " + strerror(errno));
        }
      }
      if (ftruncate(fd, archive_entry_size(e)) != 0) {  // sparse tails
        close(fd);
        throw std::runtime_error(what + ": cannot write " + rel + ": " + strerror(errno));
      }
      close(fd);
      if (rc != ARCHIVE_EOF) throw std::runtime_error(what + ": " + archiveError(in.get()));
    } else if (type == AE_IFLNK) {
      // Old `docker save` links a repeated layer to its first copy ("../<id>/layer.tar"). Keep
      // such links only when they resolve inside the archive; anything else is simply not there.
      const char* t = archive_entry_symlink(e);
      if (!t) t = archive_entry_symlink_utf8(e);
      if (!t || t[0] == '/') continue;
      std::string joined = parent.empty() ? std::string(t) : parent + "/" + t;
      std::vector<std::string> stack;
      bool escapes = false;
      size_t i = 0;
      while (i <= joined.size()) {
        size_t j = joined.find('/', i);
        if (j == std::string::npos) j = joined.size();
        std::string part = joined.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
          if (stack.empty()) escapes = true;
          else stack.pop_back();
        } else {
          stack.push_back(part);
        }
      }
      if (escapes) continue;
      if (symlink(t, full.c_str()) != 0)
        throw std::runtime_error(what + ": cannot create " + rel + ": " + strerror(errno));
    }
  }
}

}  // namespace k1s::images
