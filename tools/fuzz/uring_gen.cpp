// The io_uring program generator: mostly valid SQEs over the world, with
// faulty fields now and then. One entry per opcode in kOps: to fuzz a new
// opcode, write its generator and add a line there.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <cstdio>

#include "iostack/stats.h"
#include "iostack/uring.h"

#include "rng.hpp"
#include "uring_prog.hpp"

namespace fuzz {

namespace {

// Newer uapi values the build's headers may lack.
constexpr std::uint32_t kRwfDontcache = 0x80;
constexpr std::uint32_t kRwfAtomic = 0x40;
constexpr std::uint32_t kRwfNoappend = 0x20;

struct Gen {
  Rng& r;
  // Draws for what was added to the generator later (big SQEs and CQEs), so
  // that the programs of older seeds stay as they were.
  Rng& r2;
  std::uint32_t setup_flags = 0;
  // The later opcodes (uring_gen_ext.cpp): their own stream, and only in
  // some programs, so that most older seeds keep their programs.
  Rng* r4 = nullptr;
  std::uint64_t next_ud = 1;
  std::uint64_t last_ud() const { return next_ud - 1; }
  // A user_data an earlier request had (or one nobody has).
  std::uint64_t target_ud() {
    if (next_ud == 1 || r.chance(10)) return r.pick<std::uint64_t>({0, 999, 0xdead});
    return 1 + r.below(static_cast<std::uint32_t>(next_ud - 1));
  }
};

FdSel slot(int s) { return FdSel{s, -1}; }
FdSel raw_fd(int v) { return FdSel{-1, v}; }

// Mostly a descriptor the op is meant for, sometimes any slot or a bad one.
FdSel pick_fd(Gen& g, std::initializer_list<int> good) {
  const unsigned c = g.r.below(100);
  if (c < 80) return slot(g.r.pick(good));
  if (c < 92) return slot(static_cast<int>(g.r.below(kNumSlots)));
  return raw_fd(g.r.pick({-1, 999, 1 << 30, -100}));
}

// A bad address of some kind.
Addr bad_addr(Gen& g) {
  Addr a;
  switch (g.r.below(4)) {
    case 0:
      return raw(0);
    case 1:
      a.kind = AK::kProtNone;
      a.off = g.r.pick<std::uint32_t>({0, 100});
      return a;
    case 2:
      a.kind = AK::kKernel;
      return a;
    default:
      return raw(1);
  }
}

// A data buffer: some buffer, some offset, mostly inside it.
Addr data_addr(Gen& g, std::uint32_t* len) {
  if (g.r.chance(6)) return bad_addr(g);
  const unsigned idx = g.r.below(kNumBufs);
  std::uint32_t off = g.r.chance(60) ? 0 : g.r.pick<std::uint32_t>({512, 4096, 100, 8000});
  if (g.r.chance(3)) off = kBufSize - 16;  // runs into the guard page for the last buffer
  if (*len + off > kBufSize && g.r.chance(80)) *len = kBufSize - off;
  return buf(idx, off);
}

std::uint32_t data_len(Gen& g) {
  return g.r.pick<std::uint32_t>({0, 1, 8, 100, 512, 4096, 4096, 4096, 8192, 16, 0x7fffffff});
}

std::uint64_t file_off(Gen& g) {
  const unsigned c = g.r.below(100);
  if (c < 50) return g.r.pick<std::uint64_t>({0, 512, 4096, 8192});
  if (c < 65) return static_cast<std::uint64_t>(-1);  // the file position
  if (c < 85) return g.r.below(20000);
  return g.r.pick<std::uint64_t>(
      {16384, 1ULL << 40, static_cast<std::uint64_t>(-2), 0x7fffffffffffffffULL, 1ULL << 63});
}

std::uint32_t rw_flags(Gen& g) {
  if (g.r.chance(80)) return 0;
  std::uint32_t f =
      g.r.pick<std::uint32_t>({RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND, kRwfNoappend,
                               kRwfAtomic, kRwfDontcache, 0x100, 0x80000000u});
  if (g.r.chance(20)) f |= RWF_NOWAIT;
  return f;
}

constexpr std::initializer_list<int> kRwFds = {kFileA, kFileA, kFileB,   kFileC,  kFileE,
                                               kPipeR, kPipeW, kEventfd, kDevNull};

// For ops that take a fixed file: an index into the registered table.
void maybe_fixed(Gen& g, SqeSpec& s) {
  if (!g.r.chance(12)) return;
  s.flags |= IOSQE_FIXED_FILE;
  s.fd = raw_fd(static_cast<int>(g.r.below(kNumFixedFiles + 1)));
  if (g.r.chance(10)) s.fd = raw_fd(-1);
}

void gen_rw(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, kRwFds);
  std::uint32_t len = data_len(g);
  if ((s.fd.slot == kEventfd) && g.r.chance(60)) len = 8;
  s.addr = data_addr(g, &len);
  s.len = len;
  s.off = raw(file_off(g));
  s.op_flags = rw_flags(g);
  maybe_fixed(g, s);
}

void gen_rwv(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, kRwFds);
  s.off = raw(file_off(g));
  s.op_flags = rw_flags(g);
  maybe_fixed(g, s);
  if (g.r.chance(5)) {
    s.addr = bad_addr(g);
    s.len = 1 + g.r.below(3);
    return;
  }
  s.addr.kind = AK::kIov;
  const unsigned n = g.r.pick<unsigned>({1, 1, 2, 3, 4, 5});
  for (unsigned i = 0; i < n; ++i) {
    IovSeg seg;
    std::uint32_t len = g.r.pick<std::uint32_t>({0, 8, 100, 512, 4096});
    seg.base = data_addr(g, &len);
    seg.len = len;
    if (g.r.chance(2)) seg.len = 0x8000000000000000ULL;
    s.iov.push_back(seg);
  }
  s.len = n;
  if (g.r.chance(5)) s.len = g.r.pick<std::uint32_t>({0, n + 1, 1025});
}

