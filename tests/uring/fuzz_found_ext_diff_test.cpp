// Differences iostack-fuzz found once its generator drew the later opcodes
// (sockets, xattrs, ...), each reduced to a few SQEs and compared with the
// kernel's CQEs.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <string>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

// A failed FGETXATTR/FSETXATTR/GETXATTR/SETXATTR does not break its link:
// io_xattr_finish sets the result without failing the request (fuzz seed
// 14 of the extended generator: FGETXATTR of a pipe linked to FALLOCATE).
TEST(UringFuzzFoundExt, FailedXattrOpKeepsItsLink) {
  SKIP_WITHOUT_KERNEL_URING();
  char tmpl[] = "/tmp/iostack-fuzzext-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const std::string path = tmpl;
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  compare_with_kernel(
      [&](Ring& r) {
        char value[16] = {};
        // No namespace prefix: -EOPNOTSUPP when the op runs.
        io_uring_sqe* s =
            add(r, IORING_OP_FGETXATTR, p[0], "nodot", sizeof(value), 0, 1, IOSQE_IO_LINK);
        s->addr2 = reinterpret_cast<std::uintptr_t>(value);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
        // An attribute the file does not have (-ENODATA, or -EOPNOTSUPP
        // where the filesystem keeps no user attributes).
        s = add(r, IORING_OP_GETXATTR, -1, "user.iostack-absent", sizeof(value), 0, 3,
                IOSQE_IO_LINK);
        s->addr2 = reinterpret_cast<std::uintptr_t>(value);
        s->addr3 = reinterpret_cast<std::uintptr_t>(path.c_str());
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
        // XATTR_REPLACE of an attribute that is not there.
        s = add(r, IORING_OP_FSETXATTR, fd, "user.iostack-absent", 4, 0, 5, IOSQE_IO_LINK);
        s->addr2 = reinterpret_cast<std::uintptr_t>("abcd");
        s->xattr_flags = 2;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 6, 0);
        return run(r, 6);
      },
      8);
  ::close(p[0]);
  ::close(p[1]);
  ::close(fd);
  unlink(path.c_str());
}

// SEND_ZC and SENDMSG_ZC on a socket whose protocol has no zero copy
// (AF_UNIX) fail with -EOPNOTSUPP, and on a pipe with -ENOTSOCK; the
// notification prep allocated still comes: the result carries F_MORE and a
// CQE with F_NOTIF follows it (fuzz seeds 115 and 146 of the extended
// generator; 41496 for IORING_NOTIF_USAGE_ZC_COPIED).
TEST(UringFuzzFoundExt, ZeroCopySendNeedsAZeroCopyProtocol) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2], p[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  compare_with_kernel(
      [&](Ring& r) {
        char data[16] = "zero copy";
        struct iovec iov = {data, sizeof(data)};
        struct msghdr msg = {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        add(r, IORING_OP_SEND_ZC, sv[0], data, sizeof(data), 0, 1, 0);
        add(r, IORING_OP_SENDMSG_ZC, sv[1], &msg, 0, 0, 2, 0);
        add(r, IORING_OP_SEND_ZC, p[1], data, sizeof(data), 0, 3, 0);
        // With REPORT_USAGE the notification of a send that never went
        // (cancelled by its failed link, or failed) says it was copied.
        add(r, IORING_OP_READ, 999, data, 8, 0, 4, IOSQE_IO_LINK);
        add(r, IORING_OP_SEND_ZC, sv[0], data, sizeof(data), 0, 5, 0)->ioprio =
            IORING_SEND_ZC_REPORT_USAGE;
        add(r, IORING_OP_SEND_ZC, sv[0], data, sizeof(data), 0, 6, 0)->ioprio =
            IORING_SEND_ZC_REPORT_USAGE;
        auto out = run(r, 11);
        char got[64];
        // Nothing was sent.
        out.push_back(
            Cqe{99, static_cast<std::int32_t>(recv(sv[1], got, sizeof(got), MSG_DONTWAIT)), 0});
        return out;
      },
      8);
  for (int fd : {sv[0], sv[1], p[0], p[1]}) ::close(fd);
}

// ACCEPT of a socket that does not listen (a connected socketpair's end)
// fails at once with -EINVAL; it does not wait for a connection (fuzz seed
// 249 of the extended generator).
TEST(UringFuzzFoundExt, AcceptOfASocketThatDoesNotListen) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        add(r, IORING_OP_ACCEPT, sv[1], nullptr, 0, 0, 1, 0);
        add(r, IORING_OP_ACCEPT, sv[0], nullptr, 0, 0, 2, IOSQE_ASYNC);
        return run(r, 2);
      },
      8);
  for (int fd : sv) ::close(fd);
}

