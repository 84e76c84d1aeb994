// struct io_rings (io_uring/io_uring.h, include/linux/io_uring_types.h): the
// memory shared with the application, laid out exactly as the kernel lays it
// out, and the size computation of rings_size() (io_uring/io_uring.c).
#pragma once

#include <linux/io_uring.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace iostack::uring {

// struct io_uring (include/linux/io_uring_types.h): one head/tail pair.
struct IoUringIdx {
  std::uint32_t head;
  std::uint32_t tail;
};

// struct io_uring_cqe without the CQE32 tail (a flexible array member that
// C++ cannot put in an array). On a CQE32 ring CQE i is cqes[i << 1] and
// its big_cqe[2] is the Cqe after it.
struct Cqe {
  std::uint64_t user_data;
  std::int32_t res;
  std::uint32_t flags;
};
static_assert(sizeof(Cqe) == 16);

// struct io_rings (include/linux/io_uring_types.h)
struct IoRings {
  IoUringIdx sq;
  IoUringIdx cq;
  std::uint32_t sq_ring_mask;
  std::uint32_t cq_ring_mask;
  std::uint32_t sq_ring_entries;
  std::uint32_t cq_ring_entries;
  std::uint32_t sq_dropped;
  std::uint32_t sq_flags;
  std::uint32_t cq_flags;
  std::uint32_t cq_overflow;
  alignas(64) Cqe cqes[1];
};

static_assert(offsetof(IoRings, sq.head) == 0);
static_assert(offsetof(IoRings, sq.tail) == 4);
static_assert(offsetof(IoRings, cq.head) == 8);
static_assert(offsetof(IoRings, cq.tail) == 12);
static_assert(offsetof(IoRings, sq_ring_mask) == 16);
static_assert(offsetof(IoRings, cq_ring_mask) == 20);
static_assert(offsetof(IoRings, sq_ring_entries) == 24);
static_assert(offsetof(IoRings, cq_ring_entries) == 28);
static_assert(offsetof(IoRings, sq_dropped) == 32);
static_assert(offsetof(IoRings, sq_flags) == 36);
static_assert(offsetof(IoRings, cq_flags) == 40);
static_assert(offsetof(IoRings, cq_overflow) == 44);
static_assert(offsetof(IoRings, cqes) == 64);
static_assert(sizeof(io_uring_sqe) == 64 && sizeof(io_uring_cqe) == sizeof(Cqe));

// Shared words are plain uint32_t in the mapping; every access goes through
// atomic_ref so the compiler neither tears nor reorders it.
inline std::uint32_t load_acquire(std::uint32_t& w) {
  return std::atomic_ref<std::uint32_t>(w).load(std::memory_order_acquire);
}
inline std::uint32_t load_seq_cst(std::uint32_t& w) {
  return std::atomic_ref<std::uint32_t>(w).load(std::memory_order_seq_cst);
}
inline std::uint32_t load_relaxed(std::uint32_t& w) {
  return std::atomic_ref<std::uint32_t>(w).load(std::memory_order_relaxed);
}
inline void store_release(std::uint32_t& w, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(w).store(v, std::memory_order_release);
}
inline void store_relaxed(std::uint32_t& w, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(w).store(v, std::memory_order_relaxed);
}
inline void flags_or(std::uint32_t& w, std::uint32_t bits) {
  std::atomic_ref<std::uint32_t>(w).fetch_or(bits, std::memory_order_seq_cst);
}
inline void flags_andnot(std::uint32_t& w, std::uint32_t bits) {
  std::atomic_ref<std::uint32_t>(w).fetch_and(~bits, std::memory_order_seq_cst);
}

// struct io_rings_layout and rings_size() (io_uring/io_uring.c).
struct RingsLayout {
  std::size_t rings_size = 0;       // io_rings + CQEs + SQ array
  std::size_t sq_array_offset = 0;  // 64-byte aligned after the CQEs
  std::size_t sq_size = 0;          // the SQE array
};
// By the setup flags: IORING_SETUP_NO_SQARRAY (no SQ array: SQ slot i is
// SQE i), IORING_SETUP_SQE128 (128-byte SQEs), IORING_SETUP_CQE32 (32-byte
// CQEs: the kernel doubles the whole of io_rings with its CQEs).
RingsLayout rings_layout(unsigned sq_entries, unsigned cq_entries, unsigned setup_flags);

// rings_size() answering SIZE_MAX (-EOVERFLOW): a CQE_MIXED ring needs room
// for one 32-byte CQE.
bool rings_size_overflows(unsigned cq_entries, unsigned setup_flags);

constexpr std::size_t kPageSize = 4096;
constexpr std::size_t page_align(std::size_t n) { return (n + kPageSize - 1) & ~(kPageSize - 1); }

}  // namespace iostack::uring