void gen_rw_fixed(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, kRwFds);
  s.off = raw(file_off(g));
  s.op_flags = rw_flags(g);
  maybe_fixed(g, s);
  s.buf_index = static_cast<std::uint16_t>(g.r.below(2));
  std::uint32_t len = data_len(g);
  std::uint32_t off = g.r.chance(60) ? 0 : g.r.pick<std::uint32_t>({512, 4096, 8000});
  if (len + off > kBufSize && g.r.chance(80)) len = kBufSize - off;
  s.addr = buf(kFixedBufs[s.buf_index], off);
  s.len = len;
  if (g.r.chance(5)) s.buf_index = g.r.pick<std::uint16_t>({2, 100});
  if (g.r.chance(5)) s.addr = buf(kFixedBufs[1 - s.buf_index % 2], 0);  // another buffer
  if (g.r.chance(3)) s.addr = bad_addr(g);
}

void gen_fsync(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileA, kFileA, kFileC, kFileB, kPipeW, kDir, kEventfd});
  maybe_fixed(g, s);
  s.op_flags = g.r.chance(70) ? 0 : g.r.pick<std::uint32_t>({IORING_FSYNC_DATASYNC, 2});
  if (g.r.chance(20)) {
    s.off = raw(g.r.pick<std::uint64_t>({0, 4096, static_cast<std::uint64_t>(-1), 1ULL << 62}));
    s.len = g.r.pick<std::uint32_t>({0, 4096, 0xffffffffu});
  }
  if (g.r.chance(4)) s.addr = raw(1);
}

void gen_sync_file_range(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileA, kFileC, kFileB, kPipeW, kDir});
  maybe_fixed(g, s);
  s.off = raw(g.r.pick<std::uint64_t>({0, 4096, static_cast<std::uint64_t>(-1)}));
  s.len = g.r.pick<std::uint32_t>({0, 4096, 100});
  s.op_flags = g.r.below(9);
  if (g.r.chance(4)) s.addr = raw(1);
}