// A RECV with IOSQE_BUFFER_SELECT of a descriptor that is not open is
// -EBADF before any buffer is looked for, also on io-wq (IOSQE_ASYNC) and
// with no buffers provided (fuzz seed 290 of the extended generator).
TEST(UringFuzzFoundExt, RecvOfABadDescriptorBeforeItsBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [&](Ring& r) {
        io_uring_sqe* s =
            add(r, IORING_OP_RECV, 999, nullptr, 16, 0, 1, IOSQE_ASYNC | IOSQE_BUFFER_SELECT);
        s->buf_group = 1;
        s = add(r, IORING_OP_RECV, 999, nullptr, 16, 0, 2, IOSQE_BUFFER_SELECT);
        s->buf_group = 1;
        return run(r, 2);
      },
      8);
}

// A SEND_ZC that prep refuses after allocating its notification (unknown
// flags in ioprio, a SENDMSG_ZC with addr2) still posts it: the result
// carries F_MORE and a CQE with F_NOTIF follows; refusals before that point
// (CQE_SKIP_SUCCESS, addr3) have none (fuzz seeds 186 and 253 of the
// extended generator).
TEST(UringFuzzFoundExt, ZeroCopySendRefusedAtPrepStillNotifies) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        char data[16] = "zero copy";
        struct iovec iov = {data, sizeof(data)};
        struct msghdr msg = {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<Cqe> out;
        auto one = [&](std::uint8_t op, const void* addr, unsigned len, std::uint8_t flags,
                       std::uint16_t ioprio, std::uint64_t addr2, std::uint64_t addr3,
                       unsigned cqes) {
          io_uring_sqe* s = add(r, op, sv[0], addr, len, 0, out.size() + 1, flags);
          s->ioprio = ioprio;
          s->addr2 = addr2;
          s->addr3 = addr3;
          const auto c = run(r, cqes);
          out.insert(out.end(), c.begin(), c.end());
        };
        one(IORING_OP_SEND_ZC, data, sizeof(data), 0, 0xffff, 0, 0, 2);
        one(IORING_OP_SENDMSG_ZC, &msg, 0, 0, 0, 8, 0, 2);
        one(IORING_OP_SEND_ZC, data, sizeof(data), IOSQE_CQE_SKIP_SUCCESS, 0, 0, 0, 1);
        one(IORING_OP_SEND_ZC, data, sizeof(data), 0, 0, 0, 1, 1);
        return out;
      },
      8);
  for (int fd : sv) ::close(fd);
}

// RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT, LINKAT, MADVISE and FTRUNCATE set
// their result without failing the request, so a failure does not break
// their link; a descriptor that is not open does (io_assign_file) (fuzz
// seeds 374 and 620 of the extended generator).
TEST(UringFuzzFoundExt, FailedPathOpsKeepTheirLink) {
  SKIP_WITHOUT_KERNEL_URING();
  char dir[] = "/tmp/iostack-fuzzext-dir-XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(dir));
  const std::string d = dir;
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, mem);
  compare_with_kernel(
      [&](Ring& r) {
        std::uint64_t ud = 1;
        auto linked = [&](io_uring_sqe* s) {
          s->flags |= IOSQE_IO_LINK;
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud++, 0);
        };
        io_uring_sqe* s =
            add(r, IORING_OP_RENAMEAT, dfd, "absent", static_cast<unsigned>(dfd), 0, ud++, 0);
        s->addr2 = reinterpret_cast<std::uintptr_t>("other");
        linked(s);
        linked(add(r, IORING_OP_UNLINKAT, dfd, "absent", 0, 0, ud++, 0));
        linked(add(r, IORING_OP_MKDIRAT, dfd, ".", 0755, 0, ud++, 0));  // -EEXIST
        s = add(r, IORING_OP_SYMLINKAT, dfd, "target", 0, 0, ud++, 0);
        s->addr2 = reinterpret_cast<std::uintptr_t>("absent/link");  // -ENOENT
        linked(s);
        s = add(r, IORING_OP_LINKAT, dfd, "absent", static_cast<unsigned>(dfd), 0, ud++, 0);
        s->addr2 = reinterpret_cast<std::uintptr_t>("other");
        linked(s);
        s = add(r, IORING_OP_MADVISE, -1, mem, 4096, 0, ud++, 0);
        s->fadvise_advice = 999;  // -EINVAL
        linked(s);
        linked(add(r, iostack::uring::uapi::kOpFtruncate, p[1], nullptr, 0, 100, ud++,
                   0));  // a pipe: -EINVAL
        linked(add(r, iostack::uring::uapi::kOpFtruncate, 999, nullptr, 0, 100, ud++,
                   0));  // breaks it
        return run(r, 16);
      },
      32);
  munmap(mem, 4096);
  for (int fd : {p[0], p[1], dfd}) ::close(fd);
  rmdir(d.c_str());
}

