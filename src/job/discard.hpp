// A synchronous discard of a byte range, as fio's trim does on a block
// device (ioctl BLKDISCARD, which is blkdev_issue_discard in block/blk-lib.c).
#pragma once

#include <cstdint>

namespace iostack::block {
class Disk;
}

namespace iostack::job {

// 0, or -EOPNOTSUPP when the device does not discard, -EINVAL when the
// range is not aligned to the logical block size or leaves the device, or
// the error the device reported.
int discard_range(block::Disk* disk, std::uint64_t offset, std::uint64_t len);

}  // namespace iostack::job
