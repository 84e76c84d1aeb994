// A mapped file of `iostack exec --map`: a file whose blocks are an
// iostack device's, reached through a small model of the page cache
// (mm/filemap.c, fs/buffer.c): buffered writes dirty 4 KiB pages in memory;
// write-back (over the dirty limit, sync_file_range, fsync) sends them down
// as block writes, and fsync/fdatasync then send a FLUSH (blkdev_issue_flush
// as ext4 and xfs do), after which the data and the file size are durable.
// O_DIRECT I/O writes back and drops the cached pages it covers and goes
// straight to the device. A power cut loses whatever is only in memory.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "block/bdev_file.hpp"
#include "core/mutex.hpp"
#include "dev/device.hpp"

namespace iostack::map {

constexpr std::uint64_t kPageSize = 4096;

// What the mapped file does to the device, for the power switch.
struct IoCounts {
  std::uint64_t writes = 0;  // block writes issued
  std::uint64_t fsyncs = 0;  // fsync/fdatasync calls
  std::uint64_t calls = 0;   // the program's write calls on mapped files
};

class MappedFile {
 public:
  // `dirty_limit`: bytes of dirty pages that start a write-back of them all.
  MappedFile(std::string path, std::unique_ptr<dev::BlockDevice> dev, std::string image,
             std::uint64_t dirty_limit, IoCounts* counts);
  // A file of a mapped directory (mapfs.hpp): its pages live in the extent
  // [base, base + capacity) of `dev`, which the directory owns.
  MappedFile(std::string path, dev::BlockDevice* dev, std::uint64_t base, std::uint64_t capacity,
             std::uint64_t dirty_limit, IoCounts* counts);
  ~MappedFile();
  int init();  // opens the device for the cache's I/O: 0 or -errno

  const std::string& path() const { return path_; }
  const std::string& image() const { return image_; }
  dev::BlockDevice* device() const { return devp_; }
  block::Disk* disk() const { return devp_->disk(); }
  std::uint64_t size() const { return size_.load(std::memory_order_acquire); }
  std::uint64_t durable_size() const { return durable_size_; }
  std::uint64_t device_size() const { return dev_size_; }
  // A directory's file: its extent of the device (capacity 0: all of it).
  std::uint64_t base() const { return base_; }
  std::uint64_t capacity() const { return capacity_; }

  // Buffered (through the cache) or direct I/O at `offset` of at most
  // `limit` bytes of `iov`; bytes or -errno.
  long rw(bool write, bool direct, const struct iovec* iov, int iovcnt, std::uint64_t offset,
          std::uint64_t limit = UINT64_MAX);
  // Whether buffered I/O of `len` bytes at `offset` is done in memory: no
  // page to read in, no write-back (IOCB_NOWAIT's test).
  bool in_memory(bool write, std::uint64_t offset, std::uint64_t len) const;
  // Writes back the dirty pages over [lo, hi) (no FLUSH): 0 or -errno.
  int writeback(std::uint64_t lo, std::uint64_t hi);
  // fsync/fdatasync: write-back, then FLUSH; the size is durable after.
  // msync(MS_SYNC) writes back only [lo, hi) (vfs_fsync_range).
  int fsync(std::uint64_t lo = 0, std::uint64_t hi = UINT64_MAX);
  int truncate(std::uint64_t length);
  int allocate(std::uint64_t offset, std::uint64_t len);
  // The file's contents are gone (its last name and open went, or a new
  // file takes its place): size 0, cache dropped. Shared mappings keep the
  // pages they show, which are no longer the file's (the kernel keeps an
  // unlinked inode while it is mapped); the next mmap starts anew.
  void clear();
  // A single mapped file whose name went while descriptors may hold it: they
  // keep its data until a new file is created under the name.
  bool unlinked() const { return unlinked_; }
  void set_unlinked(bool on) { unlinked_ = on; }
  // A file found on the device at mount: `size` bytes, all durable.
  void mount(std::uint64_t size) {
    size_ = size;
    durable_size_ = size;
  }
  // Runs in fsync between the write-back and the FLUSH, with the file's
  // size: a directory's file writes its inode record there.
  void set_fsync_hook(std::function<int(std::uint64_t)> hook) { fsync_hook_ = std::move(hook); }
  // The device the open(2) descriptors name (none for a directory's files).
  bool own_device() const { return dev_ != nullptr; }

  // I/O straight to the device (aligned buffers), counted as writes.
  long device_rw(bool write, const struct iovec* iov, int iovcnt, std::uint64_t offset);

