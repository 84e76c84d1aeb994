// Requests on a descriptor opened with O_PATH, compared with the kernel's
// answers: fget refuses such a file, so every op that takes a file answers
// -EBADF before anything of its own is looked at.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;

// One op per SQE, each alone in its batch (an error at prep ends the
// batch), on `fd`; ud = the SQE's position.
std::vector<Cqe> ops_on(Ring& r, int fd) {
  static char buf[64];
  static struct iovec iov = {buf, sizeof(buf)};
  static struct epoll_event ev = {EPOLLIN, {}};
  static struct statx stx;
  std::vector<Cqe> v;
  struct Op {
    std::uint8_t opcode;
    const void* addr;
    unsigned len;
    std::uint64_t off;
    std::uint32_t op_flags;
  };
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const Op ops[] = {
      {IORING_OP_READ, buf, 8, 0, 0},
      {IORING_OP_WRITE, buf, 8, 0, 0},
      {IORING_OP_READV, &iov, 1, 0, 0},
      {IORING_OP_READ, buf, 0, 0, 0},
      {IORING_OP_FSYNC, nullptr, 0, 0, 0},
      {IORING_OP_SYNC_FILE_RANGE, nullptr, 8, 0, 0},
      {IORING_OP_FALLOCATE, reinterpret_cast<void*>(4096), 0, 0, 0},
      {IORING_OP_FADVISE, nullptr, 4096, 0, POSIX_FADV_NORMAL},
      {IORING_OP_FADVISE, nullptr, 4096, 0, POSIX_FADV_WILLNEED},
      {IORING_OP_MADVISE, buf, 0, 0, 0},
      {IORING_OP_POLL_ADD, nullptr, 0, 0, POLLIN},
      {IORING_OP_SEND, buf, 8, 0, 0},
      {IORING_OP_RECV, buf, 8, 0, 0},
      {IORING_OP_SHUTDOWN, nullptr, SHUT_RD, 0, 0},
      {IORING_OP_MSG_RING, nullptr, 0, 0, 0},
      {uapi::kOpFtruncate, nullptr, 0, 0, 0},
      {uapi::kOpReadMultishot, nullptr, 0, 0, 0},
      {IORING_OP_SPLICE, nullptr, 8, 0, 0},
      {IORING_OP_STATX, "", STATX_BASIC_STATS, reinterpret_cast<std::uintptr_t>(&stx),
       AT_EMPTY_PATH},
  };
  int ud = 1;
  for (const Op& o : ops) {
    io_uring_sqe* s = add(r, o.opcode, fd, o.addr, o.len, o.off, ud++, 0);
    s->rw_flags = static_cast<int>(o.op_flags);
    if (o.opcode == IORING_OP_SPLICE) {
      s->splice_fd_in = fd;
      s->splice_off_in = static_cast<std::uint64_t>(-1);
    }
    if (o.opcode == uapi::kOpReadMultishot) s->flags |= IOSQE_BUFFER_SELECT;
    append(&v, run(r, 1));
  }
  // EPOLL_CTL of the O_PATH descriptor into a real epoll instance.
  add(r, IORING_OP_EPOLL_CTL, ep, &ev, EPOLL_CTL_ADD, fd, ud++, 0);
  append(&v, run(r, 1));
  ::close(ep);
  // Zero-length SPLICE and TEE, which make no host call: from it, and to it.
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return v;
  io_uring_sqe* s = add(r, IORING_OP_SPLICE, p[1], nullptr, 0, 0, ud++, 0);
  s->splice_fd_in = fd;
  s->splice_off_in = static_cast<std::uint64_t>(-1);
  append(&v, run(r, 1));
  s = add(r, IORING_OP_SPLICE, fd, nullptr, 0, static_cast<std::uint64_t>(-1), ud++, 0);
  s->splice_fd_in = p[0];
  s->splice_off_in = static_cast<std::uint64_t>(-1);
  append(&v, run(r, 1));
  s = add(r, IORING_OP_TEE, fd, nullptr, 0, 0, ud++, 0);
  s->splice_fd_in = p[0];
  append(&v, run(r, 1));
  // A FALLOCATE refused at the lookup breaks its link.
  add(r, IORING_OP_FALLOCATE, fd, reinterpret_cast<void*>(4096), 0, 0, ud++, IOSQE_IO_LINK);
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud++, 0);
  append(&v, run(r, 2));
  // A bundle SEND on io-wq.
  s = add(r, IORING_OP_SEND, fd, buf, 8, 0, ud++, IOSQE_ASYNC);
  s->ioprio = uapi::kRecvsendBundle;
  append(&v, run(r, 1));
  ::close(p[0]);
  ::close(p[1]);
  return v;
}

TEST(UringOpath, EveryFileOpRefusesAPathDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  char path[] = "/tmp/iostack-opath-XXXXXX";
  const int made = mkostemp(path, O_CLOEXEC);
  ASSERT_GE(made, 0);
  ASSERT_EQ(write(made, "0123456789abcdef", 16), 16);
  ::close(made);
  compare_with_kernel(
      [&](Ring& r) {
        const int fd = open(path, O_PATH | O_CLOEXEC);
        std::vector<Cqe> v = ops_on(r, fd);
        ::close(fd);
        return v;
      },
      8);
  unlink(path);
}

}  // namespace
}  // namespace uring_test