// An ASYNC_CANCEL of a FUTEX_WAIT completes it with -ECANCELED without
// failing it: the request linked behind it runs (fuzz seed 735 of the
// extended generator).
TEST(UringFuzzFoundExt, CancelledFutexWaitKeepsItsLink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [&](Ring& r) {
        static std::uint32_t word = 7;
        io_uring_sqe* s =
            add(r, iostack::uring::uapi::kOpFutexWait, 2 | 128, &word, 0, 0, 1, IOSQE_IO_LINK);
        s->addr2 = 7;  // the value it holds: waits
        s->addr3 = 0xffffffffu;
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
        std::vector<Cqe> out{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 3, 0)->addr = 1;
        const auto c = run(r, 3);
        out.insert(out.end(), c.begin(), c.end());
        return out;
      },
      8);
}

// MSG_RING to a descriptor that is not open is -EBADF (io_assign_file);
// to an open file that is no ring, -EBADFD (fuzz seed 687 of the extended
// generator).
TEST(UringFuzzFoundExt, MsgRingToABadDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  compare_with_kernel(
      [&](Ring& r) {
        add(r, IORING_OP_MSG_RING, 999, nullptr, 7, 0x4d5347, 1, 0);
        add(r, IORING_OP_MSG_RING, p[0], nullptr, 7, 0x4d5347, 2, 0);
        return run(r, 2);
      },
      8);
  for (int fd : p) ::close(fd);
}

// A SEND or RECV with buffer selection and no buffer provided answers what
// the kernel finds first: a file that is no socket is -ENOTSOCK, also for a
// bundle RECV (fuzz seeds 1518 of the extended generator, 48630).
TEST(UringFuzzFoundExt, SendOfAFileBeforeItsBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  char tmpl[] = "/tmp/iostack-fuzzext-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  unlink(tmpl);
  compare_with_kernel(
      [&](Ring& r) {
        io_uring_sqe* s = add(r, IORING_OP_SEND, fd, nullptr, 16, 0, 1, IOSQE_BUFFER_SELECT);
        s->buf_group = 1;
        s = add(r, IORING_OP_RECV, fd, nullptr, 16, 0, 2, IOSQE_BUFFER_SELECT);
        s->buf_group = 1;
        s = add(r, IORING_OP_RECV, fd, nullptr, 16, 0, 3, IOSQE_BUFFER_SELECT | IOSQE_ASYNC);
        s->buf_group = 1;
        s = add(r, IORING_OP_RECV, fd, nullptr, 16, 0, 4, IOSQE_BUFFER_SELECT);
        s->ioprio = iostack::uring::uapi::kRecvsendBundle;
        s->buf_group = 1;
        return run(r, 4);
      },
      8);
  ::close(fd);
}

// A zero-length TEE or SPLICE to a descriptor that is not open is -EBADF:
// the output is looked up before the input and the length (fuzz seed 1477
// of the extended generator).
TEST(UringFuzzFoundExt, ZeroLengthTeeToABadDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  compare_with_kernel(
      [&](Ring& r) {
        add(r, IORING_OP_TEE, 999, nullptr, 0, 0, 1, 0)->splice_fd_in = p[0];
        io_uring_sqe* s = add(r, IORING_OP_SPLICE, 999, nullptr, 0, ~0ULL, 2, 0);
        s->splice_fd_in = p[0];
        s->splice_off_in = ~0ULL;
        add(r, IORING_OP_TEE, p[1], nullptr, 0, 0, 3, 0)->splice_fd_in = p[0];  // 0
        return run(r, 3);
      },
      8);
  for (int fd : p) ::close(fd);
}

// PROVIDE_BUFFERS of zero-length buffers is -EINVAL at prep, before the
// buffer id is looked at (fuzz seeds 3269
// and 3750 of the extended generator).
TEST(UringFuzzFoundExt, ProvideBuffersOfZeroLength) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [&](Ring& r) {
        static char mem[4096];
        add(r, IORING_OP_PROVIDE_BUFFERS, 4, mem, 0, 10, 1, 0);
        auto out = run(r, 1);
        add(r, IORING_OP_PROVIDE_BUFFERS, 16, mem, 0, 0x10000, 2, 0);  // not -E2BIG
        const auto c = run(r, 1);
        out.insert(out.end(), c.begin(), c.end());
        return out;
      },
      8);
}

