// Views of pinned program memory (see user_pin.hpp).
#include "uring/user_pin.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

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
constexpr char kMemfdName[] = "iostack-pinned";

char* move_to_shared(char* uaddr, std::size_t size) {
  const long fd = iostack_raw_syscall6(SYS_memfd_create, reinterpret_cast<long>(kMemfdName),
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

// Whether [lo, hi) is still wholly on the pages of the memfd `view` maps:
// the same inode, named as move_to_shared names it.
bool still_moved(std::uintptr_t lo, std::uintptr_t hi, std::uintptr_t view) {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return false;
  struct Vma {
    unsigned long start, end, inode;
    bool ours;
  };
  std::vector<Vma> vmas;
  char line[4352];
  while (std::fgets(line, sizeof(line), f)) {
    Vma v{};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %*s %*x %*x:%*x %lu %n", &v.start, &v.end, &v.inode, &path_at) <
        3)
      continue;
    v.ours = path_at > 0 && std::strstr(line + path_at, kMemfdName) != nullptr;
    if (v.end > lo && v.start < hi) vmas.push_back(v);
    if (view >= v.start && view < v.end) vmas.insert(vmas.begin(), v);  // the view's first
  }
  std::fclose(f);
  if (vmas.empty() || !vmas[0].ours || view < vmas[0].start || view >= vmas[0].end) return false;
  const unsigned long inode = vmas[0].inode;
  std::uintptr_t covered = lo;
  for (std::size_t i = 1; i < vmas.size(); ++i) {
    if (vmas[i].start > covered || !vmas[i].ours || vmas[i].inode != inode) return false;
    covered = vmas[i].end;
  }
  return covered >= hi;
}

}  // namespace
#endif

void give_back_user_range(char* uaddr, const char* view, std::size_t size) {
#if !defined(__SANITIZE_THREAD__)
  const auto lo = reinterpret_cast<std::uintptr_t>(uaddr);
  if (!still_moved(lo, lo + size, reinterpret_cast<std::uintptr_t>(view))) return;
  // Filled first, then moved over the range in one call: a thread of the
  // program reading it meanwhile never finds it empty.
  void* fresh = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fresh == MAP_FAILED) return;
  std::memcpy(fresh, view, size);
  if (mremap(fresh, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, uaddr) == MAP_FAILED)
    munmap(fresh, size);
#else
  (void)uaddr;
  (void)view;
  (void)size;
#endif
}

void unpin_user_view(char* uaddr, char* view, std::size_t size) {
  give_back_user_range(uaddr, view, size);
  munmap(view, size);
}

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
