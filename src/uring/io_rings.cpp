// The shared rings' layout and sizes (rings_size).
#include "uring/io_rings.hpp"

namespace iostack::uring {

RingsLayout rings_layout(unsigned sq_entries, unsigned cq_entries, bool no_sqarray) {
  RingsLayout rl;
  std::size_t off = offsetof(IoRings, cqes) + sizeof(Cqe) * cq_entries;
  off = (off + 63) & ~std::size_t{63};  // SMP_CACHE_BYTES
  rl.sq_array_offset = off;
  rl.rings_size = no_sqarray ? off : off + sizeof(std::uint32_t) * sq_entries;
  rl.sq_size = sizeof(io_uring_sqe) * sq_entries;
  return rl;
}

}  // namespace iostack::uring
