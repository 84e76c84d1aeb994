// liburing's library half (iostack/ring.h, the drop-in liburing.so.2's
// code) on an IORING_SETUP_CQE_MIXED ring: the waits and the batch peek
// consume the F_SKIP dummy the engine posts before a 32-byte CQE that would
// cross the ring's end, and hand out 32-byte CQEs (IORING_CQE_F_32) whole.
#include <gtest/gtest.h>
#include <liburing.h>

#include <vector>

#include "iostack/ring.h"

namespace {

constexpr unsigned kCqeMixed = 1u << 18;  // IORING_SETUP_CQE_MIXED
constexpr unsigned kNopCqe32 = 1u << 5;   // IORING_NOP_CQE32
constexpr unsigned kCqeF32 = 1u << 15;    // IORING_CQE_F_32
constexpr unsigned kCqeFSkip = 1u << 5;   // IORING_CQE_F_SKIP

struct Got {
  std::uint64_t ud;
  bool big;
  std::uint64_t word0;
  bool operator==(const Got&) const = default;
};

void queue_nop(io_uring* ring, std::uint64_t ud, bool big) {
  io_uring_sqe* s = iostack_ring_get_sqe(ring);
  ASSERT_NE(nullptr, s);
  io_uring_prep_nop(s);
  s->user_data = ud;
  if (big) {
    s->rw_flags = static_cast<int>(kNopCqe32);
    s->off = 1000 + ud;
    s->addr = 2000 + ud;
  }
}

Got got_of(const io_uring_cqe* c) {
  EXPECT_FALSE(c->flags & kCqeFSkip) << "a dummy handed out";
  const bool big = c->flags & kCqeF32;
  return Got{c->user_data, big, big ? c->big_cqe[0] : 0};
}

// One CQE at a time through the wait, each seen by its size.
std::vector<Got> wait_each(io_uring* ring, unsigned n) {
  std::vector<Got> out;
  for (unsigned i = 0; i < n; ++i) {
    io_uring_cqe* c = nullptr;
    EXPECT_EQ(0, iostack_ring_get_cqe(ring, &c, 0, 1, nullptr));
    if (!c) break;
    out.push_back(got_of(c));
    io_uring_cq_advance(ring, (c->flags & kCqeF32) ? 2 : 1);
  }
  return out;
}

TEST(RingCqeMixed, WaitAndPeekSkipTheDummyBeforeTheWrap) {
  io_uring ring;
  io_uring_params p{};
  p.flags = kCqeMixed | IORING_SETUP_CQSIZE;
  p.cq_entries = 4;
  ASSERT_EQ(0, iostack_ring_queue_init_params(4, &ring, &p));
  // Three plain CQEs, then a 32-byte one at the last entry: a dummy there,
  // the CQE at entries 0-1.
  for (std::uint64_t ud = 1; ud <= 3; ++ud) queue_nop(&ring, ud, false);
  ASSERT_EQ(3, iostack_ring_submit_and_wait(&ring, 3));
  EXPECT_EQ((std::vector<Got>{{1, false, 0}, {2, false, 0}, {3, false, 0}}), wait_each(&ring, 3));
  queue_nop(&ring, 4, true);
  ASSERT_EQ(1, iostack_ring_submit(&ring));
  EXPECT_EQ((std::vector<Got>{{4, true, 1004}}), wait_each(&ring, 1));

  // The batch peek: plain at 2, then a 32-byte CQE meeting the end again.
  queue_nop(&ring, 5, false);
  queue_nop(&ring, 6, true);
  ASSERT_EQ(2, iostack_ring_submit_and_wait(&ring, 2));
  std::vector<Got> got;
  for (int pass = 0; pass < 3 && got.size() < 2; ++pass) {
    io_uring_cqe* cqes[8];
    const unsigned n = iostack_ring_peek_batch_cqe(&ring, cqes, 8);
    unsigned entries = 0;
    for (unsigned i = 0; i < n; ++i) {
      got.push_back(got_of(cqes[i]));
      entries += (cqes[i]->flags & kCqeF32) ? 2 : 1;
    }
    io_uring_cq_advance(&ring, entries);
  }
  EXPECT_EQ((std::vector<Got>{{5, false, 0}, {6, true, 1006}}), got);
  iostack_ring_queue_exit(&ring);
}

}  // namespace