void gen_fallocate(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileA, kFileE, kFileC, kFileB, kPipeW, kDir});
  maybe_fixed(g, s);
  s.off = raw(g.r.pick<std::uint64_t>({0, 4096, 20000, static_cast<std::uint64_t>(-1)}));
  s.addr = raw(g.r.pick<std::uint64_t>({4096, 100, 0, static_cast<std::uint64_t>(-5)}));
  s.len = g.r.pick<std::uint32_t>({0, 0, FALLOC_FL_KEEP_SIZE,
                                   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
                                   FALLOC_FL_PUNCH_HOLE, 0x100});
  if (g.r.chance(4)) s.op_flags = 1;
}

void gen_fadvise(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileA, kFileB, kPipeR, kDir});
  maybe_fixed(g, s);
  s.off = raw(g.r.pick<std::uint64_t>({0, 4096, static_cast<std::uint64_t>(-1)}));
  s.len = g.r.pick<std::uint32_t>({0, 4096});
  if (g.r.chance(20)) s.addr = raw(8192);
  s.op_flags = g.r.below(8);
}

void gen_openat(Gen& g, SqeSpec& s) {
  const unsigned c = g.r.below(100);
  if (c < 50)
    s.fd = raw_fd(AT_FDCWD);
  else if (c < 80)
    s.fd = slot(kDir);
  else
    s.fd = pick_fd(g, {kFileA, kPipeR, kRing});
  Addr p;
  p.kind = AK::kPath;
  p.idx = static_cast<std::uint8_t>(g.r.below(kNumPaths));
  s.addr = g.r.chance(5) ? bad_addr(g) : p;
  s.op_flags = g.r.pick<std::uint32_t>(
      {O_RDONLY, O_RDWR, O_CREAT | O_RDWR, O_CREAT | O_EXCL | O_WRONLY, O_DIRECTORY,
       O_WRONLY | O_TRUNC, O_PATH, O_RDONLY | O_NONBLOCK, O_TMPFILE | O_RDWR, 0x40000000u});
  s.len = g.r.chance(90) ? 0644 : 0xffff;
  if (g.r.chance(4)) s.file_index = 1;
  if (g.r.chance(4)) s.flags |= IOSQE_FIXED_FILE;
  if (g.r.chance(3)) s.buf_index = 1;
}

void gen_close(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileE, kDevNull, kFileB, kRing, kEventfd});
  if (g.r.chance(10)) {
    s.fd = raw_fd(0);
    s.file_index = 1 + g.r.below(kNumFixedFiles + 1);
  }
  if (g.r.chance(4)) s.flags |= IOSQE_FIXED_FILE;
  if (g.r.chance(4)) s.off = raw(1);
  if (g.r.chance(4)) s.len = 1;
}

void gen_statx(Gen& g, SqeSpec& s) {
  const unsigned c = g.r.below(100);
  if (c < 40)
    s.fd = raw_fd(AT_FDCWD);
  else if (c < 70)
    s.fd = slot(kDir);
  else
    s.fd = pick_fd(g, {kFileA, kPipeR, kRing});
  Addr p;
  p.kind = AK::kPath;
  p.idx = static_cast<std::uint8_t>(g.r.below(kNumPaths));
  s.addr = g.r.chance(5) ? bad_addr(g) : p;
  s.len = g.r.pick<std::uint32_t>({STATX_BASIC_STATS, STATX_ALL, 0, 0x80000000u});
  s.op_flags = g.r.pick<std::uint32_t>({0, 0, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, 0x1});
  Addr sb;
  sb.kind = AK::kStatx;
  s.off = g.r.chance(8) ? bad_addr(g) : sb;
  if (g.r.chance(4)) s.flags |= IOSQE_FIXED_FILE;
}

