// The shim as a small statically linked executable of its own (kubelet/shim_main/), embedded in
// the k1s binary at build time. Re-exec'ing k1s itself cost every container start and every exec
// the dynamic loading of k1s's libraries (OpenSSL, SQLite, ICU, libarchive, ...), ~10 ms, and every
// idle shim the mappings of all of them; the static shim starts in well under a millisecond.
#pragma once
#include <string>

namespace k1s {

// Writes the embedded shim executable to <dir>/k1s-shim-<content hash> unless that file is there
// already (temp file + rename, so a concurrent reader never runs half a file), removes older
// k1s-shim-* files (running shims keep their unlinked executable), and returns the path. Returns ""
// when this binary carries no embedded shim. Throws std::runtime_error on I/O errors.
std::string installEmbeddedShim(const std::string& dir);

}  // namespace k1s
