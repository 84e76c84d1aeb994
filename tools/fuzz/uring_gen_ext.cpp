// The generator's later opcodes: sockets, splice and tee, provided
// buffers, path and xattr ops, descriptor-table ops, futex waits, madvise,
// epoll_ctl and msg_ring, over the same small world. They come from their
// own random stream, so programs without them stay as they were.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "uring_prog.hpp"

namespace fuzz {

namespace {

// Opcodes newer than the build's headers may know.
constexpr std::uint8_t kOpWaitid = 50, kOpFutexWait = 51, kOpFutexWaitv = 53,
                       kOpFixedFdInstall = 54, kOpFtruncate = 55, kOpBind = 56, kOpListen = 57,
                       kOpRecvZc = 58, kOpPipe = 62;

FdSel slot_of(int s) { return FdSel{s, -1}; }
FdSel raw_of(int v) { return FdSel{-1, v}; }

// Mostly one of `good`, sometimes any world descriptor or a bad number.
FdSel any_fd(Rng& r, std::initializer_list<int> good) {
  const unsigned c = r.below(100);
  if (c < 80) return slot_of(r.pick(good));
  if (c < 93) return slot_of(static_cast<int>(r.below(kNumAllSlots)));
  return raw_of(r.pick({-1, 999}));
}

// A path inside the world directory: these ops rename, unlink, link and
// set attributes, and the fuzzer runs as root, so never "/dev/null" (path
// 6), which the other ops only open or look at.
Addr path(Rng& r) {
  Addr a;
  a.kind = AK::kPath;
  a.idx = static_cast<std::uint8_t>(r.pick<unsigned>({0, 1, 2, 3, 4, 5, 7, 8, 9}));
  return a;
}

Addr obj(AK k, unsigned idx = 0) {
  Addr a;
  a.kind = k;
  a.idx = static_cast<std::uint8_t>(idx);
  return a;
}

// A buffer the program may scribble on: 1 and 3 are never registered
// (MADV_DONTNEED on a pinned page would part the kernel's copy from the
// program's).
Addr scratch_buf(Rng& r, std::uint32_t* len) {
  if (r.chance(6)) return r.pick({raw(0), raw(1)});
  *len = r.pick<std::uint32_t>({0, 1, 8, 16, 512, 4096});
  return buf(r.pick<unsigned>({1, 3}), r.chance(70) ? 0 : 100);
}

constexpr std::initializer_list<int> kSocks = {kSockA, kSockA, kSockB};

void gen_splice(Rng& r, SqeSpec& s, bool tee) {
  s.fd = any_fd(r, {kPipeW, kFileA, kFileE, kSockA, kDevNull});
  s.fd2_in = SqeSpec::kFd2SpliceIn;
  s.fd2 = any_fd(r, {kPipeR, kPipeR, kFileB, kSockB, kEventfd});
  s.len = r.pick<std::uint32_t>({0, 1, 8, 16, 4096, 0x7fffffff});
  s.op_flags = r.chance(75) ? 0 : r.pick<std::uint32_t>({1, 2, 4, 0x10, 1u << 31});
  if (tee) {
    if (r.chance(5)) s.off = raw(1);
    return;
  }
  const std::uint64_t none = static_cast<std::uint64_t>(-1);
  s.off = raw(r.chance(60) ? none : r.pick<std::uint64_t>({0, 100, 1ULL << 62}));
  s.addr = raw(r.chance(60) ? none : r.pick<std::uint64_t>({0, 4096}));
}

void gen_ftruncate(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, {kFileA, kFileE, kFileB, kFileC, kPipeW});
  s.off = raw(r.pick<std::uint64_t>({0, 100, 4096, 20000, 1ULL << 63}));
  if (r.chance(5)) s.len = 1;
}

void gen_files_update(Rng& r, SqeSpec& s) {
  s.addr = r.chance(90) ? obj(AK::kFds) : raw(1);
  s.len = r.pick<std::uint32_t>({1, 2, 4, 0});
  s.off = raw(r.pick<std::uint64_t>({0, 2, 4, 5, 6, 0xffffffffu}));  // last: allocate
  if (r.chance(5)) s.op_flags = 1;
}

void gen_msg_ring(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, {kRing, kRing, kRing, kFileA, kEventfd});
  s.addr = raw(r.chance(80) ? 0 : r.pick<std::uint64_t>({1, 2}));  // DATA, SEND_FD, bad
  s.len = r.pick<std::uint32_t>({0, 7, static_cast<std::uint32_t>(-5)});
  s.off = raw(r.pick<std::uint64_t>({0x4d5347, 0x4d5348}));  // the CQE's user_data
  s.op_flags = r.chance(80) ? 0 : r.pick<std::uint32_t>({1, 2, 4});
  if (s.addr.raw == 1) {
    s.addr3 = r.below(kNumFixedFiles + 1);  // source slot
    s.file_index = r.pick<std::uint32_t>({0, 5, 0xffffffffu});
  }
}