Addr timespec(Gen& g) {
  if (g.r.chance(4)) return bad_addr(g);
  Addr a;
  a.kind = AK::kTs;
  // Mostly short timers (they fire during the run) or long ones (cancelled).
  a.idx = static_cast<std::uint8_t>(g.r.chance(85) ? g.r.pick<unsigned>({0, 1, 1, 2, 3})
                                                   : g.r.below(kNumTimespecs));
  return a;
}

void gen_timeout(Gen& g, SqeSpec& s) {
  s.fd = raw_fd(g.r.chance(95) ? 0 : 3);
  s.addr = timespec(g);
  s.len = g.r.chance(95) ? 1 : g.r.pick<std::uint32_t>({0, 2});
  s.off = raw(g.r.chance(60) ? 0 : g.r.pick<std::uint64_t>({1, 2, 5}));
  s.op_flags =
      g.r.chance(75)
          ? 0
          : g.r.pick<std::uint32_t>({IORING_TIMEOUT_ABS, IORING_TIMEOUT_BOOTTIME,
                                     IORING_TIMEOUT_REALTIME, IORING_TIMEOUT_ETIME_SUCCESS, 1u << 6,
                                     0x80, IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_REALTIME});
}

void gen_timeout_remove(Gen& g, SqeSpec& s) {
  s.addr = raw(g.target_ud());
  if (g.r.chance(25)) {
    s.op_flags = g.r.pick<std::uint32_t>({IORING_TIMEOUT_UPDATE, IORING_LINK_TIMEOUT_UPDATE,
                                          IORING_TIMEOUT_UPDATE | IORING_TIMEOUT_ABS, 0x80});
    s.off = timespec(g);
  }
  if (g.r.chance(4)) s.len = 1;
}

void gen_link_timeout(Gen& g, SqeSpec& s) {
  s.addr = timespec(g);
  s.len = g.r.chance(95) ? 1 : 2;
  s.op_flags = g.r.chance(85) ? 0 : g.r.pick<std::uint32_t>({IORING_TIMEOUT_ABS, 0x80});
}

void gen_async_cancel(Gen& g, SqeSpec& s) {
  s.addr = raw(g.target_ud());
  if (g.r.chance(35)) {
    s.op_flags = g.r.pick<std::uint32_t>(
        {IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_ASYNC_CANCEL_FD,
         IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL,
         IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED, IORING_ASYNC_CANCEL_OP,
         IORING_ASYNC_CANCEL_USERDATA, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ANY, 0x100});
    if (s.op_flags & IORING_ASYNC_CANCEL_FD) {
      s.fd = pick_fd(g, {kPipeR, kEventfd, kFileA});
      if (s.op_flags & IORING_ASYNC_CANCEL_FD_FIXED) s.fd = raw_fd(static_cast<int>(g.r.below(7)));
    }
    if (s.op_flags & IORING_ASYNC_CANCEL_OP)
      s.len = g.r.pick<std::uint32_t>({IORING_OP_POLL_ADD, IORING_OP_READ});
  }
  if (g.r.chance(3)) s.off = raw(1);
}

void gen_poll_add(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kPipeR, kPipeR, kPipeW, kEventfd, kFileA, kRing, kDevNull, kDir});
  maybe_fixed(g, s);
  s.op_flags = g.r.pick<std::uint32_t>({POLLIN, POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI, 0,
                                        POLLIN | static_cast<std::uint32_t>(EPOLLONESHOT),
                                        POLLIN | static_cast<std::uint32_t>(EPOLLET), POLLRDHUP});
  s.len = g.r.chance(70) ? 0
                         : g.r.pick<std::uint32_t>({IORING_POLL_ADD_MULTI, IORING_POLL_ADD_LEVEL,
                                                    IORING_POLL_ADD_MULTI | IORING_POLL_ADD_LEVEL,
                                                    IORING_POLL_UPDATE_EVENTS, 0x10});
  if (g.r.chance(3)) s.addr = raw(1);
}

