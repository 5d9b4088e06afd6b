// Keeps an idle shim small. The shim is the k1s binary re-exec'd (DESIGN rule 5), so it loads
// every shared library the daemon links (OpenSSL, SQLite, ICU, libnl, libarchive, ...). The
// dynamic loader writes relocated pointers into each library's RELRO and data pages, which makes
// them private to the process: about 0.7 MB per shim that the monitor loop never reads again.
#pragma once

namespace k1s::shim {

// The static shim (shim_binary.h) has no libraries, but its own code pages, faulted in around
// everything start-up ran, would be ~1.4 MB of USS while it is the only shim of its executable.
//
// Once the workload runs: hands the relocated/written pages of libraries the monitor loop never
// calls back to the kernel (MADV_DONTNEED), drops the executable's read-only (file-backed) pages,
// which fault back in on use, and returns free heap (malloc_trim). Only the k1s
// binary itself and the C/C++ runtime libraries (libc, libm, libstdc++, libgcc_s, the loader)
// stay intact. After this the process must leave with _exit(): the dropped libraries' destructors
// and atexit handlers would read the unrelocated pages.
void releaseIdleMemory();

}  // namespace k1s::shim
