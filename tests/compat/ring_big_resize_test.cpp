// liburing's library half (iostack/ring.h, the drop-in liburing.so.2's
// code) on rings with big entries and across a resize: <liburing.h>'s
// inline io_uring_get_sqe and the batch peek honour SQE128 and CQE32, and
// io_uring_resize_rings maps the new rings, keeping the CQEs pending.
#include <gtest/gtest.h>
#include <liburing.h>

#include <cstring>
#include <vector>

#include "iostack/ring.h"

namespace {

constexpr unsigned kDefer = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
constexpr unsigned kNopCqe32 = 1u << 5;  // IORING_NOP_CQE32
constexpr unsigned kNoSqarray = 1u << 16;

struct Got {
  std::uint64_t ud;
  std::int32_t res;
  std::uint64_t big0, big1;
};

// Queues `n` NOPs (with CQE32 words on a CQE32 ring) from `first` on.
void queue_nops(io_uring* ring, unsigned n, std::uint64_t first) {
  for (unsigned i = 0; i < n; ++i) {
    io_uring_sqe* s = iostack_ring_get_sqe(ring);
    ASSERT_NE(nullptr, s) << i;
    io_uring_prep_nop(s);
    s->user_data = first + i;
    if (ring->flags & IORING_SETUP_CQE32) {
      s->rw_flags = static_cast<int>(kNopCqe32);
      s->off = 1000 + first + i;
      s->addr = 2000 + first + i;
    }
  }
}

std::vector<Got> reap(io_uring* ring) {
  std::vector<Got> out;
  io_uring_cqe* cqes[64];
  unsigned n;
  while ((n = iostack_ring_peek_batch_cqe(ring, cqes, 64)) != 0) {
    for (unsigned i = 0; i < n; ++i) {
      const bool big = ring->flags & IORING_SETUP_CQE32;
      out.push_back(Got{cqes[i]->user_data, cqes[i]->res, big ? cqes[i]->big_cqe[0] : 0,
                        big ? cqes[i]->big_cqe[1] : 0});
    }
    io_uring_cq_advance(ring, n);
  }
  return out;
}

void expect_nops(const std::vector<Got>& got, std::uint64_t first, unsigned n, bool big) {
  ASSERT_EQ(n, got.size());
  for (unsigned i = 0; i < n; ++i) {
    EXPECT_EQ(first + i, got[i].ud);
    EXPECT_EQ(0, got[i].res);
    EXPECT_EQ(big ? 1000 + first + i : 0, got[i].big0);
    EXPECT_EQ(big ? 2000 + first + i : 0, got[i].big1);
  }
}

TEST(RingBigEntries, GetSqeAndPeekHonourTheShifts) {
  for (unsigned f :
       {0u, static_cast<unsigned>(IORING_SETUP_SQE128), static_cast<unsigned>(IORING_SETUP_CQE32),
        IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | kNoSqarray}) {
    SCOPED_TRACE(f);
    io_uring ring;
    io_uring_params p{};
    p.flags = f;
    ASSERT_EQ(0, iostack_ring_queue_init_params(8, &ring, &p));
    for (unsigned round = 0; round < 3; ++round) {
      queue_nops(&ring, 8, 10 * round);
      ASSERT_EQ(8, iostack_ring_submit_and_wait(&ring, 8));
      expect_nops(reap(&ring), 10 * round, 8, f & IORING_SETUP_CQE32);
    }
    iostack_ring_queue_exit(&ring);
  }
}

TEST(RingBigEntries, ResizeMapsTheNewRingsWithTheCqesPending) {
  for (unsigned f :
       {kDefer, kDefer | kNoSqarray, kDefer | IORING_SETUP_SQE128 | IORING_SETUP_CQE32}) {
    SCOPED_TRACE(f);
    io_uring ring;
    io_uring_params p{};
    p.flags = f;
    ASSERT_EQ(0, iostack_ring_queue_init_params(4, &ring, &p));
    queue_nops(&ring, 4, 0);
    ASSERT_EQ(4, iostack_ring_submit_and_wait(&ring, 4));  // 4 CQEs pending
    io_uring_params np{};
    np.sq_entries = 32;
    ASSERT_EQ(0, iostack_ring_resize_rings(&ring, &np));
    EXPECT_EQ(32u, ring.sq.ring_entries);
    EXPECT_EQ(64u, ring.cq.ring_entries);
    EXPECT_EQ(0u, np.flags);
    expect_nops(reap(&ring), 0, 4, f & IORING_SETUP_CQE32);
    queue_nops(&ring, 32, 100);
    ASSERT_EQ(32, iostack_ring_submit_and_wait(&ring, 32));
    expect_nops(reap(&ring), 100, 32, f & IORING_SETUP_CQE32);
    // Back down while CQEs wait that do not fit: -EOVERFLOW, nothing changes.
    queue_nops(&ring, 20, 200);
    ASSERT_EQ(20, iostack_ring_submit_and_wait(&ring, 20));
    np = io_uring_params{};
    np.sq_entries = 4;
    EXPECT_EQ(-EOVERFLOW, iostack_ring_resize_rings(&ring, &np));
    EXPECT_EQ(32u, ring.sq.ring_entries);
    expect_nops(reap(&ring), 200, 20, f & IORING_SETUP_CQE32);
    iostack_ring_queue_exit(&ring);
  }
}

}  // namespace
