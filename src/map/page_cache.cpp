// The page cache model of mapped files: dirty pages, write-back, shared mappings.
#include "map/page_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "block/disk.hpp"
#include "block/plug.hpp"
#include "core/fd_high.hpp"

namespace iostack::map {
namespace {

// One synchronous request on the block layer.
struct Waiter {
  block::BdevIo io;
  std::atomic<int> done{0};
  long res = 0;
};

void waiter_end(void* priv, long res) {
  auto* w = static_cast<Waiter*>(priv);
  w->res = res;
  w->done.store(1, std::memory_order_release);
  w->done.notify_one();
}

long wait(Waiter* w) {
  // As io_schedule: a plug the caller holds (an io_uring submission that
  // wrote back pages here) goes down before the sleep, or nothing would.
  if (w->done.load(std::memory_order_acquire) == 0) block::blk_flush_current_plug_before_sleep();
  while (w->done.load(std::memory_order_acquire) == 0) w->done.wait(0, std::memory_order_acquire);
  return w->res;
}

// Copies between the caller's iovec (from byte `at` of it) and `buf`.
void iov_copy(const struct iovec* iov, int iovcnt, std::uint64_t at, char* buf, std::uint64_t n,
              bool to_iov) {
  for (int i = 0; i < iovcnt && n; ++i) {
    if (at >= iov[i].iov_len) {
      at -= iov[i].iov_len;
      continue;
    }
    const std::uint64_t k = std::min<std::uint64_t>(iov[i].iov_len - at, n);
    char* p = static_cast<char*>(iov[i].iov_base) + at;
    if (to_iov)
      std::memcpy(p, buf, k);
    else
      std::memcpy(buf, p, k);
    buf += k;
    n -= k;
    at = 0;
  }
}

}  // namespace

long bdev_sync_rw(block::BdevFile* f, bool write, const struct iovec* iov, int iovcnt,
                  std::uint64_t offset) {
  Waiter w;
  w.io.reset(waiter_end, &w);
  const int r =
      block::bdev_rw(f, &w.io, write, iov, iovcnt, static_cast<std::int64_t>(offset), 0, 0);
  return r < 0 ? r : wait(&w);
}

long bdev_sync_flush(block::BdevFile* f) {
  Waiter w;
  w.io.reset(waiter_end, &w);
  block::bdev_flush(f, &w.io);
  return wait(&w);
}

MappedFile::MappedFile(std::string path, std::unique_ptr<dev::BlockDevice> dev, std::string image,
                       std::uint64_t dirty_limit, IoCounts* counts)
    : path_(std::move(path)),
      dev_(std::move(dev)),
      devp_(dev_.get()),
      image_(std::move(image)),
      dirty_limit_(dirty_limit),
      counts_(counts) {}

MappedFile::MappedFile(std::string path, dev::BlockDevice* dev, std::uint64_t base,
                       std::uint64_t capacity, std::uint64_t dirty_limit, IoCounts* counts)
    : path_(std::move(path)),
      devp_(dev),
      base_(base),
      capacity_(capacity),
      dirty_limit_(dirty_limit),
      counts_(counts) {}

MappedFile::~MappedFile() {
  for (auto& [i, p] : pages_) {
    if (!shm_) std::free(p.data);
    std::free(p.clean);
  }
  if (shm_) ::munmap(shm_, shm_size_);
  if (shm_fd_ >= 0) ::syscall(SYS_close, shm_fd_);
  if (fd_ >= 0) {
    ref_ = {};
    block::bdev_file_close(fd_);
  }
}

int MappedFile::init() {
  fd_ = block::bdev_file_open(devp_->disk(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd_ < 0) return fd_;
  ref_ = block::bdev_file_get(fd_);
  file_ = block::bdev_of(ref_);
  dev_size_ = capacity_ ? capacity_ : devp_->disk()->capacity() << block::kSectorShift;
  return 0;
}

long MappedFile::device_rw(bool write, const struct iovec* iov, int iovcnt, std::uint64_t offset) {
  Waiter w;
  w.io.reset(waiter_end, &w);
  const int r = block::bdev_rw(file_, &w.io, write, iov, iovcnt,
                               static_cast<std::int64_t>(base_ + offset), 0, 0);
  if (r < 0) return r;
  const long res = wait(&w);
  if (write) after_write(counts_);
  return res;
}

MappedFile::Page* MappedFile::get_page(std::uint64_t index, bool read_in, int* err) {
  auto it = pages_.find(index);
  if (it != pages_.end()) return &it->second;
  if (shm_) {
    // A slot a mapping stored to after the file grew over it is a page.
    harvest(index * kPageSize, (index + 1) * kPageSize);
    it = pages_.find(index);
    if (it != pages_.end()) return &it->second;
  }
  char* clean = nullptr;
  if (shm_) {
    clean = static_cast<char*>(std::aligned_alloc(kPageSize, kPageSize));
    if (!clean) {
      *err = -ENOMEM;
      return nullptr;
    }
  }
  // A shared file's page is its slot of the memory file the mappings show,
  // which must reach it before it is touched (a write past the end).
  if (shm_) grow_shm((index + 1) * kPageSize);
  char* data = shm_ ? shm_ + index * kPageSize
                    : static_cast<char*>(std::aligned_alloc(kPageSize, kPageSize));
  if (!data) {
    *err = -ENOMEM;
    return nullptr;
  }
  std::memset(data, 0, kPageSize);
  // A page past the end of the file reads as zeros, as a hole would.
  if (read_in && index * kPageSize < size_) {
    struct iovec v {
      data, kPageSize
    };
    const long r = device_rw(false, &v, 1, index * kPageSize);
    if (r < 0) {
      if (!shm_) std::free(data);
      std::free(clean);
      *err = static_cast<int>(r);
      return nullptr;
    }
  }
  if (clean) std::memcpy(clean, data, kPageSize);
  return &pages_.emplace(index, Page{data, false, clean}).first->second;
}

void MappedFile::drop_pages(std::uint64_t lo, std::uint64_t hi) {
  auto it = pages_.lower_bound(lo);
  while (it != pages_.end() && it->first < hi) {
    if (it->second.dirty) --dirty_pages_;
    if (shm_) {
      // The mappings show zeros there now, as a page truncated away.
      ::syscall(SYS_fallocate, shm_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                it->first * kPageSize, kPageSize);
    } else {
      std::free(it->second.data);
    }
    std::free(it->second.clean);
    it = pages_.erase(it);
  }
  // Slots of the memory file no page owns (stored to past the end of the
  // file, then truncated) go too.
  if (shm_ && hi > lo && lo * kPageSize < shm_size_) {
    const std::uint64_t end = std::min(hi, shm_size_ / kPageSize);
    for (std::uint64_t i = lo; i < end;) {
      const long d = ::syscall(SYS_lseek, shm_fd_, i * kPageSize, SEEK_DATA);
      if (d < 0 || static_cast<std::uint64_t>(d) >= end * kPageSize) break;
      const std::uint64_t di = static_cast<std::uint64_t>(d) / kPageSize;
      if (!pages_.count(di))
        ::syscall(SYS_fallocate, shm_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  di * kPageSize, kPageSize);
      i = di + 1;
    }
  }
}

void MappedFile::harvest(std::uint64_t lo, std::uint64_t hi) {
  if (!shm_) return;
  const std::uint64_t size = size_.load(std::memory_order_acquire);
  hi = std::min({hi, size, shm_size_});
  // Only the memory file's slots that hold data can have been stored to.
  for (std::uint64_t at = lo / kPageSize * kPageSize; at < hi;) {
    const long d = ::syscall(SYS_lseek, shm_fd_, at, SEEK_DATA);
    if (d < 0 || static_cast<std::uint64_t>(d) >= hi) break;
    const std::uint64_t index = static_cast<std::uint64_t>(d) / kPageSize;
    at = (index + 1) * kPageSize;
    auto it = pages_.find(index);
    if (it == pages_.end()) {
      // A page the file grew over (ftruncate) while a mapping showed it:
      // zeros on the device's side, the stores on the mapping's.
      char* clean = static_cast<char*>(std::aligned_alloc(kPageSize, kPageSize));
      if (!clean) return;
      std::memset(clean, 0, kPageSize);
      it = pages_.emplace(index, Page{shm_ + index * kPageSize, false, clean}).first;
    }
    Page& p = it->second;
    if (!p.dirty && std::memcmp(p.data, p.clean, kPageSize) != 0) {
      p.dirty = true;
      ++dirty_pages_;
    }
  }
}

int MappedFile::share(std::uint64_t offset, std::uint64_t len) {
  if (!shm_) {
    const std::uint64_t size = (dev_size_ + kPageSize - 1) / kPageSize * kPageSize;
    // Above the program's numbers, made in a thread serving a child.
    const int fd = core::move_high_raw(
        static_cast<int>(::syscall(SYS_memfd_create, share_name_.c_str(), MFD_CLOEXEC)));
    if (fd < 0) return -errno;
    // Its length is the file's size; this mapping reaches past it.
    const std::uint64_t len =
        (size_.load(std::memory_order_acquire) + kPageSize - 1) & ~(kPageSize - 1);
    if (::syscall(SYS_ftruncate, fd, len) != 0) {
      const int e = -errno;
      ::syscall(SYS_close, fd);
      return e;
    }
    {
      core::LockGuard g(shm_mu_);
      shm_len_ = len;
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int e = -errno;
      ::syscall(SYS_close, fd);
      return e;
    }
    // The cached pages move into the memory file, each with a clean copy
    // (some may lie past the end: a write that failed there).
    char* base = static_cast<char*>(p);
    if (!pages_.empty()) {
      const std::uint64_t last = (pages_.rbegin()->first + 1) * kPageSize;
      if (last > len && ::syscall(SYS_ftruncate, fd, last) == 0) {
        core::LockGuard g(shm_mu_);
        shm_len_ = last;
      }
    }
    std::vector<char*> cleans;
    for (std::size_t k = 0; k < pages_.size(); ++k) {
      char* c = static_cast<char*>(std::aligned_alloc(kPageSize, kPageSize));
      if (!c) {
        for (char* x : cleans) std::free(x);
        ::munmap(p, size);
        ::syscall(SYS_close, fd);
        return -ENOMEM;
      }
      cleans.push_back(c);
    }
    std::size_t k = 0;
    for (auto& [i, pg] : pages_) {
      std::memcpy(base + i * kPageSize, pg.data, kPageSize);
      std::memcpy(cleans[k], pg.data, kPageSize);
      std::free(pg.data);
      pg.data = base + i * kPageSize;
      pg.clean = cleans[k++];
    }
    shm_fd_ = fd;
    shm_ = base;
    shm_size_ = size;
    shared_.store(true, std::memory_order_release);
    // A write of the engines may have grown the file meanwhile.
    grow_shm(size_.load(std::memory_order_acquire));
  }
  // The mapping shows the file's bytes from the start: its pages inside the
  // file are read in (nothing is ever evicted).
  const std::uint64_t size = size_.load(std::memory_order_acquire);
  const std::uint64_t end = std::min({offset + len, size, shm_size_});
  for (std::uint64_t i = offset / kPageSize; i * kPageSize < end; ++i) {
    int err = 0;
    if (!get_page(i, true, &err)) return err;
  }
  return shm_fd_;
}

int MappedFile::writeback(std::uint64_t lo, std::uint64_t hi) {
  // Runs of consecutive dirty pages go down as one write each, ascending.
  constexpr int kRun = 64;
  struct iovec v[kRun];
  Page* run[kRun];
  int n = 0, err = 0;
  std::uint64_t first = 0;
  harvest(lo, hi);
  auto issue = [&] {
    if (!n) return;
    const long r = device_rw(true, v, n, first * kPageSize);
    if (r < 0 && !err) err = static_cast<int>(r);
    for (int k = 0; k < n; ++k) run[k]->dirty = false;
    dirty_pages_ -= static_cast<std::uint64_t>(n);
    n = 0;
  };
  for (auto it = pages_.lower_bound(lo / kPageSize); it != pages_.end(); ++it) {
    if (it->first * kPageSize >= hi) break;
    if (!it->second.dirty || it->first * kPageSize >= dev_size_) continue;
    if (n && (it->first != first + static_cast<std::uint64_t>(n) || n == kRun)) issue();
    if (!n) first = it->first;
    // A shared page goes down as it is now, which becomes its clean copy
    // (a mapping may store to it meanwhile: that makes it dirty again).
    if (it->second.clean) std::memcpy(it->second.clean, it->second.data, kPageSize);
    v[n] = {it->second.clean ? it->second.clean : it->second.data, kPageSize};
    run[n++] = &it->second;
  }
  issue();
  return err;
}

int MappedFile::fsync(std::uint64_t lo, std::uint64_t hi) {
  int err = writeback(lo, hi);
  const std::uint64_t size = size_.load(std::memory_order_acquire);
  if (!err && fsync_hook_) err = fsync_hook_(size);
  const long r = bdev_sync_flush(file_);
  if (!err && r < 0) err = static_cast<int>(r);
  if (!err) durable_size_ = size;
  return err;
}

long MappedFile::rw(bool write, bool direct, const struct iovec* iov, int iovcnt,
                    std::uint64_t offset, std::uint64_t limit) {
  std::uint64_t len = 0;
  for (int i = 0; i < iovcnt; ++i) len += iov[i].iov_len;
  len = std::min(len, limit);
  if (write) {
    if (len && offset >= dev_size_) return -ENOSPC;
    len = std::min(len, dev_size_ - std::min(offset, dev_size_));
  } else {
    const std::uint64_t size = size_.load(std::memory_order_acquire);
    if (offset >= size) return 0;
    len = std::min(len, size - offset);
  }
  if (!len) return 0;
  if (direct) {
    // A directory's file ends at its extent; the block layer would not stop there.
    std::uint64_t total = 0;
    for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
    if (capacity_ && offset + total > dev_size_) return write ? -ENOSPC : -EINVAL;
    // As the kernel's direct I/O: dirty cached pages over the range go
    // down first.
    const std::uint64_t lo = offset / kPageSize, hi = (offset + len + kPageSize - 1) / kPageSize;
    if (const int e = writeback(lo * kPageSize, hi * kPageSize)) return e;
    long r = device_rw(write, iov, iovcnt, offset);
    if (r > 0 && !write) r = std::min<long>(r, static_cast<long>(len));
    if (r > 0 && write) {
      extend(offset + static_cast<std::uint64_t>(r));
      // Cached pages stay, with what the device now holds (the kernel
      // drops them, and unmaps mapped ones, to read the new bytes in).
      refresh(iov, iovcnt, offset, static_cast<std::uint64_t>(r));
    }
    return r;
  }
  std::uint64_t done = 0;
  while (done < len) {
    const std::uint64_t pos = offset + done;
    const std::uint64_t index = pos / kPageSize, in = pos % kPageSize;
    const std::uint64_t k = std::min(kPageSize - in, len - done);
    int err = 0;
    // A page written whole needs no read first.
    Page* p = get_page(index, !(write && in == 0 && k == kPageSize), &err);
    if (!p) return done ? static_cast<long>(done) : err;
    iov_copy(iov, iovcnt, done, p->data + in, k, !write);
    if (write && !p->dirty) {
      p->dirty = true;
      ++dirty_pages_;
    }
    done += k;
    if (write) extend(pos + k);
  }
  if (write && dirty_pages_ * kPageSize > dirty_limit_) {
    if (const int e = writeback(0, UINT64_MAX)) return e;
  }
  return static_cast<long>(done);
}

bool MappedFile::in_memory(bool write, std::uint64_t offset, std::uint64_t len) const {
  const std::uint64_t size = size_.load(std::memory_order_acquire);
  if (!write) len = offset < size ? std::min(len, size - offset) : 0;
  std::uint64_t added = 0;
  for (std::uint64_t pos = offset; pos < offset + len;) {
    const std::uint64_t index = pos / kPageSize, in = pos % kPageSize;
    const std::uint64_t k = std::min(kPageSize - in, offset + len - pos);
    if (!pages_.count(index)) {
      // A page written whole, or past the end, needs nothing read.
      const bool whole = write && (k == kPageSize || index * kPageSize >= size);
      if (!whole) return false;
    }
    if (write) ++added;
    pos += k;
  }
  return !write || (dirty_pages_ + added) * kPageSize <= dirty_limit_;
}

int MappedFile::truncate(std::uint64_t length) {
  if (length > dev_size_) return -EFBIG;
  const bool shrink = length < size_.load(std::memory_order_acquire);
  if (shrink) {
    drop_pages((length + kPageSize - 1) / kPageSize, UINT64_MAX);
    if (length % kPageSize) {
      // The part of the last page past the new end reads as zeros again.
      int err = 0;
      Page* p = get_page(length / kPageSize, true, &err);
      if (!p) return err;
      std::memset(p->data + length % kPageSize, 0, kPageSize - length % kPageSize);
      if (!p->dirty) {
        p->dirty = true;
        ++dirty_pages_;
      }
    }
  }
  size_ = length;
  // Only a shrink takes memory away: a page cached past the end (a write
  // there that failed) keeps its slot.
  if (shm_ && shrink) fit_shm();
  if (shm_ && !shrink) grow_shm(length);
  return 0;
}

void MappedFile::grow_shm(std::uint64_t end) {
  core::LockGuard g(shm_mu_);
  const std::uint64_t len = (end + kPageSize - 1) & ~(kPageSize - 1);
  if (len > shm_len_ && ::syscall(SYS_ftruncate, shm_fd_, len) == 0) shm_len_ = len;
}

void MappedFile::fit_shm() {
  core::LockGuard g(shm_mu_);
  const std::uint64_t size = size_.load(std::memory_order_acquire);
  const std::uint64_t len = (size + kPageSize - 1) & ~(kPageSize - 1);
  // Shrinking drops the memory past the end: a later growth reads zeros.
  if (len != shm_len_ && ::syscall(SYS_ftruncate, shm_fd_, len) == 0) shm_len_ = len;
}

int MappedFile::allocate(std::uint64_t offset, std::uint64_t len) {
  if (offset + len > dev_size_) return -ENOSPC;
  extend(offset + len);
  return 0;
}

void MappedFile::extend(std::uint64_t end) {
  std::uint64_t cur = size_.load(std::memory_order_relaxed);
  while (cur < end && !size_.compare_exchange_weak(cur, end, std::memory_order_acq_rel)) {
  }
  // Mappings reach the new end (an engine's write completing: no lock).
  if (cur < end && shared_.load(std::memory_order_acquire)) grow_shm(end);
}

std::int64_t MappedFile::begin_direct(bool /*write*/, std::uint64_t pos, std::uint64_t len) {
  // As the plain O_DIRECT path: the dirty cached pages over the range go
  // down first (then direct_write drops them).
  const std::uint64_t lo = pos / kPageSize, hi = (pos + len + kPageSize - 1) / kPageSize;
  if (const int e = writeback(lo * kPageSize, hi * kPageSize)) return e;
  return static_cast<std::int64_t>(size_.load(std::memory_order_acquire));
}

const block::BdevInode* MappedFile::bdev_inode(void (*lock)(), void (*unlock)()) {
  lock_ = lock;
  unlock_ = unlock;
  inode_.priv = this;
  inode_.begin_direct = [](void* p, bool write, std::uint64_t pos, std::uint64_t len) {
    auto* m = static_cast<MappedFile*>(p);
    m->lock_();
    const std::int64_t r = m->begin_direct(write, pos, len);
    m->unlock_();
    return r;
  };
  inode_.extend = [](void* p, std::uint64_t end) { static_cast<MappedFile*>(p)->extend(end); };
  inode_.direct_write = [](void* p, std::uint64_t pos, std::uint64_t count) {
    auto* m = static_cast<MappedFile*>(p);
    m->lock_();
    // A shared file's pages are its mappings' memory, which the kernel
    // refaults from the device after the write: they take the bytes only
    // once it succeeded, so it is done whole (rw's direct path).
    const bool sync = m->shared_.load(std::memory_order_acquire) || count_engine_write(m->counts_);
    // Else the pages go (written back by begin_direct): a read after the
    // write reads the device, whatever became of the write.
    if (!sync) m->drop_pages(pos / kPageSize, (pos + count + kPageSize - 1) / kPageSize);
    m->unlock_();
    return sync;
  };
  inode_.sync_rw = [](void* p, bool write, bool direct, const struct iovec* iov, int iovcnt,
                      std::uint64_t count, std::int64_t* pos, std::uint32_t rw_flags) {
    auto* m = static_cast<MappedFile*>(p);
    m->lock_();
    const long r = m->sync_rw(write, direct, iov, iovcnt, count, pos, rw_flags);
    m->unlock_();
    return r;
  };
  inode_.fsync = [](void* p) {
    auto* m = static_cast<MappedFile*>(p);
    m->lock_();
    before_fsync(m->counts_);
    const int r = m->fsync();
    m->unlock_();
    return r;
  };
  return &inode_;
}

long MappedFile::sync_rw(bool write, bool direct, const struct iovec* iov, int iovcnt,
                         std::uint64_t count, std::int64_t* pos, std::uint32_t rw_flags) {
  const bool sync = write && (rw_flags & (RWF_DSYNC | RWF_SYNC));
  // generic_write_checks: an appending write starts at the end.
  const std::uint64_t at =
      *pos < 0 ? size_.load(std::memory_order_acquire) : static_cast<std::uint64_t>(*pos);
  if ((rw_flags & RWF_NOWAIT) && (direct || sync || !in_memory(write, at, count))) return -EAGAIN;
  *pos = static_cast<std::int64_t>(at);
  long r = rw(write, direct, iov, iovcnt, at, count);
  // A write call of the program: the power may go now, before it is durable.
  if (r >= 0 && write) after_write_call(counts_);
  // generic_write_sync: the written data made durable.
  if (r > 0 && sync) {
    before_fsync(counts_);
    if (const int e = fsync()) r = e;
  }
  return r;
}

void MappedFile::refresh(const struct iovec* iov, int iovcnt, std::uint64_t offset,
                         std::uint64_t n) {
  const std::uint64_t end = offset + n;
  for (std::uint64_t index = offset / kPageSize; index * kPageSize < end; ++index) {
    const std::uint64_t from = std::max(offset, index * kPageSize);
    const std::uint64_t to = std::min(end, (index + 1) * kPageSize);
    Page* page = nullptr;
    if (shm_) {
      // Mappings show every page written, as the kernel's fault would read
      // it in again (else a slot they read before would pass for stores).
      int err = 0;
      page = get_page(index, to - from != kPageSize, &err);
    } else {
      // Unshared: only the pages cached already.
      auto it = pages_.lower_bound(index);
      if (it == pages_.end() || it->first * kPageSize >= end) return;
      if (it->first != index) {
        index = it->first - 1;
        continue;
      }
      page = &it->second;
    }
    if (!page) continue;
    const std::uint64_t in = from - index * kPageSize;
    iov_copy(iov, iovcnt, from - offset, page->data + in, to - from, false);
    if (page->clean) std::memcpy(page->clean + in, page->data + in, to - from);
  }
}

void MappedFile::clear() {
  if (shm_)
    orphan_shm();
  else
    drop_pages(0, UINT64_MAX);
  size_ = 0;
  durable_size_ = 0;
}

void MappedFile::orphan_shm() {
  // The pages' data is the memory file's: only their clean copies are ours.
  for (auto& [i, p] : pages_) std::free(p.clean);
  pages_.clear();
  dirty_pages_ = 0;
  shared_.store(false, std::memory_order_release);
  ::munmap(shm_, shm_size_);
  shm_ = nullptr;
  shm_size_ = 0;
  core::LockGuard g(shm_mu_);
  // Under the lock an engine's completion takes to grow it (extend).
  ::syscall(SYS_close, shm_fd_);
  shm_fd_ = -1;
  shm_len_ = 0;
}

}  // namespace iostack::map
