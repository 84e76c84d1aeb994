// Differences iostack-fuzz found in seeds 490000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <poll.h>

#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

io_uring_sqe* cancel_all(Ring& r, std::uint64_t ud) {
  io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, ud, 0);
  s->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  return s;
}

// A poll of the ring that waits for no event (only an error or hangup)
// stays armed while a NOP's CQE is posted and reaped; then a multishot
// POLLIN poll of the ring, armed on an empty CQ ring, has nothing to post
// until the final cancel. The CQE's wakeup (EPOLLIN) does not concern the
// first poll (io_poll_wake), so it must not keep the ring's readiness for
// it: iostack did, and the second poll fired POLLIN at once (fuzz seeds
// 491901 on a DEFER_TASKRUN ring, 491902 and 491968). Each step waits a
// moment after reaping, as the fuzzer does, so a DEFER_TASKRUN ring's
// task work (its first poll's activation) has run before the next.
std::vector<Cqe> eventless_ring_poll_then_pollin_poll(Ring& r) {
  std::vector<Cqe> v;
  auto step = [&](unsigned cqes) {
    v.push_back(Cqe{0, r.submit(), 0});
    append(&v, r.wait(cqes, 100));
    v.push_back(Cqe{100, static_cast<std::int32_t>(v.size()), 0});  // a step's end
  };
  add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0);
  step(1);
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
  step(2);
  add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 3, 0)->poll32_events =
      POLLIN;
  step(1);
  cancel_all(r, 4);
  append(&v, run(r, 3));
  return v;
}

TEST(UringFuzzFound490k, EventlessPollOfTheRingKeepsNoReadinessForALaterPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(eventless_ring_poll_then_pollin_poll, 16);
}

TEST(UringFuzzFound490k, EventlessPollOfADeferTaskrunRingKeepsNoReadinessForALaterPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(eventless_ring_poll_then_pollin_poll, 16, p);
}

}  // namespace
}  // namespace uring_test
