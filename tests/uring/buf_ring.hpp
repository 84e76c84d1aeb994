// A provided-buffer ring in the test's memory (IORING_REGISTER_PBUF_RING),
// for differential tests of buffer selection.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ring_harness.hpp"

namespace uring_test {

constexpr unsigned kRegisterPbufStatus = 26;

struct BufRing {
  io_uring_buf_ring* br = nullptr;
  std::vector<char> data;
  unsigned entries, size;
  std::uint16_t tail = 0;
  BufRing(unsigned n, unsigned sz) : entries(n), size(sz) {
    EXPECT_EQ(0, posix_memalign(reinterpret_cast<void**>(&br), 4096, 4096));
    std::memset(br, 0, 4096);
    data.resize(std::size_t{n} * sz);
  }
  ~BufRing() { std::free(br); }
  void add(unsigned bid) {
    // Not br->bufs: in C++ the uapi's flexible array sits 8 bytes late.
    io_uring_buf& b = reinterpret_cast<io_uring_buf*>(br)[tail & (entries - 1)];
    b.addr = reinterpret_cast<std::uintptr_t>(&data[std::size_t{bid} * size]);
    b.len = size;
    b.bid = static_cast<std::uint16_t>(bid);
    tail++;
    std::atomic_ref<std::uint16_t>(br->tail).store(tail, std::memory_order_release);
  }
  // `min_left` (6.18's stable fix for incremental rings) is the u32 that
  // this header's io_uring_buf_reg still calls the low half of resv[0].
  int reg(Ring& r, std::uint16_t bgid, std::uint16_t flags = 0, std::uint32_t min_left = 0) {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
    reg.ring_entries = entries;
    reg.bgid = bgid;
    reg.pad = flags;
    reg.resv[0] = min_left;
    return r.reg(IORING_REGISTER_PBUF_RING, &reg, 1);
  }
  const io_uring_buf& entry(unsigned i) const {
    return reinterpret_cast<const io_uring_buf*>(br)[i & (entries - 1)];
  }
};

inline int pbuf_head(Ring& r, unsigned bgid) {
  std::uint32_t st[10] = {bgid};
  const int ret = r.reg(kRegisterPbufStatus, st, 1);
  return ret < 0 ? ret : static_cast<int>(st[1]);
}

}  // namespace uring_test