void gen_poll_remove(Gen& g, SqeSpec& s) {
  s.addr = raw(g.target_ud());
  if (g.r.chance(40)) {
    s.len = g.r.pick<std::uint32_t>({IORING_POLL_UPDATE_EVENTS, IORING_POLL_UPDATE_USER_DATA,
                                     IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA,
                                     IORING_POLL_UPDATE_EVENTS | IORING_POLL_ADD_MULTI,
                                     IORING_POLL_ADD_MULTI, IORING_POLL_ADD_LEVEL, 0x10});
    s.off = raw(s.user_data + 1000);
    s.op_flags = g.r.pick<std::uint32_t>({POLLIN, POLLOUT, POLLIN | POLLOUT});
  }
  if (g.r.chance(4)) s.fd = raw_fd(3);
}

// IORING_NOP_CQE32: the extra words of a CQE32 ring's CQE (-EINVAL elsewhere).
constexpr std::uint32_t kNopCqe32 = 1u << 5;

void gen_nop(Gen& g, SqeSpec& s) {
  if (g.r.chance(20)) {
    s.op_flags = g.r.pick<std::uint32_t>({IORING_NOP_INJECT_RESULT, 2, 4, 0x100});
    s.len = g.r.pick<std::uint32_t>(
        {0, static_cast<std::uint32_t>(-5), static_cast<std::uint32_t>(-22), 7});
  }
  if (g.r.chance(3)) s.fd = raw_fd(5);
  if (g.r2.chance((g.setup_flags & IORING_SETUP_CQE32) ? 50 : 3)) {
    s.op_flags |= kNopCqe32;
    s.off = raw(g.r2.pick<std::uint64_t>({0x1122334455667788ULL, 0, 1}));  // extra1
    s.addr = raw(g.r2.pick<std::uint64_t>({0xaabbccddULL, 7, 0}));         // extra2
  }
}

// READV_FIXED / WRITEV_FIXED: segments mostly inside registered buffer
// buf_index.
void gen_rwv_fixed(Gen& g, SqeSpec& s) {
  gen_rwv(g, s);
  s.buf_index = static_cast<std::uint16_t>(g.r.below(2));
  if (s.addr.kind != AK::kIov) return;
  for (IovSeg& seg : s.iov) {
    if (!g.r.chance(80)) continue;  // now and then outside
    std::uint32_t len = g.r.pick<std::uint32_t>({0, 8, 100, 512, 4096});
    const std::uint32_t off = g.r.pick<std::uint32_t>({0, 512, 4096, 8000});
    if (len + off > kBufSize) len = kBufSize - off;
    seg.base = buf(kFixedBufs[s.buf_index], off);
    seg.len = len;
  }
  if (g.r.chance(5)) s.buf_index = g.r.pick<std::uint16_t>({2, 100});
}

// READ_MULTISHOT: no buffer group exists in these runs, so it is about the
// checks: buffer selection, addr/len, pollable or not.
void gen_read_mshot(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kPipeR, kPipeR, kEventfd, kFileA, kDevNull});
  maybe_fixed(g, s);
  if (g.r.chance(90)) s.flags |= IOSQE_BUFFER_SELECT;
  s.buf_index = static_cast<std::uint16_t>(g.r.below(3));  // buf_group
  if (g.r.chance(5)) s.addr = raw(1);
  if (g.r.chance(5)) s.len = 8;
}

// FUTEX_WAKE: nobody waits in these runs; the flags, mask and address checks.
void gen_futex_wake(Gen& g, SqeSpec& s) {
  std::uint32_t len = 4;
  s.addr = data_addr(g, &len);
  s.fd = raw_fd(static_cast<int>(g.r.pick<std::uint32_t>({2 | 128, 2 | 128, 2, 0, 3, 0x100 | 2})));
  s.off = raw(g.r.pick<std::uint64_t>({1, 0, 5, 1ULL << 32}));                   // addr2: how many
  s.addr3 = g.r.pick<std::uint64_t>({0xffffffffu, 0xffffffffu, 0, 1ULL << 32});  // mask
  if (g.r.chance(4)) s.len = 1;
}

