// The shared rings' layout and sizes (rings_size).
#include "uring/io_rings.hpp"

#include "uring/uapi.hpp"

namespace iostack::uring {

RingsLayout rings_layout(unsigned sq_entries, unsigned cq_entries, unsigned setup_flags) {
  RingsLayout rl;
  std::size_t off = offsetof(IoRings, cqes) + sizeof(Cqe) * cq_entries;
  if (setup_flags & IORING_SETUP_CQE32) off *= 2;
  off = (off + 63) & ~std::size_t{63};  // SMP_CACHE_BYTES
  rl.sq_array_offset = off;
  const bool no_sqarray = setup_flags & uapi::kSetupNoSqarray;
  rl.rings_size = no_sqarray ? off : off + sizeof(std::uint32_t) * sq_entries;
  rl.sq_size = sizeof(io_uring_sqe) * sq_entries;
  if (setup_flags & IORING_SETUP_SQE128) rl.sq_size *= 2;
  return rl;
}

bool rings_size_overflows(unsigned cq_entries, unsigned setup_flags) {
  return (setup_flags & uapi::kSetupCqeMixed) && cq_entries < 2;
}

}  // namespace iostack::uring
