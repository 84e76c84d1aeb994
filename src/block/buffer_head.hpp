// struct buffer_head and submit_bh (include/linux/buffer_head.h,
// fs/buffer.c): one block of a device in caller memory, read or written as
// a single-segment bio.
#pragma once

#include <atomic>
#include <cstdint>

#include "block/blk_types.hpp"

namespace iostack::block {

class Disk;
struct BufferHead;

// enum bh_state_bits
enum BhState : unsigned {
  BH_Uptodate,
  BH_Dirty,
  BH_Lock,
  BH_Req,
  BH_Mapped,
  BH_New,
  BH_Async_Read,
  BH_Async_Write,
  BH_Delay,
  BH_Boundary,
  BH_Write_EIO,
  BH_Unwritten,
  BH_Quiet,
  BH_Meta,
  BH_Prio,
};

using BhEndIo = void (*)(BufferHead* bh, int uptodate);

struct BufferHead {
  std::atomic<unsigned long> b_state{0};
  sector_t b_blocknr = 0;  // block number in units of b_size
  std::uint32_t b_size = 0;
  char* b_data = nullptr;
  Disk* b_bdev = nullptr;
  BhEndIo b_end_io = nullptr;
  void* b_private = nullptr;
  std::atomic<int> b_count{0};

  bool test(BhState b) const { return b_state.load(std::memory_order_acquire) & (1ul << b); }
  void set(BhState b) { b_state.fetch_or(1ul << b, std::memory_order_acq_rel); }
  void clear(BhState b) { b_state.fetch_and(~(1ul << b), std::memory_order_acq_rel); }
  // test_and_set_bit: returns the old value.
  bool test_and_set(BhState b) {
    return b_state.fetch_or(1ul << b, std::memory_order_acq_rel) & (1ul << b);
  }
};

void lock_buffer(BufferHead* bh);
void unlock_buffer(BufferHead* bh);
// Sleeps until the buffer is unlocked (its I/O finished).
void wait_on_buffer(BufferHead* bh);
inline void get_bh(BufferHead* bh) { bh->b_count.fetch_add(1, std::memory_order_relaxed); }
inline void put_bh(BufferHead* bh) { bh->b_count.fetch_sub(1, std::memory_order_release); }

// submit_bh: the buffer must be locked, mapped and have b_end_io; returns
// -EINVAL otherwise (where the kernel would BUG). Sets BH_Req; a repeated
// write clears BH_Write_EIO. Completion calls b_end_io(bh, uptodate).
int submit_bh(std::uint32_t opf, BufferHead* bh);

// The standard completions (end_buffer_read_sync / end_buffer_write_sync).
void end_buffer_read_sync(BufferHead* bh, int uptodate);
void end_buffer_write_sync(BufferHead* bh, int uptodate);

}  // namespace iostack::block