void gen_provide_buffers(Rng& r, SqeSpec& s) {
  s.fd = raw_of(r.pick({4, 4, 16, 0, 70000}));  // how many
  s.addr = r.chance(90) ? buf(3, 0) : r.pick({raw(0), obj(AK::kProtNone)});
  s.len = r.pick<std::uint32_t>({512, 512, 100, 0, 0x80000000u});
  s.off = raw(r.pick<std::uint64_t>({0, 10, 65535, 65536}));  // first buffer id
  s.buf_index = static_cast<std::uint16_t>(r.below(2));       // group
}

void gen_remove_buffers(Rng& r, SqeSpec& s) {
  s.fd = raw_of(r.pick({1, 4, 0, 70000}));
  s.buf_index = static_cast<std::uint16_t>(r.below(3));
  if (r.chance(5)) s.off = raw(1);
}

void gen_futex_wait(Rng& r, SqeSpec& s) {
  s.addr = r.chance(90) ? buf(0, 0) : r.pick({raw(0), obj(AK::kProtNone), buf(0, 1)});
  s.fd = raw_of(r.pick({2 | 128, 2 | 128, 2, 3, 0x100 | 2}));
  s.off = raw(r.pick<std::uint64_t>({kBuf0Word, kBuf0Word, 0, 1ULL << 32}));  // expected
  s.addr3 = r.pick<std::uint64_t>({0xffffffffu, 0xffffffffu, 0, 1});          // mask
  if (r.chance(5)) s.op_flags = 1;
}

void gen_futex_waitv(Rng& r, SqeSpec& s) {
  s.addr = r.chance(90) ? obj(AK::kWaitv) : raw(1);
  s.len = r.pick<std::uint32_t>({1, 1, 0, 200});
  if (r.chance(5)) s.fd = raw_of(1);
}

void gen_madvise(Rng& r, SqeSpec& s) {
  s.addr = r.chance(85) ? buf(r.pick<unsigned>({1, 3}), 0) : r.pick({raw(0), buf(1, 100)});
  s.len = r.pick<std::uint32_t>({4096, kBufSize, 0, 100});
  s.op_flags = r.pick<std::uint32_t>({MADV_NORMAL, MADV_WILLNEED, MADV_DONTNEED, MADV_COLD, 999});
}

// RENAMEAT, LINKAT: old (fd, addr), new (len, addr2); SYMLINKAT: target
// addr, new (fd, addr2); UNLINKAT, MKDIRAT: (fd, addr).
void gen_path_op(Rng& r, SqeSpec& s) {
  const bool two_dirs = s.opcode == IORING_OP_RENAMEAT || s.opcode == IORING_OP_LINKAT;
  const bool two_paths = two_dirs || s.opcode == IORING_OP_SYMLINKAT;
  s.fd = r.chance(60) ? raw_of(AT_FDCWD) : any_fd(r, {kDir, kFileA});
  s.addr = r.chance(94) ? path(r) : raw(r.pick<std::uint64_t>({0, 1}));
  if (two_paths) s.off = r.chance(94) ? path(r) : raw(0);
  if (two_dirs) {
    s.fd2_in = SqeSpec::kFd2Len;
    s.fd2 = r.chance(60) ? raw_of(AT_FDCWD) : any_fd(r, {kDir, kFileA});
  }
  switch (s.opcode) {
    case IORING_OP_RENAMEAT:
      s.op_flags = r.chance(80) ? 0 : r.pick<std::uint32_t>({1, 2, 0x100});  // NOREPLACE, EXCHANGE
      break;
    case IORING_OP_UNLINKAT:
      s.op_flags = r.chance(70) ? 0 : r.pick<std::uint32_t>({AT_REMOVEDIR, 1});
      break;
    case IORING_OP_MKDIRAT:
      s.len = r.pick<std::uint32_t>({0755, 0700, 0});
      break;
    case IORING_OP_LINKAT:
      s.op_flags = r.chance(80) ? 0 : r.pick<std::uint32_t>({AT_SYMLINK_FOLLOW, 1});
      break;
    default:
      break;
  }
  if (r.chance(4)) s.buf_index = 1;
}

