// Differences iostack-fuzz found in seeds 490000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

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

// A WRITE of the ring's own descriptor fails (-EINVAL: no write method)
// from task work (kiocb_done's io_rw_done), behind the batch's other CQEs;
// a multishot POLLIN | POLLOUT poll of the ring armed in the same batch
// (ready: POLLOUT) runs its task work after it. Posting the WRITE's CQE
// first wakes the poll while that task work owns it, so it asks the ring
// again and posts twice (5, 5), then its own CQE's wakeup ends it (1).
// iostack posted the WRITE's CQE inline and the poll once (fuzz seed
// 491106, 491108: a WRITEV).
TEST(UringFuzzFound490k, FailedWriteOfTheRingPostsFromTaskWorkAndWakesItsPollTwice) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        static char buf[64];
        add(r, IORING_OP_WRITE, r.fd(), buf, sizeof(buf), 0, 1, 0);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, IORING_POLL_ADD_MULTI, 0, 3, 0)->poll32_events =
            POLLIN | POLLOUT;
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        std::vector<Cqe> c = r.wait(6, 200);
        std::stable_sort(c.begin(), c.end(), [](const Cqe& a, const Cqe& b) {
          return a.user_data < b.user_data;  // the order within one request stays
        });
        append(&v, c);
        add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(3), 0, 0, 4, 0);
        append(&v, run(r, 1));
        return v;
      },
      16);
}

// A zero-copy send's notification is a request of its own, taken from the
// ring's request cache (io_alloc_notif) right after the send's: on a CQE32
// ring it posts the extra words a skipped NOP's CQE left in that request
// (io_fill_cqe_req), and clears them, so a later request taking it from the
// cache posts zeros. iostack's notification was no request: the NOP after
// it inherited the words instead (fuzz seed 514412).
TEST(UringFuzzFound490k, ZeroCopyNotificationTakesTheNextCachedRequestsCqe32Words) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  // A CQE with its extra words, as its res (low word) and user_data (high).
  auto wait_words = [](Ring& r, unsigned n) {
    std::vector<Cqe> v;
    for (int tries = 0; v.size() < 2 * n && tries < 10; ++tries) {
      Cqe c;
      std::uint64_t big[2];
      while (r.peek(&c, big)) {
        v.push_back(c);
        v.push_back(Cqe{big[0], static_cast<std::int32_t>(big[1]), 0});
      }
      if (v.size() >= 2 * n) break;
      __kernel_timespec ts{0, 20 * 1000 * 1000};
      io_uring_getevents_arg arg{};
      arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
      r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    }
    return v;
  };
  io_uring_params p{};
  p.flags = IORING_SETUP_CQE32;
  compare_with_kernel(
      [&](Ring& r) {
        static char data[8] = "zcdata!";
        static iovec iov{data, sizeof(data)};
        static msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        // IORING_NOP_CQE32 with words 1 and 7, its CQE skipped.
        add(r, IORING_OP_NOP, -1, reinterpret_cast<void*>(7), 0, 1, 1, IOSQE_CQE_SKIP_SUCCESS)
            ->rw_flags = 1u << 5;  // nop_flags
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        append(&v, wait_words(r, 1));
        add(r, IORING_OP_SENDMSG_ZC, sv[0], &m, 0, 0, 3, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        append(&v, wait_words(r, 2));
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        append(&v, wait_words(r, 1));
        return v;
      },
      16, p);
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace uring_test
