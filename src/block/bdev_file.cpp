// Block devices opened as files: descriptors, direct I/O and flush as bios.
#include "block/bdev_file.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "block/blk_mq.hpp"
#include "block/disk.hpp"
#include "block/request_queue.hpp"
#include "core/process.hpp"
#include "core/raw_syscall.h"
#include "core/uaccess.hpp"

namespace iostack::block {
namespace {

void bdev_release(core::File* f) { delete static_cast<BdevFile*>(f); }

// A forked child cannot reach the parent's device (its queues and driver
// threads stay with the parent): the descriptor is an ordinary memfd there,
// unless the file is one the child reaches through the parent (remote).
core::File* bdev_fork_child(core::File* parent) {
  const auto* p = static_cast<const BdevFile*>(parent);
  const BdevRemote* remote = p->remote;
  std::uint64_t key = p->remote_key;
  if (!remote && p->inode) {
    remote = p->inode->remote;
    key = p->inode->remote_key;
  }
  if (!remote) return nullptr;
  auto* f = new BdevFile;
  f->flags = p->flags;
  f->remote = remote;
  f->remote_key = key;
  return f;
}

const core::FileOps kBdevFops = {"block_device", bdev_release, bdev_fork_child};

core::FdTable& files() { return core::Process::current().files(); }

// The last reference of an I/O: its result, after a write to a file's
// data extended the file (as iomap_dio_complete updates i_size).
void bdev_io_put(BdevIo* io) {
  if (io->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  const int err = io->error.load(std::memory_order_acquire);
  if (!err && io->inode && io->bytes > 0) io->inode->extend(io->inode->priv, io->write_end);
  io->end(io->priv, err ? err : io->bytes);
}

void bdev_bio_end_io(Bio* bio) {
  auto* io = static_cast<BdevIo*>(bio->bi_private);
  if (bio->bi_status != BlkStatus::OK) {
    int expected = 0;
    io->error.compare_exchange_strong(expected, blk_status_to_errno(bio->bi_status));
  }
  bio_put(bio);
  bdev_io_put(io);
}

int access_check(const BdevFile* f, bool write) {
  const int mode = f->flags & O_ACCMODE;
  if (write ? mode == O_RDONLY : mode == O_WRONLY) return -EBADF;
  return 0;
}

// BIO_MAX_VECS: pages of one bio. blkdev_direct_IO builds larger I/O from
// several bios and reports a failure to pin any of them as -EIO.
constexpr std::uint64_t kBioMaxVecs = 256;

// bio_iov_iter_get_pages() for the first `count` bytes of `iov`: the pages
// are checked (not pinned: nothing here can take them away) for the access
// the device makes, reading them for a write, writing them for a read. As in
// the kernel, an I/O of at most BIO_MAX_VECS pages is cut short before the
// first page that fails (at a logical block boundary), or fails with
// -EFAULT when that is its first; a larger one fails with -EIO.
long pin_user_pages(const struct iovec* iov, int iovcnt, std::uint64_t count, bool write,
                    std::uint64_t lbs_mask) {
  constexpr std::uintptr_t kPageMask = core::kPageSize - 1;
  // Pages already found good: segments that share pages (many small
  // segments of one buffer) are not probed again.
  std::uintptr_t good_lo = 0, good_hi = 0;
  std::uint64_t pinned = 0;
  std::uint64_t left = count;
  for (int i = 0; i < iovcnt && left; ++i) {
    const std::uint64_t len = std::min<std::uint64_t>(iov[i].iov_len, left);
    if (!len) continue;
    const auto base = reinterpret_cast<std::uintptr_t>(iov[i].iov_base);
    if (base < good_lo || base + len > good_hi) {
      const std::size_t bad = write ? core::fault_in_readable(iov[i].iov_base, len)
                                    : core::fault_in_writeable(iov[i].iov_base, len);
      if (bad) {
        std::uint64_t pages = 0;
        std::uint64_t rest = count;
        for (int k = 0; k < iovcnt && rest; ++k) {
          const std::uint64_t n = std::min<std::uint64_t>(iov[k].iov_len, rest);
          if (!n) continue;
          const auto b = reinterpret_cast<std::uintptr_t>(iov[k].iov_base);
          pages += ((b & kPageMask) + n + kPageMask) / core::kPageSize;
          rest -= n;
        }
        if (pages > kBioMaxVecs) return -EIO;
        pinned += (len - bad) & ~lbs_mask;
        return pinned ? static_cast<long>(pinned) : -EFAULT;
      }
      const std::uintptr_t first = base & ~kPageMask;
      const std::uintptr_t last = (base + len + kPageMask) & ~kPageMask;
      if (first >= good_lo && first <= good_hi) {
        good_hi = std::max(good_hi, last);
      } else {
        good_lo = first;
        good_hi = last;
      }
    }
    pinned += len;
    left -= len;
  }
  return static_cast<long>(count);
}

// copy_from_iter / copy_to_iter's reach for buffered I/O: the bytes of
// `iov` before the first one the copy would fault on, or -EFAULT when that
// is the first (a short copy returns what was copied).
long user_bytes(const struct iovec* iov, int iovcnt, bool write) {
  std::uint64_t good = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (!iov[i].iov_len) continue;
    const std::size_t bad = write ? core::fault_in_readable(iov[i].iov_base, iov[i].iov_len)
                                  : core::fault_in_writeable(iov[i].iov_base, iov[i].iov_len);
    good += iov[i].iov_len - bad;
    if (bad) return good ? static_cast<long>(good) : -EFAULT;
  }
  return static_cast<long>(good);
}

// RWF_NOAPPEND (uapi fs.h, Linux 6.9), which older headers lack.
constexpr std::uint32_t kRwfNoappend = 0x20;

// IOCB_APPEND: a write of an O_APPEND descriptor (kiocb_set_rw_flags lets
// RWF_NOAPPEND clear it) or with RWF_APPEND goes to the end of the file.
bool appends(const BdevFile* f, std::uint32_t rw_flags) {
  if (rw_flags & RWF_APPEND) return true;
  return (f->flags & O_APPEND) && !(rw_flags & kRwfNoappend);
}

// I/O the file system does whole (BdevInode::sync_rw): a descriptor of a
// file's data without O_DIRECT (its page cache), or a direct write at the
// end of the file (`offset` -1), in one synchronous call (a request that
// must not wait and would, -EAGAIN, goes to a worker).
int bdev_sync_file_rw(BdevFile* f, BdevIo* io, bool write, const struct iovec* iov, int iovcnt,
                      std::int64_t offset, std::uint32_t rw_flags) {
  if (iovcnt < 0 || offset < -1) return -EINVAL;
  if (f->flags & O_DSYNC) rw_flags |= RWF_DSYNC;  // iocb_flags: O_DSYNC and O_SYNC
  const bool direct = f->flags & O_DIRECT;
  long n = 0;
  if (direct) {
    // The file system's own direct write checks the alignment and the memory.
    for (int i = 0; i < iovcnt; ++i) n += static_cast<long>(iov[i].iov_len);
  } else {
    n = user_bytes(iov, iovcnt, write);
  }
  long res = n;
  std::int64_t pos = offset;
  if (n > 0) {
    res = f->inode->sync_rw(f->inode->priv, write, direct, iov, iovcnt,
                            static_cast<std::uint64_t>(n), &pos, rw_flags);
  }
  if (res == -EAGAIN && (rw_flags & RWF_NOWAIT)) return -EAGAIN;
  io->at = pos;
  io->end(io->priv, res);
  return 0;
}

std::uint32_t write_opf(std::uint32_t rw_flags) {
  // A direct write is REQ_SYNC | REQ_IDLE; O_DSYNC semantics add FUA.
  std::uint32_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;
  if (rw_flags & (RWF_DSYNC | RWF_SYNC)) opf |= REQ_FUA;
  return opf;
}

}  // namespace

BdevFile::BdevFile() : core::File(&kBdevFops) {}

int bdev_file_open(Disk* disk, int flags) {
  if ((flags & O_ACCMODE) != O_RDONLY && disk->read_only()) return -EACCES;
  const std::string name = "iostack:" + disk->name();
  const int fd = memfd_create(name.c_str(), (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0) return -errno;
  auto* f = new BdevFile;
  f->disk = disk;
  f->flags = flags;
  files().install(fd, f);  // a stale entry at a reused number goes away
  return fd;
}

int bdev_file_attach(int fd, Disk* disk, int flags, std::uint64_t start, std::uint64_t size,
                     const BdevInode* inode) {
  if (fd < 0) return -EBADF;
  if ((flags & O_ACCMODE) != O_RDONLY && disk->read_only()) return -EACCES;
  const std::uint64_t lbs = disk->queue()->limits().logical_block_size;
  if ((start | size) & (lbs - 1)) return -EINVAL;
  auto* f = new BdevFile;
  f->disk = disk;
  f->flags = flags;
  f->start = start;
  f->size = size;
  f->inode = inode;
  files().install(fd, f);
  return 0;
}

int bdev_file_attach_remote(int fd, int flags, const BdevRemote* remote, std::uint64_t key) {
  if (fd < 0) return -EBADF;
  auto* f = new BdevFile;
  f->flags = flags;
  f->remote = remote;
  f->remote_key = key;
  files().install(fd, f);
  return 0;
}

core::FileRef bdev_file_get(int fd) {
  core::FileRef f = files().get(fd);
  if (!f.is(&kBdevFops)) return {};
  return f;
}

std::int64_t bdev_pos(BdevFile* f, int os_fd) {
  if ((f->inode || f->remote) && os_fd >= 0) {
    const long r = iostack_raw_syscall6(SYS_lseek, os_fd, 0, SEEK_CUR, 0, 0, 0);
    if (r >= 0) return r;
  }
  return f->pos.load(std::memory_order_relaxed);
}

void bdev_set_pos(BdevFile* f, int os_fd, bool fd_held, std::int64_t pos) {
  if ((f->inode || f->remote) && os_fd >= 0 && (fd_held || bdev_of(bdev_file_get(os_fd)) == f)) {
    if (iostack_raw_syscall6(SYS_lseek, os_fd, pos, SEEK_SET, 0, 0, 0) >= 0) return;
  }
  f->pos.store(pos, std::memory_order_relaxed);
}

int bdev_file_close(int fd) {
  if (!files().get(fd).is(&kBdevFops)) return -EBADF;
  return core::close_fd(fd);
}

int bdev_rw(BdevFile* f, BdevIo* io, bool write, const struct iovec* iov, int iovcnt,
            std::int64_t offset, std::uint32_t rw_flags, std::uint16_t ioprio) {
  if (int err = access_check(f, write)) return err;
  if ((rw_flags & RWF_APPEND) && (rw_flags & kRwfNoappend)) return -EINVAL;
  if (f->remote) {
    // One call to the process with the device; a request that must not
    // wait goes to a worker (-EAGAIN), as one that would block on a lock.
    if (iovcnt < 0 || offset < 0) return -EINVAL;
    if (rw_flags & RWF_NOWAIT) return -EAGAIN;
    if (f->flags & O_DSYNC) rw_flags |= RWF_DSYNC;
    std::int64_t pos = write && appends(f, rw_flags) ? -1 : offset;
    long res = f->remote->rw(f->remote_key, write, f->flags & O_DIRECT, iov, iovcnt, &pos);
    if (res > 0 && write && (rw_flags & (RWF_DSYNC | RWF_SYNC)))
      if (const int e = f->remote->fsync(f->remote_key)) res = e;
    io->at = pos;
    io->end(io->priv, res);
    return 0;
  }
  if (f->inode && f->inode->sync_rw) {
    if (!(f->flags & O_DIRECT))
      return bdev_sync_file_rw(f, io, write, iov, iovcnt,
                               write && appends(f, rw_flags) ? -1 : offset, rw_flags);
    if (write && appends(f, rw_flags)) {
      if (offset < 0) return -EINVAL;
      return bdev_sync_file_rw(f, io, write, iov, iovcnt, -1, rw_flags);
    }
  }
  Disk* disk = f->disk;
  const QueueLimits& lim = disk->queue()->limits();
  const std::uint64_t lbs_mask = lim.logical_block_size - 1;
  if (iovcnt < 0 || offset < 0) return -EINVAL;
  std::uint64_t count = 0;
  for (int i = 0; i < iovcnt; ++i) {
    // blkdev_dio_invalid: block-aligned lengths and position.
    if (iov[i].iov_len & lbs_mask) return -EINVAL;
    count += iov[i].iov_len;
  }
  if (static_cast<std::uint64_t>(offset) & lbs_mask) return -EINVAL;
  const std::uint64_t size = f->size ? f->size : disk->capacity() << kSectorShift;
  const auto pos = static_cast<std::uint64_t>(offset);
  if (pos >= size) {
    if (write) return -ENOSPC;
    count = 0;
  }
  if (count > size - std::min(pos, size)) count = size - pos;
  // A file's data: its dirty cached pages go down first, and a read ends
  // at its size (the last block read whole, the result cut).
  std::uint64_t visible = count;
  if (f->inode && count) {
    const std::int64_t isize = f->inode->begin_direct(f->inode->priv, write, pos, count);
    if (isize < 0) return static_cast<int>(isize);
    if (!write) {
      const std::uint64_t left = pos < static_cast<std::uint64_t>(isize) ? isize - pos : 0;
      visible = std::min(count, left);
      count = std::min(count, (left + lbs_mask) & ~lbs_mask);
    }
  }
  if (count) {
    const long pinned = pin_user_pages(iov, iovcnt, count, write, lbs_mask);
    if (pinned < 0) return static_cast<int>(pinned);
    count = static_cast<std::uint64_t>(pinned);
    visible = std::min(visible, count);
    // The memory's DMA alignment (512 bytes) is the block layer's check,
    // made on the pinned pages: an unmapped misaligned buffer is -EFAULT.
    std::uint64_t left = count;
    for (int i = 0; i < iovcnt && left; ++i) {
      if (!iov[i].iov_len) continue;
      if (reinterpret_cast<std::uintptr_t>(iov[i].iov_base) & 511) return -EINVAL;
      left -= std::min<std::uint64_t>(iov[i].iov_len, left);
    }
  }
  if (write && count && f->inode && f->inode->direct_write &&
      f->inode->direct_write(f->inode->priv, pos, count))
    return bdev_sync_file_rw(f, io, write, iov, iovcnt, offset, rw_flags);
  io->pending.store(1, std::memory_order_relaxed);  // held until all bios are out
  io->error.store(0, std::memory_order_relaxed);
  io->bytes = static_cast<long>(write ? count : visible);
  io->at = offset;
  io->inode = write ? f->inode : nullptr;
  io->write_end = pos + count;
  std::uint32_t opf = write ? write_opf(rw_flags) : REQ_OP_READ;
  if (rw_flags & RWF_NOWAIT) opf |= REQ_NOWAIT;
  sector_t sector = (f->start + pos) >> kSectorShift;  // blk_partition_remap
  int i = 0;
  while (count) {
    const int n = std::min(iovcnt - i, 256);
    Bio* bio = bio_alloc(disk, static_cast<unsigned>(n), opf);
    bio->bi_iter.bi_sector = sector;
    bio->bi_ioprio = ioprio;
    bio->bi_end_io = bdev_bio_end_io;
    bio->bi_private = io;
    for (int k = 0; k < n && count; ++k, ++i) {
      const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(iov[i].iov_len, count));
      if (!len) continue;
      bio_add_vec(bio, iov[i].iov_base, len);
      count -= len;
    }
    sector += bio->bi_iter.bi_size >> kSectorShift;
    io->pending.fetch_add(1, std::memory_order_relaxed);
    submit_bio(bio);
  }
  // Drop the submission reference; the last completion reports.
  bdev_io_put(io);
  return 0;
}

int bdev_flush(BdevFile* f, BdevIo* io) {
  if (f->remote) {
    io->end(io->priv, f->remote->fsync(f->remote_key));
    return 0;
  }
  if (f->inode) {
    io->end(io->priv, f->inode->fsync(f->inode->priv));
    return 0;
  }
  io->pending.store(1, std::memory_order_relaxed);
  io->error.store(0, std::memory_order_relaxed);
  io->bytes = 0;
  io->inode = nullptr;
  Bio* bio = bio_alloc(f->disk, 0, REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC);
  bio->bi_end_io = bdev_bio_end_io;
  bio->bi_private = io;
  submit_bio(bio);
  return 0;
}

}  // namespace iostack::block
