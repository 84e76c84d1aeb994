// Differential tests of io_uring_enter's wait with a minimum wait time
// (FEAT_MIN_TIMEOUT, io_uring_getevents_arg.min_wait_usec): the same waits
// on the kernel's ring and iostack's, compared by their results.
#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr unsigned kFeatMinTimeout = 1u << 15;

int wait_min(Ring& r, unsigned min_complete, unsigned min_wait_usec, __kernel_timespec* ts) {
  io_uring_getevents_arg arg{};
  arg.pad = min_wait_usec;  // min_wait_usec in newer headers
  arg.ts = reinterpret_cast<std::uintptr_t>(ts);
  return r.enter(0, min_complete, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
}

TEST(UringWaitDiff, MinTimeoutFeature) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        return std::vector<Cqe>{Cqe{0, (r.params().features & kFeatMinTimeout) ? 1 : 0, 0}};
      },
      4);
}

// IORING_FEAT_NO_IOWAIT: a wait may ask not to count as I/O wait.
TEST(UringWaitDiff, NoIowaitFlag) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out{Cqe{0, (r.params().features & (1u << 17)) ? 1 : 0, 0}};
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 7);
        r.flush();
        out.push_back(Cqe{1, r.enter(1, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_NO_IOWAIT), 0});
        append(&out, r.reap());
        return out;
      },
      4);
}

// Without a timeout the minimum wait is the whole wait: -ETIME with nothing
// posted, success with a CQE already there though fewer than asked for.
TEST(UringWaitDiff, MinWaitWithoutTimeoutEndsTheWait) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        if (!(r.params().features & kFeatMinTimeout)) return out;
        out.push_back(Cqe{1, wait_min(r, 2, 10000, nullptr), 0});
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 7);
        EXPECT_EQ(1, r.submit(0));
        out.push_back(Cqe{2, wait_min(r, 4, 10000, nullptr), 0});
        append(&out, r.reap());
        return out;
      },
      8);
}

// With a later timeout, CQEs already there end the wait at the minimum; with
// none, the wait goes on to the timeout (nothing comes: -ETIME).
TEST(UringWaitDiff, MinWaitBeforeTimeout) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        if (!(r.params().features & kFeatMinTimeout)) return out;
        __kernel_timespec ts{0, 30 * 1000 * 1000};
        out.push_back(Cqe{1, wait_min(r, 2, 5000, &ts), 0});
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 7);
        EXPECT_EQ(1, r.submit(0));
        __kernel_timespec long_ts{30, 0};
        out.push_back(Cqe{2, wait_min(r, 4, 5000, &long_ts), 0});
        append(&out, r.reap());
        return out;
      },
      8);
}

}  // namespace
}  // namespace uring_test