void gen_uring_cmd(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kFileA, kPipeR, kEventfd, kDevNull, kDir, kRing});
  maybe_fixed(g, s);
  s.off = raw(g.r.pick<std::uint64_t>({0, 1, 2, 99, 1ULL << 32}));  // cmd_op, __pad1
  s.op_flags = g.r.chance(80) ? 0 : g.r.pick<std::uint32_t>({1, 2, 3, 0x100});
}

void gen_epoll_wait(Gen& g, SqeSpec& s) {
  s.fd = pick_fd(g, {kPipeR, kFileA, kEventfd, kRing});
  maybe_fixed(g, s);
  std::uint32_t len = 64;
  s.addr = data_addr(g, &len);
  s.len = g.r.pick<std::uint32_t>({1, 4, 0, 0x80000000u});
  if (g.r.chance(4)) s.op_flags = 1;
}

void gen_unknown(Gen& g, SqeSpec& s) {
  s.opcode = g.r.pick<std::uint8_t>({IORING_OP_LAST + 20, 0xff});
}

struct OpGen {
  std::uint8_t opcode;
  unsigned weight;
  void (*gen)(Gen&, SqeSpec&);
};

// The opcodes iostack implements, with how often each is drawn.
const OpGen kOps[] = {
    {IORING_OP_NOP, 4, gen_nop},
    {IORING_OP_READV, 6, gen_rwv},
    {IORING_OP_WRITEV, 5, gen_rwv},
    {IORING_OP_FSYNC, 4, gen_fsync},
    {IORING_OP_READ_FIXED, 4, gen_rw_fixed},
    {IORING_OP_WRITE_FIXED, 4, gen_rw_fixed},
    {IORING_OP_POLL_ADD, 6, gen_poll_add},
    {IORING_OP_POLL_REMOVE, 3, gen_poll_remove},
    {IORING_OP_SYNC_FILE_RANGE, 2, gen_sync_file_range},
    {IORING_OP_TIMEOUT, 4, gen_timeout},
    {IORING_OP_TIMEOUT_REMOVE, 2, gen_timeout_remove},
    {IORING_OP_ASYNC_CANCEL, 3, gen_async_cancel},
    {IORING_OP_FALLOCATE, 3, gen_fallocate},
    {IORING_OP_OPENAT, 3, gen_openat},
    {IORING_OP_CLOSE, 2, gen_close},
    {IORING_OP_STATX, 3, gen_statx},
    {IORING_OP_READ, 10, gen_rw},
    {IORING_OP_WRITE, 8, gen_rw},
    {IORING_OP_FADVISE, 2, gen_fadvise},
    {60 /* READV_FIXED */, 3, gen_rwv_fixed},
    {61 /* WRITEV_FIXED */, 3, gen_rwv_fixed},
    {49 /* READ_MULTISHOT */, 2, gen_read_mshot},
    {52 /* FUTEX_WAKE */, 1, gen_futex_wake},
    {IORING_OP_URING_CMD, 1, gen_uring_cmd},
    {59 /* EPOLL_WAIT */, 1, gen_epoll_wait},
    {0, 1, gen_unknown},
};

SqeSpec gen_sqe(Gen& g) {
  unsigned total = 0;
  for (const OpGen& o : kOps) total += o.weight;
  unsigned w = g.r.below(total);
  const OpGen* op = &kOps[0];
  for (const OpGen& o : kOps) {
    if (w < o.weight) {
      op = &o;
      break;
    }
    w -= o.weight;
  }
  SqeSpec s;
  s.opcode = op->opcode;
  s.user_data = g.next_ud++;
  op->gen(g, s);
  if (g.r4 && g.r4->chance(35)) uring_gen_extended(*g.r4, s);
  // SQE-wide fields, now and then wrong.
  if (g.r.chance(6))
    s.flags |= g.r.pick<std::uint8_t>({IOSQE_ASYNC, IOSQE_IO_DRAIN, IOSQE_CQE_SKIP_SUCCESS,
                                       IOSQE_BUFFER_SELECT, 0x80, IOSQE_IO_HARDLINK});
  if (g.r.chance(5))
    s.ioprio = g.r.pick<std::uint16_t>({1, (2 << 13) | 4, 1 << 13, 3 << 13, 0xffff, 7 << 13});
  if (g.r.chance(2)) s.personality = 1;
  if (g.r.chance(2)) s.addr3 = 1;
  if ((g.setup_flags & IORING_SETUP_SQE128) && g.r2.chance(30))
    s.big_fill = g.r2.pick<std::uint8_t>({0xff, 0x5a, 1});
  return s;
}

}  // namespace

