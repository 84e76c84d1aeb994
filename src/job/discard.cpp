// blkdev_issue_discard's behaviour: discard bios of at most the queue's
// discard limit, each waited for.
#include "job/discard.hpp"

#include <algorithm>
#include <cerrno>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/request_queue.hpp"

namespace iostack::job {

int discard_range(block::Disk* disk, std::uint64_t offset, std::uint64_t len) {
  const block::QueueLimits& lim = disk->queue()->limits();
  if (!lim.max_discard_sectors) return -EOPNOTSUPP;
  const std::uint64_t lbs = lim.logical_block_size;
  const std::uint64_t cap = disk->capacity() << block::kSectorShift;
  if (offset % lbs || len % lbs || offset > cap || len > cap - offset) return -EINVAL;
  // Whole bios of at most the limit, a multiple of the logical block size.
  std::uint64_t max_bytes = std::uint64_t{lim.max_discard_sectors} << block::kSectorShift;
  max_bytes = std::min<std::uint64_t>(max_bytes, 0x80000000ull);
  max_bytes -= max_bytes % lbs;
  while (len) {
    const std::uint64_t n = std::min(len, max_bytes);
    block::Bio bio;
    block::bio_init(&bio, disk, bio.bi_inline_vecs, block::kBioInlineVecs, block::REQ_OP_DISCARD);
    bio.bi_iter.bi_sector = offset >> block::kSectorShift;
    bio.bi_iter.bi_size = static_cast<std::uint32_t>(n);
    if (const int r = block::submit_bio_wait(&bio); r < 0) return r;
    offset += n;
    len -= n;
  }
  return 0;
}

}  // namespace iostack::job
