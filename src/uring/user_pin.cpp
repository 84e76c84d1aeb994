// Views of pinned program memory (see user_pin.hpp).
#include "uring/user_pin.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/raw_syscall.h"

namespace iostack::uring {

#if !defined(__SANITIZE_THREAD__)
namespace {

enum class Backing { kPrivateAnonymous, kShared, kOther };

// What every mapping over [lo, hi) is, from /proc/self/maps; kOther when
// they differ or leave a hole. Private anonymous means no file behind it
// (hugetlb memory has one, and cannot be remapped a page at a time).
Backing backing_of(std::uintptr_t lo, std::uintptr_t hi) {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return Backing::kOther;
  bool private_anon = true, shared = true;
  std::uintptr_t covered = lo;
  char line[4352];
  while (covered < hi && std::fgets(line, sizeof(line), f)) {
    unsigned long start, end, inode;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu", &start, &end, perms, &inode) < 4) continue;
    if (end <= covered) continue;
    if (start > covered) break;  // a hole
    private_anon = private_anon && perms[3] == 'p' && inode == 0;
    shared = shared && perms[3] == 's';
    covered = end;
  }
  std::fclose(f);
  if (covered < hi) return Backing::kOther;
  if (private_anon) return Backing::kPrivateAnonymous;
  return shared ? Backing::kShared : Backing::kOther;
}

// Moves the range onto a memfd's pages (copying what it holds) and maps
// them a second time. Both descriptor calls are the engine's own (not
// reported as the program's).
char* move_to_shared(char* uaddr, std::size_t size) {
  const long fd = iostack_raw_syscall6(SYS_memfd_create, reinterpret_cast<long>("iostack-pinned"),
                                       MFD_CLOEXEC, 0, 0, 0, 0);
  if (fd < 0) return nullptr;
  char* view = nullptr;
  if (iostack_raw_syscall6(SYS_ftruncate, fd, static_cast<long>(size), 0, 0, 0, 0) == 0) {
    void* v = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, static_cast<int>(fd), 0);
    if (v != MAP_FAILED) {
      std::memcpy(v, uaddr, size);
      if (mmap(uaddr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, static_cast<int>(fd),
               0) == uaddr)
        view = static_cast<char*>(v);
      else
        munmap(v, size);
    }
  }
  iostack_raw_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
  return view;
}

}  // namespace
#endif

char* pin_user_view(char* uaddr, std::size_t size) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer orders accesses by address: behind an alias, the
  // program's stores before its SQ tail release would look unordered with
  // the engine's reads. Its builds use the program's range itself.
  (void)uaddr;
  (void)size;
  return nullptr;
#else
  const auto lo = reinterpret_cast<std::uintptr_t>(uaddr);
  switch (backing_of(lo, lo + size)) {
    case Backing::kShared: {
      // A zero old size maps the same shared pages once more.
      void* v = mremap(uaddr, 0, size, MREMAP_MAYMOVE);
      return v == MAP_FAILED ? nullptr : static_cast<char*>(v);
    }
    case Backing::kPrivateAnonymous:
      return move_to_shared(uaddr, size);
    case Backing::kOther:
      break;
  }
  return nullptr;
#endif
}

}  // namespace iostack::uring