// SPLICE checks the descriptors' access modes before the offsets: into a
// pipe's read end with an input offset on a pipe is -EBADF, not -ESPIPE
// (fuzz seed 3540 of the extended generator).
TEST(UringFuzzFoundExt, SpliceChecksModesBeforeOffsets) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  ASSERT_EQ(4, write(p[1], "data", 4));
  compare_with_kernel(
      [&](Ring& r) {
        io_uring_sqe* s = add(r, IORING_OP_SPLICE, p[0], nullptr, 1, ~0ULL, 1, 0);
        s->splice_fd_in = p[0];
        s->splice_off_in = 0;  // an offset on a pipe
        s = add(r, IORING_OP_SPLICE, p[1], nullptr, 1, ~0ULL, 2, 0);
        s->splice_fd_in = p[0];
        s->splice_off_in = 0;  // modes fine: -ESPIPE
        return run(r, 2);
      },
      8);
  for (int fd : p) ::close(fd);
}

// A WAITID that finds no child (-ECHILD) still writes its empty siginfo,
// so one that cannot be written makes it -EFAULT; a refusal before the
// wait (an unknown idtype) writes none (fuzz seed 40968).
TEST(UringFuzzFoundExt, WaitidWithoutAChildStillWritesItsSiginfo) {
  SKIP_WITHOUT_KERNEL_URING();
  void* none = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, none);
  compare_with_kernel(
      [&](Ring& r) {
        siginfo_t si;
        std::memset(&si, 0x5a, sizeof(si));
        auto waitid = [&](std::uint64_t ud, unsigned which, void* infop) {
          io_uring_sqe* s = add(r, iostack::uring::uapi::kOpWaitid, 1, nullptr, which, 0, ud, 0);
          s->file_index = WNOHANG | WEXITED;
          s->addr2 = reinterpret_cast<std::uintptr_t>(infop);
        };
        waitid(1, P_PID, none);     // pid 1 is no child of ours
        waitid(2, P_PID, nullptr);  // nothing to write: -ECHILD
        waitid(3, P_PID, &si);      // written: zeroes
        waitid(4, 99, none);        // an unknown idtype: -EINVAL
        auto out = run(r, 4);
        out.push_back(Cqe{9, si.si_signo, static_cast<std::uint32_t>(si.si_pid)});
        return out;
      },
      8);
  munmap(none, 4096);
}

// A RECV or RECVMSG on an AF_UNIX stream socket reports
// IORING_CQE_F_SOCK_NONEMPTY when bytes are still queued after it, as
// 6.18's unix_stream_read_generic gives msg_inq (fuzz seeds 40742, 42286).
TEST(UringFuzzFoundExt, UnixStreamReceiveSaysWhatIsLeft) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [&](Ring& r) {
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        EXPECT_EQ(16, send(sv[0], "0123456789abcdef", 16, 0));
        char buf[64];
        struct iovec iov = {buf, 4};
        struct msghdr msg = {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<Cqe> out;
        auto one = [&](std::uint8_t op, const void* addr, unsigned len) {
          add(r, op, sv[1], addr, len, 0, out.size() + 1, 0);
          const auto c = run(r, 1);
          out.insert(out.end(), c.begin(), c.end());
        };
        one(IORING_OP_RECV, buf, 0);            // nothing taken, 16 left
        one(IORING_OP_RECV, buf, 4);            // 12 left
        one(IORING_OP_RECVMSG, &msg, 1);        // 8 left
        one(IORING_OP_RECV, buf, sizeof(buf));  // all of it
        ::close(sv[0]);
        ::close(sv[1]);
        return out;
      },
      8);
}

// A SEND with IORING_RECVSEND_BUNDLE but no IOSQE_BUFFER_SELECT is
// multishot all the same: what it sent comes with F_MORE, then a send of
// what is left, nothing, ends it with 0 (fuzz seeds 48300, 49302).
TEST(UringFuzzFoundExt, BundleSendOfTheProgramsBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        char data[16] = "bundle";
        add(r, IORING_OP_SEND, sv[0], data, sizeof(data), 0, 1, 0)->ioprio =
            iostack::uring::uapi::kRecvsendBundle;
        auto out = run(r, 2);
        char got[64];
        out.push_back(
            Cqe{9, static_cast<std::int32_t>(recv(sv[1], got, sizeof(got), MSG_DONTWAIT)), 0});
        return out;
      },
      8);
  for (int fd : sv) ::close(fd);
}

}  // namespace
}  // namespace uring_test
