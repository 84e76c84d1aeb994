// Differences iostack-fuzz found where a ring reads or polls its own
// descriptor, each reduced to a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdint>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A READ of the ring waits on the ring's poll; its zero LINK_TIMEOUT fires
// when the READ is armed, and the timer's task work is queued before the
// wakeup that the failing SYMLINKAT's CQE brings: the timeout cancels the
// READ (-ECANCELED, -ETIME) before its retry could find the ring readable
// (fuzz seed 232265).
TEST(UringFuzzFoundSelf, ZeroLinkTimeoutOfARingReadComesBeforeTheBatchsWakeup) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[512];
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), 0, 1, IOSQE_IO_LINK);
        static const struct __kernel_timespec zero = {0, 0};
        add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, 0);
        io_uring_sqe* s = add(r, IORING_OP_SYMLINKAT, AT_FDCWD, "x", 0, 0, 3, 0);
        s->addr2 = reinterpret_cast<std::uintptr_t>("");  // -ENOENT
        return run(r, 3);
      },
      8);
}

// A DEFER_TASKRUN ring's first poll activates its poll wait queue; a READ
// of the ring that makes it is armed on the ring's poll meanwhile, so an
// ASYNC_CANCEL with CANCEL_ALL in its batch finds it (fuzz seed 236407).
TEST(UringFuzzFoundSelf, CancelFindsTheFirstReadOfADeferTaskrunRing) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char buf[192];
        add(r, IORING_OP_READ, r.fd(), buf, sizeof(buf), ~0ull, 1, 0);
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2, 0)->cancel_flags =
            IORING_ASYNC_CANCEL_ALL;
        return run(r, 2);
      },
      8, p);
}

// The same for a POLL_ADD of the ring: its zero LINK_TIMEOUT's task work,
// queued when the poll is armed, cancels it before the poll's own task work
// posts the wakeup of the failing READV's CQE; the FADVISE linked behind is
// cancelled with the chain (fuzz seed 53897).
TEST(UringFuzzFoundSelf, ZeroLinkTimeoutOfARingPollComesBeforeTheBatchsWakeup) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  compare_with_kernel(
      [&](Ring& r) {
        io_uring_sqe* s = add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, IOSQE_IO_LINK);
        s->poll32_events = POLLIN;
        static const struct __kernel_timespec zero = {0, 0};
        add(r, IORING_OP_LINK_TIMEOUT, -1, &zero, 1, 0, 2, IOSQE_IO_LINK);
        add(r, IORING_OP_FADVISE, p[0], nullptr, 0, 0, 3, 0)->fadvise_advice = POSIX_FADV_DONTNEED;
        add(r, IORING_OP_READV, -1, nullptr, 1, 0, 4, 0);  // fails: -EFAULT
        return run(r, 4);
      },
      4);
  ::close(p[0]);
  ::close(p[1]);
}

// A DEFER_TASKRUN ring's first poll of itself starts the activation of its
// poll wait queue, which happens when the call returns; a second poll of
// the ring in the same batch sees no wakeup before it either, so the CQE
// of the batch, reaped before the program waits, fires neither, and both
// are pending until cancelled (fuzz seed 19580; a NOP here, an FSYNC with
// a bad range there).
TEST(UringFuzzFoundSelf, SecondPollOfADeferTaskrunRingWaitsForTheActivation) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0)->poll32_events = POLLIN;
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 2, 0);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 3, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        append(&v, r.reap());        // the NOP's
        append(&v, r.wait(1, 100));  // runs the activation's task work
        cancel_all(r, 4);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        auto c = r.wait(3);
        sort_by_user_data(&c);
        append(&v, c);
        return v;
      },
      4, p);
}

}  // namespace
}  // namespace uring_test
