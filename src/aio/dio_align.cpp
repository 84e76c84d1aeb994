// Where an O_DIRECT request on an OS file runs: inside io_submit or on a worker.
#include "aio/dio_align.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace iostack::aio {
namespace {

constexpr unsigned kSlots = 64;      // per thread, indexed by fd % kSlots
constexpr std::uint32_t kUses = 64;  // requests served per statx
constexpr long kTmpfsMagic = 0x01021994;

struct Slot {
  int fd_plus_1 = 0;  // 0: empty
  int flags = 0;
  std::uint32_t generation = 0;
  std::uint32_t uses_left = 0;
  DioInfo info;
};

thread_local Slot t_slots[kSlots];
std::atomic<std::uint32_t> g_generation{1};

bool misaligned(std::uint64_t v, std::uint32_t align) {
  if (align <= 1) return false;
  if ((align & (align - 1)) == 0) return (v & (align - 1)) != 0;
  return v % align != 0;
}

}  // namespace

const DioInfo* dio_info_cached(int fd, int flags) {
  Slot& s = t_slots[static_cast<unsigned>(fd) % kSlots];
  if (s.fd_plus_1 != fd + 1 || s.flags != flags || s.uses_left == 0 ||
      s.generation != g_generation.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  --s.uses_left;
  return &s.info;
}

int dio_info_query(int fd, int flags, DioInfo* out) {
  struct statx sx;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_DIOALIGN, &sx) != 0) {
    // A sandbox that refuses statx (older seccomp profiles): the file type
    // from fstat, and no alignment known.
    if (errno != ENOSYS && errno != EPERM) return -errno;
    struct stat st;
    if (::fstat(fd, &st) != 0) return -errno;
    sx.stx_mask = STATX_TYPE;
    sx.stx_mode = static_cast<std::uint16_t>(st.st_mode);
  }
  DioInfo info;
  const unsigned type = sx.stx_mode & S_IFMT;
  if (type != S_IFREG && type != S_IFBLK) {
    // Pipes, sockets, character devices: their read_iter/write_iter runs
    // inside io_submit, O_DIRECT or not.
    info.async = false;
  } else if (sx.stx_mask & STATX_DIOALIGN) {
    // A zero alignment says this file has no direct I/O: the kernel falls
    // back to the page cache, inside io_submit.
    info.async = sx.stx_dio_mem_align != 0;
    if (info.async) {
      info.mem_align = sx.stx_dio_mem_align;
      info.offset_align = sx.stx_dio_offset_align;
    }
  } else {
    struct statfs sf;
    info.async = !(::fstatfs(fd, &sf) == 0 && sf.f_type == kTmpfsMagic);
  }
  Slot& s = t_slots[static_cast<unsigned>(fd) % kSlots];
  s.fd_plus_1 = fd + 1;
  s.flags = flags;
  s.generation = g_generation.load(std::memory_order_relaxed);
  s.uses_left = kUses;
  s.info = info;
  *out = info;
  return 0;
}

void dio_info_stale() { g_generation.fetch_add(1, std::memory_order_relaxed); }

bool dio_aligned(const DioInfo& info, const AioKiocb* req) {
  if (misaligned(static_cast<std::uint64_t>(req->pos), info.offset_align)) return false;
  for (int i = 0; i < req->nr_segs; ++i) {
    const struct iovec& v = req->iov[i];
    if (misaligned(reinterpret_cast<std::uintptr_t>(v.iov_base), info.mem_align)) return false;
    if (misaligned(v.iov_len, info.offset_align)) return false;
  }
  return true;
}

}  // namespace iostack::aio
