// Layer blobs and outer archives read with libarchive (private to kubelet/images*.cpp).
#pragma once
#include <cstdint>
#include <string>

namespace k1s::images {

struct LayerDigests {
  std::string blobHex;  // sha256 of the blob as stored (compressed or not): the manifest's digest
  std::string diffHex;  // sha256 of the uncompressed tar: the config's rootfs.diff_ids entry
  int64_t blobSize = 0;
  bool compressed = false;
  std::string error;  // the blob does not decompress; blobHex is still its digest
};

// Reads a layer blob once, computing both digests (compression detected by magic, not media type).
// A blob that does not decompress still gets its blob digest, so a tampered blob is reported as a
// digest mismatch rather than as a gzip error.
LayerDigests digestLayer(const std::string& blobPath);

// Extracts a layer tar (plain, gzip, zstd, ...) into dest, an existing directory with no symlinks
// in its path. Whiteouts become overlayfs whiteouts: `.wh.name` a 0/0 character device `name`,
// `.wh..wh..opq` the trusted.overlay.opaque=y xattr on its directory, so each layer can be an
// overlay lowerdir of its own. Device nodes and sockets are skipped (the runtime provides /dev).
// Throws std::runtime_error for entries escaping dest (`..`, through a symlink).
void extractLayer(const std::string& blobPath, const std::string& dest);

// Unpacks an outer image archive (docker save / OCI archive, optionally gzip-compressed) into dest:
// directories, regular files, hard links, and symlinks whose target stays inside dest.
void unpackArchive(const std::string& archivePath, const std::string& dest);

}  // namespace k1s::images