UringProgram uring_generate(std::uint64_t seed) {
  Rng r(seed);
  Rng r2(seed ^ 0x5eed0f81695a11ULL);
  UringProgram p;
  p.entries = r.pick<std::uint32_t>({4, 8, 16, 16, 32});
  if (r.chance(25))
    p.setup_flags = r.pick<std::uint32_t>({IORING_SETUP_SUBMIT_ALL, IORING_SETUP_COOP_TASKRUN,
                                           IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                           IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                                           IORING_SETUP_IOPOLL});
  // Big SQEs and CQEs, with any of the above.
  if (r2.chance(15))
    p.setup_flags |= r2.pick<std::uint32_t>(
        {IORING_SETUP_SQE128, IORING_SETUP_CQE32, IORING_SETUP_SQE128 | IORING_SETUP_CQE32});
  // Half the polled rings poll hybridly (IORING_SETUP_HYBRID_IOPOLL, 6.13),
  // drawn apart so that no other draw moves.
  Rng r3(seed ^ 0x4b7b21d0c0ffee11ULL);
  if ((p.setup_flags & IORING_SETUP_IOPOLL) && r3.chance(50)) p.setup_flags |= 1u << 17;
  Rng r4(seed ^ 0x6e77f00d5eedc0deULL);
  Gen g{r, r2, p.setup_flags, r4.chance(40) ? &r4 : nullptr};
  p.reg_files = r.chance(85);
  p.reg_bufs = r.chance(85);
  const unsigned nsteps = 1 + r.below(4);
  for (unsigned i = 0; i < nsteps; ++i) {
    Step st;
    if (i > 0 && r.chance(20)) {
      st.kind = r.pick<Step::Kind>({Step::kPipeWrite, Step::kEventfdWrite, Step::kPipeRead});
      p.steps.push_back(st);
      continue;
    }
    const unsigned n = 1 + r.below(std::min<std::uint32_t>(p.entries, 8));
    for (unsigned k = 0; k < n; ++k) {
      SqeSpec s = gen_sqe(g);
      // Chains: link this one to the next; sometimes guard it with a timeout.
      if (k + 1 < n && r.chance(20)) {
        s.flags |= r.chance(85) ? IOSQE_IO_LINK : IOSQE_IO_HARDLINK;
        if (r.chance(25) && k + 2 < n) {
          st.sqes.push_back(s);
          SqeSpec lt;
          lt.opcode = IORING_OP_LINK_TIMEOUT;
          lt.user_data = g.next_ud++;
          gen_link_timeout(g, lt);
          if (r.chance(50)) lt.flags |= IOSQE_IO_LINK;
          st.sqes.push_back(lt);
          ++k;
          continue;
        }
      }
      st.sqes.push_back(s);
    }
    p.steps.push_back(st);
  }
  return p;
}

std::string uring_op_name(unsigned op) {
  if (const char* name = iostack_io_uring_op_name(op)) return name;
  return "OP" + std::to_string(op);
}

std::string uring_op_of(const UringProgram& p, std::uint64_t user_data) {
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes)
      if (s.user_data == user_data) return uring_op_name(s.opcode);
  // A poll whose user_data a POLL_REMOVE replaced.
  if (user_data > 1000) return "POLL_ADD";
  if (user_data == 0xCA7CA7) return "final-cancel";
  return "?";
}

