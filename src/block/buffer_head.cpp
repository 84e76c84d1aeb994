// submit_bh and the buffer_head end_io handlers (fs/buffer.c).
#include "block/buffer_head.hpp"

#include <algorithm>
#include "block/blk_mq.hpp"

#include "block/disk.hpp"
#include "block/plug.hpp"

namespace iostack::block {
namespace {

// end_bio_bh_io_sync: report to the buffer's owner, then drop the bio.
void end_bio_bh_io_sync(Bio* bio) {
  auto* bh = static_cast<BufferHead*>(bio->bi_private);
  bh->b_end_io(bh, bio->bi_status == BlkStatus::OK);
  bio_put(bio);
}

// guard_bio_eod: a buffer straddling the end of the device is cut short
// there (the tail of a read is zeroed); one wholly beyond it fails later.
void guard_bio_eod(Bio* bio) {
  const sector_t max = bio->bi_bdev->capacity();
  const sector_t start = bio->bi_iter.bi_sector;
  if (start >= max || bio_end_sector(bio) <= max) return;
  const auto keep = static_cast<std::uint32_t>((max - start) << kSectorShift);
  BioVec& v = bio->bi_io_vec[0];
  if (bio_op(bio) == REQ_OP_READ)
    std::fill(static_cast<char*>(v.base) + keep, static_cast<char*>(v.base) + v.len, 0);
  v.len = keep;
  bio->bi_iter.bi_size = keep;
}

}  // namespace

void lock_buffer(BufferHead* bh) {
  for (;;) {
    unsigned long s = bh->b_state.load(std::memory_order_acquire);
    if (!(s & (1ul << BH_Lock))) {
      if (bh->b_state.compare_exchange_weak(s, s | (1ul << BH_Lock), std::memory_order_acq_rel))
        return;
      continue;
    }
    bh->b_state.wait(s, std::memory_order_acquire);
  }
}

void unlock_buffer(BufferHead* bh) {
  bh->clear(BH_Lock);
  bh->b_state.notify_all();
}

void wait_on_buffer(BufferHead* bh) {
  for (;;) {
    const unsigned long s = bh->b_state.load(std::memory_order_acquire);
    if (!(s & (1ul << BH_Lock))) return;
    blk_flush_current_plug_before_sleep();
    bh->b_state.wait(s, std::memory_order_acquire);
  }
}

int submit_bh(std::uint32_t opf, BufferHead* bh) {
  if (!bh->test(BH_Lock) || !bh->test(BH_Mapped) || !bh->b_end_io || bh->test(BH_Delay) ||
      bh->test(BH_Unwritten) || !bh->b_bdev || !bh->b_size || !bh->b_data)
    return -EINVAL;
  const std::uint32_t op = req_op(opf);
  // Only a rewrite clears an earlier write error.
  if (bh->test_and_set(BH_Req) && op == REQ_OP_WRITE) bh->clear(BH_Write_EIO);
  if (bh->test(BH_Meta)) opf |= REQ_META;
  if (bh->test(BH_Prio)) opf |= REQ_PRIO;
  Bio* bio = bio_alloc(bh->b_bdev, 1, opf);
  bio->bi_iter.bi_sector = bh->b_blocknr * (bh->b_size >> kSectorShift);
  bio_add_vec(bio, bh->b_data, bh->b_size);
  bio->bi_end_io = end_bio_bh_io_sync;
  bio->bi_private = bh;
  guard_bio_eod(bio);
  submit_bio(bio);
  return 0;
}

void end_buffer_read_sync(BufferHead* bh, int uptodate) {
  if (uptodate)
    bh->set(BH_Uptodate);
  else
    bh->clear(BH_Uptodate);
  unlock_buffer(bh);
  put_bh(bh);
}

void end_buffer_write_sync(BufferHead* bh, int uptodate) {
  if (uptodate) {
    bh->set(BH_Uptodate);
  } else {
    bh->set(BH_Write_EIO);  // mark_buffer_write_io_error
    bh->clear(BH_Uptodate);
  }
  unlock_buffer(bh);
  put_bh(bh);
}

}  // namespace iostack::block