  // The file as the io_uring and AIO engines see the descriptors of it
  // (block::bdev_file_attach): on an O_DIRECT descriptor direct I/O that
  // writes back the cached pages it covers (a write drops them, or on a
  // shared file is done whole and leaves its bytes in them only when it
  // succeeds), reads cut at the size, writes extending it; on another the page
  // cache, as read(2) and write(2); and this file's fsync. `lock` and `unlock` guard the calls that
  // run where requests are issued (the caller's lock of the mapped files).
  const block::BdevInode* bdev_inode(void (*lock)(), void (*unlock)());
  // How a forked child's engines reach this file (BdevInode::remote).
  void set_child_remote(const block::BdevRemote* remote, std::uint64_t key) {
    inode_.remote = remote;
    inode_.remote_key = key;
  }
  // I/O of the engines done whole (BdevInode::sync_rw): buffered, or a
  // direct write at the end of the file (`*pos` -1). Bytes or -errno.
  long sync_rw(bool write, bool direct, const struct iovec* iov, int iovcnt, std::uint64_t count,
               std::int64_t* pos, std::uint32_t rw_flags);
  // Before a direct I/O of the engines: the size, or -errno.
  std::int64_t begin_direct(bool write, std::uint64_t pos, std::uint64_t len);
  // After a write of the engines that ended at `end`; never blocks.
  void extend(std::uint64_t end);

  // mmap(MAP_SHARED) of [offset, offset + len): from the first one on, the
  // cached pages live in a shared memory file at their file offsets, which
  // the program maps, so that its stores and loads are the page cache's as
  // in the kernel; the pages of the range inside the file are read in now.
  // The memory file's descriptor (owned here), or -errno.
  int share(std::uint64_t offset, std::uint64_t len);
  // The memory file's name in /proc/self/maps ("/memfd:NAME (deleted)").
  void set_share_name(std::string name) { share_name_ = std::move(name); }

 private:
  struct Page {
    char* data = nullptr;
    bool dirty = false;
    // A shared page: its bytes as last read from or written to the device.
    // Stores through a mapping leave no trace but the difference (there is
    // no write fault to mark the page dirty): write-back compares.
    char* clean = nullptr;
  };
  Page* get_page(std::uint64_t index, bool read_in, int* err);
  void drop_pages(std::uint64_t lo_index, std::uint64_t hi_index);
  // The pages of [lo, hi) that mappings stored to become dirty.
  void harvest(std::uint64_t lo, std::uint64_t hi);
  // As a direct write of `n` bytes at `offset` goes down: the cached pages
  // there take the bytes written.
  void refresh(const struct iovec* iov, int iovcnt, std::uint64_t offset, std::uint64_t n);

  // The memory file's length follows the file's size, a page at a time
  // (i_size for the mappings: a page wholly past it is SIGBUS, as
  // filemap_fault's check): grown to hold byte `end` - 1, or set to the
  // size after a truncate.
  void grow_shm(std::uint64_t end);
  void fit_shm();
  // The memory file is left to the mappings that have it; the pages go.
  void orphan_shm();

  std::string path_;
  std::unique_ptr<dev::BlockDevice> dev_;
  dev::BlockDevice* devp_;
  std::uint64_t base_ = 0;
  std::uint64_t capacity_ = 0;  // 0: the whole device
  std::function<int(std::uint64_t)> fsync_hook_;
  std::string image_;
  std::uint64_t dirty_limit_;
  IoCounts* counts_;
  int fd_ = -1;
  core::FileRef ref_;
  block::BdevFile* file_ = nullptr;
  std::uint64_t dev_size_ = 0;
  // Written under the caller's lock, and grown without it where an engine's
  // write completes (extend).
  std::atomic<std::uint64_t> size_{0};
  block::BdevInode inode_{};
  void (*lock_)() = nullptr;
  void (*unlock_)() = nullptr;
  std::uint64_t durable_size_ = 0;
  std::map<std::uint64_t, Page> pages_;
  std::uint64_t dirty_pages_ = 0;
  // The shared memory file of mmap(MAP_SHARED), mapped here whole.
  int shm_fd_ = -1;
  char* shm_ = nullptr;
  std::uint64_t shm_size_ = 0;
  // Resized where the file grows, under the caller's lock or not (extend).
  std::atomic<bool> shared_{false};  // shm_fd_ is set
  core::Mutex shm_mu_;
  std::uint64_t shm_len_ GUARDED_BY(shm_mu_) = 0;
  std::string share_name_ = "iostack-shm";
  bool unlinked_ = false;
};

// One synchronous request on `f` (O_DIRECT rules): bytes or -errno; a
// FLUSH: 0 or -errno.
long bdev_sync_rw(block::BdevFile* f, bool write, const struct iovec* iov, int iovcnt,
                  std::uint64_t offset);
long bdev_sync_flush(block::BdevFile* f);

// After each block write, after each write call of the program (write(2)
// and the like, an io_uring or AIO write request) and before each fsync:
// the power switch's check (map_capi.cpp), which may end the process.
void after_write(IoCounts* c);
void after_write_call(IoCounts* c);
void before_fsync(IoCounts* c);
// A direct write request of the engines about to go down on its own:
// counted as a write call and a block write, or, when the power would go
// after it, left uncounted (true) to be done where the switch can act.
bool count_engine_write(IoCounts* c);

}  // namespace iostack::map
