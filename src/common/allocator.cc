#include "clearsight/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace clearsight {

bool KeepLargeFreedBlocks() {
#if defined(__GLIBC__)
  static std::once_flag once;
  static bool changed = false;
  std::call_once(once, [] {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
    changed = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
    changed = mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1 && changed;
  });
  return changed;
#else
  return false;
#endif
}

bool LimitMallocArenas(int arenas) {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || arenas < 1) return false;
  return mallopt(M_ARENA_MAX, arenas) == 1;
#else
  (void)arenas;
  return false;
#endif
}

}  // namespace clearsight