namespace {

std::string sqe_flags_str(std::uint8_t f) {
  std::string s;
  const char* names[] = {"FIXED_FILE", "IO_DRAIN",      "IO_LINK",          "IO_HARDLINK",
                         "ASYNC",      "BUFFER_SELECT", "CQE_SKIP_SUCCESS", "0x80"};
  for (int i = 0; i < 8; ++i)
    if (f & (1u << i)) s += (s.empty() ? "" : "|") + std::string(names[i]);
  return s;
}

}  // namespace

std::string uring_print(const UringProgram& p) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "ring entries=%u setup_flags=%s%s%s\n", p.entries,
                hex(p.setup_flags).c_str(), p.reg_files ? " registered-files" : "",
                p.reg_bufs ? " registered-buffers" : "");
  out += line;
  int n = 0;
  for (const Step& st : p.steps) {
    switch (st.kind) {
      case Step::kPipeWrite:
        out += "  -- write 8 bytes to pipeW\n";
        continue;
      case Step::kEventfdWrite:
        out += "  -- write 1 to eventfd\n";
        continue;
      case Step::kPipeRead:
        out += "  -- read what pipeR holds\n";
        continue;
      case Step::kSubmit:
        break;
    }
    out += "  io_uring_enter #" + std::to_string(n++) + ":\n";
    for (const SqeSpec& s : st.sqes) {
      std::string l = "    ud=" + std::to_string(s.user_data) + " " + uring_op_name(s.opcode);
      l += " fd=" + fd_str(s.fd);
      if (s.off.kind != AK::kRaw || s.off.raw) l += " off=" + addr_str(s.off);
      if (s.addr.kind != AK::kRaw || s.addr.raw) l += " addr=" + addr_str(s.addr);
      if (!s.iov.empty()) {
        l += "[";
        for (const IovSeg& v : s.iov) l += addr_str(v.base) + ":" + std::to_string(v.len) + " ";
        l.back() = ']';
      }
      if (s.len) l += " len=" + std::to_string(s.len);
      if (s.op_flags) l += " op_flags=" + hex(s.op_flags);
      if (s.flags) l += " flags=" + sqe_flags_str(s.flags);
      if (s.ioprio) l += " ioprio=" + hex(s.ioprio);
      if (s.buf_index) l += " buf_index=" + std::to_string(s.buf_index);
      if (s.personality) l += " personality=" + std::to_string(s.personality);
      if (s.file_index) l += " file_index=" + std::to_string(s.file_index);
      if (s.addr3) l += " addr3=" + hex(s.addr3);
      if (s.big_fill) l += " sqe128-tail=" + hex(s.big_fill) + "...";
      if (s.fd2_in != SqeSpec::kNoFd2)
        l += std::string(s.fd2_in == SqeSpec::kFd2SpliceIn ? " fd_in="
                         : s.fd2_in == SqeSpec::kFd2Len    ? " len=fd:"
                                                           : " off=fd:") +
             fd_str(s.fd2);
      if (s.addr3_at.kind != AK::kRaw) l += " addr3=" + addr_str(s.addr3_at);
      out += l + "\n";
    }
  }
  return out;
}

std::size_t uring_items(const UringProgram& p) {
  std::size_t n = 0;
  for (const Step& st : p.steps) n += st.kind == Step::kSubmit ? st.sqes.size() : 1;
  return n;
}

UringProgram uring_without(const UringProgram& p, std::size_t item) {
  UringProgram q = p;
  q.steps.clear();
  std::size_t i = 0;
  for (const Step& st : p.steps) {
    if (st.kind != Step::kSubmit) {
      if (i++ != item) q.steps.push_back(st);
      continue;
    }
    Step s2 = st;
    s2.sqes.clear();
    for (const SqeSpec& s : st.sqes)
      if (i++ != item) s2.sqes.push_back(s);
    if (!s2.sqes.empty()) q.steps.push_back(s2);
  }
  return q;
}

}  // namespace fuzz
