// An iostack block device opened as a file (block/fops.c, blkdev_direct_IO):
// a real file descriptor that the io_uring and AIO engines recognise and
// serve through the block layer instead of the OS.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>

#include "block/bio.hpp"
#include "core/file.hpp"

namespace iostack::block {

class Disk;

// A regular file whose data a device file's window holds (a file of
// `iostack exec --map`): direct I/O on it follows the file's size as
// iomap_dio_rw does, and its fsync is the file's. The hooks are the file
// system's; `extend` runs where the I/O completes, so it never blocks.
struct BdevInode {
  // Before a direct read or write of [pos, pos + len): the dirty cached
  // pages there are written back, and for a write dropped
  // (filemap_write_and_wait_range, kiocb_invalidate_pages). The file's size
  // (i_size), or -errno.
  std::int64_t (*begin_direct)(void* priv, bool write, std::uint64_t pos, std::uint64_t len);
  // After a write that ended at byte `end`: i_size grows to it.
  void (*extend)(void* priv, std::uint64_t end);
  // vfs_fsync: the file's data and size made durable. 0 or -errno.
  int (*fsync)(void* priv);
  void* priv;
  // A direct write of `count` bytes at `pos` is about to go down (its
  // checks passed): the file system counts it (the power switch of
  // `iostack exec` counts write calls) and drops the cached pages there
  // (kiocb_invalidate_pages), so a later read gets what the device holds:
  // the new bytes, or the old ones when the write failed. true: it must not
  // go down from here but through sync_rw, where the file system can act
  // once it is done (pages that cannot be dropped, shared mappings' memory,
  // take the bytes only when it succeeded; the power goes after it). Null:
  // nothing is cached.
  bool (*direct_write)(void* priv, std::uint64_t pos, std::uint64_t count) = nullptr;
  // I/O the file system does whole before the issue returns: all of a
  // descriptor without O_DIRECT (generic_file_read_iter,
  // generic_perform_write: the page cache) and a direct write at the end of
  // the file (ext4 waits for a direct write that extends the file, and
  // io-wq runs one file's writes one at a time). The first `count` bytes of
  // `iov` at `*pos`, or at the end of the file when it is -1 (O_APPEND,
  // RWF_APPEND: generic_write_checks), where `*pos` is set to where they
  // went. `rw_flags` RWF_DSYNC/RWF_SYNC make a write durable, RWF_NOWAIT
  // makes one that needs the device -EAGAIN. Bytes or -errno. Null: such
  // I/O is direct too.
  long (*sync_rw)(void* priv, bool write, bool direct, const struct iovec* iov, int iovcnt,
                  std::uint64_t count, std::int64_t* pos, std::uint32_t rw_flags) = nullptr;
  // How a forked child, which does not have the device, reaches the file (its
  // descriptors of it become BdevFile::remote ones there); null: it cannot.
  const struct BdevRemote* remote = nullptr;
  std::uint64_t remote_key = 0;
};

// A file whose device is in another process (a mapped file of `iostack
// exec` in a child of the program, which reaches it through the process
// holding the device): each I/O is one synchronous call there, at `pos`
// of the file's data, with the file's direct I/O rules. Results are bytes
// or -errno.
struct BdevRemote {
  // `direct`: the descriptor's O_DIRECT (else through the page cache there).
  // `*pos`: the offset, or -1 for a write at the end of the file, set to
  // where the I/O went.
  long (*rw)(std::uint64_t key, bool write, bool direct, const struct iovec* iov, int iovcnt,
             std::int64_t* pos);
  int (*fsync)(std::uint64_t key);
};

// A struct file opened on a block device (block/fops.c, def_blk_fops).
struct BdevFile : core::File {
  BdevFile();
  Disk* disk = nullptr;
  int flags = 0;                     // open(2) flags
  std::atomic<std::int64_t> pos{0};  // file position for offset -1 I/O
  // A partition's window of the disk (bd_start_sect, bdev_nr_sectors):
  // offset 0 is byte `start` of the disk; `size` 0 is the whole disk.
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  const BdevInode* inode = nullptr;    // the file the window holds, if any
  const BdevRemote* remote = nullptr;  // or the file is another process's
  std::uint64_t remote_key = 0;        // which, for `remote`
};

// Opens `disk` as open(2) on /dev/<name> would: O_RDONLY/O_WRONLY/O_RDWR,
// O_DIRECT and O_CLOEXEC are honoured; writing a read-only disk is -EACCES.
// Returns a descriptor (a memfd named "iostack:<name>") or -errno.
int bdev_file_open(Disk* disk, int flags);
// Makes the open descriptor `fd` (of any file) a device file of `disk` for
// the io_uring and AIO engines, over the window [start, start + size) as a
// partition's (size a multiple of the logical block size). 0 or -errno.
// With `inode`, the window is that file's data (BdevInode).
int bdev_file_attach(int fd, Disk* disk, int flags, std::uint64_t start, std::uint64_t size,
                     const BdevInode* inode = nullptr);
// Makes `fd` a file reached through `remote` (BdevRemote) for the io_uring
// and AIO engines. 0 or -errno.
int bdev_file_attach_remote(int fd, int flags, const BdevRemote* remote, std::uint64_t key);
// fget() of a block device: a reference to the device file at `fd`, or an
// empty ref when `fd` is not an iostack device. The file stays valid while
// the ref lives, even if the descriptor is closed meanwhile.
core::FileRef bdev_file_get(int fd);
inline BdevFile* bdev_of(const core::FileRef& f) { return f.as<BdevFile>(); }
// The position of offset -1 I/O on `f` reached through descriptor `os_fd`
// (io_uring's REQ_F_CUR_POS): a file's data (inode, remote) uses the real open
// file's f_pos, the one read(2) and lseek(2) move; a device its own `pos`.
std::int64_t bdev_pos(BdevFile* f, int os_fd);
// Stores it back after `pos` was reached. `fd_held`: `os_fd` stayed open
// for the I/O (a registered file's); else it is used only while it still
// names `f` (the program may have closed it, or reused the number).
void bdev_set_pos(BdevFile* f, int os_fd, bool fd_held, std::int64_t pos);
// Closes a descriptor from bdev_file_open; -EBADF for any other.
int bdev_file_close(int fd);

using BdevEndIo = void (*)(void* priv, long res);

// Per-I/O state, embedded in the caller's request so nothing is allocated.
struct BdevIo {
  BdevEndIo end = nullptr;
  void* priv = nullptr;
  std::atomic<int> pending{0};
  std::atomic<int> error{0};
  long bytes = 0;
  const BdevInode* inode = nullptr;  // a write to a file's data: extends it
  std::uint64_t write_end = 0;       // where that write ends
  // Where the I/O went: its offset, or the end of the file for one that
  // appends (O_APPEND, RWF_APPEND), for the file position it moves.
  std::int64_t at = 0;

