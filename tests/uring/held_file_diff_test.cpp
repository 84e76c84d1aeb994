// A request holds its file from its first issue on: closing the descriptor
// under a receive that waits does not end it. It completes when data comes
// or the peer shuts down, as on the kernel (liburing's socket test closes
// its socket while a receive may still be waiting).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;

// Waits for the SQEs taken to be consumed, without waiting for CQEs.
std::vector<Cqe> submit_only(Ring& r) { return {Cqe{0, r.submit(0), 0}}; }

TEST(UringHeldFileDiff, ReceiveGoesOnAfterItsSocketIsClosed) {
  SKIP_WITHOUT_KERNEL_URING();
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    compare_with_kernel(
        [type](Ring& r) {
          int sv[2];
          EXPECT_EQ(0, socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv));
          char buf[64] = {};
          prep(r.sqe(), IORING_OP_RECV, sv[0], buf, sizeof(buf), 0, 1);
          auto v = submit_only(r);
          // Nothing yet: the receive waits.
          v.push_back(Cqe{0, static_cast<std::int32_t>(r.cq_ready()), 0});
          close(sv[0]);
          // A new descriptor may take the number: the receive does not care.
          const int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
          EXPECT_EQ(5, write(sv[1], "hello", 5));
          append(&v, r.wait(1));
          v.push_back(Cqe{2, 0, static_cast<std::uint32_t>(std::string(buf) == "hello")});
          close(other);
          close(sv[1]);
          return v;
        },
        8);
  }
}

TEST(UringHeldFileDiff, ReceiveOnAClosedSocketEndsWithThePeersShutdown) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        char buf[64];
        prep(r.sqe(), IORING_OP_RECV, sv[0], buf, sizeof(buf), 0, 1);
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_RECVMSG, sv[0], nullptr, 0, 0, 2);
        auto v = submit_only(r);
        close(sv[0]);
        shutdown(sv[1], SHUT_WR);
        // RECVMSG without a msghdr faults when it runs: either way the
        // socket is still there for both.
        append(&v, r.wait(2));
        sort_by_user_data(&v);
        close(sv[1]);
        return v;
      },
      8);
}

TEST(UringHeldFileDiff, MultishotReceiveOutlivesItsDescriptor) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        // A provided-buffer group of four 16-byte buffers.
        static char bufs[4][16];
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_PROVIDE_BUFFERS, 4, bufs, 16, 0, 9);
        s->buf_group = 3;
        append(&v, submit_wait(r, 1));
        s = r.sqe();
        prep(s, IORING_OP_RECV, sv[0], nullptr, 0, 0, 1);
        s->ioprio = uapi::kRecvMultishot;
        s->flags = IOSQE_BUFFER_SELECT;
        s->buf_group = 3;
        append(&v, submit_only(r));
        close(sv[0]);
        EXPECT_EQ(3, write(sv[1], "abc", 3));
        append(&v, r.wait(1));
        EXPECT_EQ(2, write(sv[1], "de", 2));
        append(&v, r.wait(1));
        close(sv[1]);  // end of stream: the last CQE, without F_MORE
        append(&v, r.wait(1));
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