// FSETXATTR/FGETXATTR: fd; SETXATTR/GETXATTR: path in addr3. Name in addr,
// value in addr2, size in len.
void gen_xattr(Rng& r, SqeSpec& s) {
  const bool by_fd = s.opcode == IORING_OP_FSETXATTR || s.opcode == IORING_OP_FGETXATTR;
  const bool set = s.opcode == IORING_OP_FSETXATTR || s.opcode == IORING_OP_SETXATTR;
  if (by_fd) {
    s.fd = any_fd(r, {kFileA, kFileA, kFileB, kDir, kPipeR});
  } else {
    s.addr3_at = r.chance(94) ? path(r) : obj(AK::kProtNone);
  }
  s.addr = r.chance(94) ? obj(AK::kName, r.below(kNumXattrNames)) : raw(0);
  std::uint32_t len = 16;
  s.off = scratch_buf(r, &len);
  s.len = r.chance(85) ? len : r.pick<std::uint32_t>({70000, 0});
  if (set)
    s.op_flags = r.chance(70) ? 0 : r.pick<std::uint32_t>({1, 2, 4});  // CREATE, REPLACE
  else if (r.chance(5))
    s.op_flags = 1;
}

void gen_openat2(Rng& r, SqeSpec& s) {
  s.fd = r.chance(60) ? raw_of(AT_FDCWD) : any_fd(r, {kDir, kFileA});
  s.addr = r.chance(94) ? path(r) : raw(0);
  s.off = r.chance(92) ? obj(AK::kHow, r.below(kNumHows)) : raw(1);
  s.len = r.chance(90) ? 24 : r.pick<std::uint32_t>({0, 8, 32});
  if (r.chance(10)) s.file_index = r.pick<std::uint32_t>({1, 0xffffffffu});
}

void gen_epoll_ctl(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, {kEpoll, kEpoll, kEpoll, kPipeR});
  s.len = r.pick<std::uint32_t>({EPOLL_CTL_ADD, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, 9});
  s.fd2_in = SqeSpec::kFd2Off;
  s.fd2 = any_fd(r, {kPipeW, kPipeR, kSockA, kSockB, kEventfd, kFileA, kEpoll});
  s.addr = r.chance(90) ? obj(AK::kEpev) : raw(0);
}

void gen_send_recv(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, kSocks);
  std::uint32_t len = 16;
  const bool msg = s.opcode == IORING_OP_SENDMSG || s.opcode == IORING_OP_RECVMSG ||
                   s.opcode == IORING_OP_SENDMSG_ZC;
  s.addr = msg ? (r.chance(92) ? obj(AK::kMsg) : raw(0)) : scratch_buf(r, &len);
  s.len = msg ? (r.chance(90) ? 0 : 1) : len;
  s.op_flags = r.chance(75) ? 0
                            : r.pick<std::uint32_t>({MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB,
                                                     MSG_WAITALL, MSG_PEEK, MSG_TRUNC});
  if (r.chance(15))
    s.ioprio = static_cast<std::uint16_t>(r.pick<unsigned>({1, 2, 4, 8, 16, 0x100}));
  if (s.opcode == IORING_OP_RECV && r.chance(20)) {
    s.flags |= IOSQE_BUFFER_SELECT;
    s.addr = raw(0);
    s.buf_index = static_cast<std::uint16_t>(r.below(2));
  }
}

void gen_shutdown(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, {kSockA, kSockB, kPipeR});
  s.len = r.pick<std::uint32_t>({SHUT_RD, SHUT_WR, SHUT_RDWR, 5});
  if (r.chance(5)) s.off = raw(1);
}

void gen_socket(Rng& r, SqeSpec& s) {
  s.fd = raw_of(r.pick({AF_UNIX, AF_UNIX, AF_INET, 999}));
  s.off = raw(r.pick<std::uint64_t>({SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM | SOCK_NONBLOCK, 0}));
  s.len = r.pick<std::uint32_t>({0, 0, 99});
  if (r.chance(5)) s.op_flags = 1;
  if (r.chance(10)) s.file_index = r.pick<std::uint32_t>({1, 0xffffffffu});
}

// BIND, CONNECT: a sockaddr in addr, its length in addr2; LISTEN: backlog
// in len; ACCEPT: no address wanted.
void gen_sock_setup(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, {kSockA, kSockB, kFileA});
  switch (s.opcode) {
    case kOpListen:
      s.len = r.pick<std::uint32_t>({1, 128});
      break;
    case IORING_OP_ACCEPT:
      s.op_flags = r.chance(80) ? 0 : r.pick<std::uint32_t>({SOCK_NONBLOCK, 1});
      break;
    default:
      s.addr = r.chance(90) ? obj(AK::kSockaddr) : raw(0);
      s.off = raw(r.pick<std::uint64_t>({kSockaddrLen, kSockaddrLen, 1, 200}));
      break;
  }
}

void gen_fixed_fd_install(Rng& r, SqeSpec& s) {
  s.fd = raw_of(static_cast<int>(r.below(kNumFixedFiles + 1)));
  if (r.chance(85)) s.flags |= IOSQE_FIXED_FILE;
  s.op_flags = r.chance(80) ? 0 : r.pick<std::uint32_t>({1, 2});  // NO_CLOEXEC, bad
}