  // Ready for a new I/O that calls `fn(priv)` when it ends.
  void reset(BdevEndIo fn, void* data) {
    end = fn;
    priv = data;
    pending.store(0, std::memory_order_relaxed);
    error.store(0, std::memory_order_relaxed);
    bytes = 0;
    inode = nullptr;
  }
};

// Direct I/O of user memory at byte `offset` (blkdev_direct_IO): offset and
// every length must be multiples of the logical block size (-EINVAL); reads
// stop at the end of the device (0 at or past it), writes at or past it are
// -ENOSPC and are cut at the end. The user pages are checked as pinning
// checks them (the device writes them for a read): -EFAULT when the first
// is bad, a short transfer up to a bad one, -EIO past 256 pages; memory not
// 512-byte aligned is -EINVAL after that. `rw_flags` are RWF_* (RWF_NOWAIT
// maps to REQ_NOWAIT, RWF_DSYNC/RWF_SYNC to FUA, RWF_HIPRI is accepted). On
// a file's data (BdevFile::inode) a read stops at the file's size (0 at or
// past it) and a write past it extends it; a write of a descriptor with
// O_APPEND (without RWF_NOAPPEND), or with RWF_APPEND, goes to the end of
// the file whatever `offset` says (io->at tells where). Returns 0
// once submitted: io->end(priv, bytes or -errno) runs exactly once, maybe
// before this returns. A negative return means nothing was submitted.
int bdev_rw(BdevFile* f, BdevIo* io, bool write, const struct iovec* iov, int iovcnt,
            std::int64_t offset, std::uint32_t rw_flags, std::uint16_t ioprio);
// fsync / fdatasync: an empty PREFLUSH write (blkdev_fsync); on a file's
// data, the file's fsync, before this returns.
int bdev_flush(BdevFile* f, BdevIo* io);

}  // namespace iostack::block
