// See shim_memory.h for why. The loader's own list of objects (dl_iterate_phdr) gives each
// library's writable PT_LOAD segment: RELRO (.data.rel.ro, .got, init/fini arrays), .data and
// .bss. Those pages are dirty after relocation; MADV_DONTNEED makes them read back as the file's
// unrelocated bytes (or zeros), which is harmless because nothing calls into those libraries again.
// The page(s) holding the library's .dynamic section stay: the loader reads them when it binds a
// symbol lazily (the k1s binary is not linked with -z now), and it searches every library.
#include "kubelet/shim_memory.h"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace k1s::shim {
namespace {

// Libraries the shim still runs after start-up (poll/read/write/waitpid, std::string, the JSON
// exit record, exception unwinding), matched at the start of the file name.
bool keptLibrary(const char* path) {
  const char* slash = strrchr(path, '/');
  const char* base = slash ? slash + 1 : path;
  for (const char* keep : {"libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "ld-linux", "libpthread.so"})
    if (strncmp(base, keep, strlen(keep)) == 0) return true;
  return false;
}

void dropRange(uintptr_t lo, uintptr_t hi) {
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

// The executable's read-only segments (code, constants) are mapped from its file and never
// written: dropping them costs nothing but a re-read of the few pages the monitor loop runs. They
// matter for the static shim, whose pages no other process shares (USS) until a second shim runs.
void dropReadOnlySegments(const dl_phdr_info* info, uintptr_t page) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W)) continue;
    // Whole pages only: a page shared with a neighbouring (writable) segment stays.
    uintptr_t lo = (info->dlpi_addr + ph.p_vaddr + page - 1) & ~(page - 1);
    uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz) & ~(page - 1);
    dropRange(lo, hi);
  }
}

int dropWritableSegments(dl_phdr_info* info, size_t, void*) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  // "" is the executable itself (the static shim, or k1s); the vDSO has no writable segment.
  if (info->dlpi_name && !*info->dlpi_name) dropReadOnlySegments(info, page);
  if (!info->dlpi_name || !*info->dlpi_name || keptLibrary(info->dlpi_name)) return 0;
  uintptr_t dynLo = 0, dynHi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
      dynLo = (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr) & ~(page - 1);
      dynHi = (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr + info->dlpi_phdr[i].p_memsz + page - 1) & ~(page - 1);
    }
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
    // The segment's first page is its own mapping (segments are mapped page by page).
    uintptr_t lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
    uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
    if (dynHi > lo && dynLo < hi) {
      dropRange(lo, dynLo);
      dropRange(dynHi, hi);
    } else {
      dropRange(lo, hi);
    }
  }
  return 0;
}

}  // namespace

void releaseIdleMemory() {
  dl_iterate_phdr(dropWritableSegments, nullptr);
  malloc_trim(0);
}

}  // namespace k1s::shim