void gen_waitid(Rng& r, SqeSpec& s) {
  s.len = r.pick<std::uint32_t>({P_ALL, P_PID, 99});  // idtype
  s.fd = raw_of(r.pick({0, 1}));                      // id
  s.file_index = r.pick<std::uint32_t>({WEXITED, WEXITED | WNOHANG, 0});
  s.off = r.chance(90) ? obj(AK::kScratch) : raw(1);  // infop
}

void gen_pipe(Rng& r, SqeSpec& s) {
  s.addr = r.chance(90) ? obj(AK::kScratch) : raw(1);
  s.op_flags = r.pick<std::uint32_t>({0, O_CLOEXEC, O_NONBLOCK, 1});
  if (r.chance(10)) s.file_index = r.pick<std::uint32_t>({1, 0xffffffffu});
}

void gen_recv_zc(Rng& r, SqeSpec& s) {
  s.fd = any_fd(r, kSocks);
  s.len = r.pick<std::uint32_t>({0, 16});
}

struct ExtOp {
  std::uint8_t opcode;
  unsigned weight;
  void (*gen)(Rng&, SqeSpec&);
};

const ExtOp kExtOps[] = {
    {IORING_OP_SPLICE, 4, [](Rng& r, SqeSpec& s) { gen_splice(r, s, false); }},
    {IORING_OP_TEE, 2, [](Rng& r, SqeSpec& s) { gen_splice(r, s, true); }},
    {kOpFtruncate, 2, gen_ftruncate},
    {IORING_OP_FILES_UPDATE, 2, gen_files_update},
    {IORING_OP_MSG_RING, 2, gen_msg_ring},
    {IORING_OP_PROVIDE_BUFFERS, 3, gen_provide_buffers},
    {IORING_OP_REMOVE_BUFFERS, 1, gen_remove_buffers},
    {kOpFutexWait, 2, gen_futex_wait},
    {kOpFutexWaitv, 1, gen_futex_waitv},
    {IORING_OP_MADVISE, 1, gen_madvise},
    {IORING_OP_RENAMEAT, 1, gen_path_op},
    {IORING_OP_UNLINKAT, 1, gen_path_op},
    {IORING_OP_MKDIRAT, 1, gen_path_op},
    {IORING_OP_SYMLINKAT, 1, gen_path_op},
    {IORING_OP_LINKAT, 1, gen_path_op},
    {IORING_OP_FSETXATTR, 1, gen_xattr},
    {IORING_OP_FGETXATTR, 1, gen_xattr},
    {IORING_OP_SETXATTR, 1, gen_xattr},
    {IORING_OP_GETXATTR, 1, gen_xattr},
    {IORING_OP_OPENAT2, 2, gen_openat2},
    {IORING_OP_EPOLL_CTL, 2, gen_epoll_ctl},
    {IORING_OP_SEND, 3, gen_send_recv},
    {IORING_OP_RECV, 3, gen_send_recv},
    {IORING_OP_SENDMSG, 1, gen_send_recv},
    {IORING_OP_RECVMSG, 1, gen_send_recv},
    {IORING_OP_SEND_ZC, 1, gen_send_recv},
    {IORING_OP_SENDMSG_ZC, 1, gen_send_recv},
    {IORING_OP_SHUTDOWN, 1, gen_shutdown},
    {IORING_OP_SOCKET, 1, gen_socket},
    {kOpBind, 1, gen_sock_setup},
    {kOpListen, 1, gen_sock_setup},
    {IORING_OP_ACCEPT, 1, gen_sock_setup},
    {IORING_OP_CONNECT, 1, gen_sock_setup},
    {kOpFixedFdInstall, 1, gen_fixed_fd_install},
    {kOpWaitid, 1, gen_waitid},
    {kOpPipe, 1, gen_pipe},
    {kOpRecvZc, 1, gen_recv_zc},
};

}  // namespace

void uring_gen_extended(Rng& r, SqeSpec& s) {
  unsigned total = 0;
  for (const ExtOp& o : kExtOps) total += o.weight;
  unsigned w = r.below(total);
  const ExtOp* op = &kExtOps[0];
  for (const ExtOp& o : kExtOps) {
    if (w < o.weight) {
      op = &o;
      break;
    }
    w -= o.weight;
  }
  const std::uint64_t ud = s.user_data;
  s = SqeSpec{};
  s.opcode = op->opcode;
  s.user_data = ud;
  op->gen(r, s);
}

bool uring_returns_fd(unsigned opcode) {
  return opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2 || opcode == IORING_OP_SOCKET ||
         opcode == IORING_OP_ACCEPT || opcode == kOpFixedFdInstall;
}

}  // namespace fuzz
