// The loop driver: requests served by worker threads on a backing file.
#include "dev/loop.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "block/blk_mq.hpp"
#include "block/request.hpp"
#include "core/internal_thread.hpp"
#include "core/slist.hpp"

namespace iostack::dev {

constexpr unsigned kDioWorkers = 16;  // default I/O threads with dio=1

namespace {

// Segments per preadv/pwritev (IOV_MAX); longer requests take several calls.
constexpr std::size_t kIovMax = 1024;

// errno_to_blk_status (block/blk-core.c): how lo_complete_rq reports a
// failed read or write.
block::BlkStatus errno_to_blk_status(int err) {
  switch (err) {
    case 0:
      return block::BlkStatus::OK;
    case -EOPNOTSUPP:
      return block::BlkStatus::NOTSUPP;
    case -ETIMEDOUT:
      return block::BlkStatus::TIMEOUT;
    case -ENOSPC:
      return block::BlkStatus::NOSPC;
    case -ENOLINK:
      return block::BlkStatus::TRANSPORT;
    case -EREMOTEIO:
      return block::BlkStatus::TARGET;
    case -EBADE:
      return block::BlkStatus::RESV_CONFLICT;
    case -ENODATA:
      return block::BlkStatus::MEDIUM;
    case -EILSEQ:
      return block::BlkStatus::PROTECTION;
    case -ENOMEM:
      return block::BlkStatus::RESOURCE;
    case -EAGAIN:
      return block::BlkStatus::AGAIN;
    case -EBUSY:
      return block::BlkStatus::DEV_RESOURCE;
    case -ENODEV:
      return block::BlkStatus::OFFLINE;
    case -EINVAL:
      return block::BlkStatus::INVAL;
    default:
      return block::BlkStatus::IOERR;
  }
}

// Transfers all of `v[0..n)` at `pos`, continuing after short writes; a
// short read is the end of the file. Advances `v` as it goes. Bytes moved,
// or -errno when nothing more could be moved.
std::int64_t rw_full(int fd, bool write, iovec* v, int n, std::uint64_t pos) {
  std::int64_t total = 0;
  while (n > 0) {
    std::size_t want = 0;
    for (int i = 0; i < n; ++i) want += v[i].iov_len;
    const ssize_t r = write ? ::pwritev(fd, v, n, static_cast<off_t>(pos))
                            : ::preadv(fd, v, n, static_cast<off_t>(pos));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    total += r;
    if (r == 0 || (!write && static_cast<std::size_t>(r) < want)) break;
    pos += static_cast<std::uint64_t>(r);
    auto left = static_cast<std::size_t>(r);
    while (n > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --n;
    }
    if (n > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
  return total;
}

// loop_update_limits looks at the backing device: the block device itself,
// or the one under the file's file system. Here that is sysfs; a file system
// without a device (tmpfs, overlay) counts as non-rotational, as in loop.
bool backing_is_rotational(const struct stat& st) {
  const dev_t dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
  char path[96];
  for (const char* fmt :
       {"/sys/dev/block/%u:%u/queue/rotational", "/sys/dev/block/%u:%u/../queue/rotational"}) {
    std::snprintf(path, sizeof(path), fmt, major(dev), minor(dev));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char c = '0';
    const ssize_t r = ::read(fd, &c, 1);
    ::close(fd);
    if (r == 1) return c == '1';
  }
  return false;
}

std::uint64_t round_up(std::uint64_t v, std::uint64_t m) { return (v + m - 1) / m * m; }

}  // namespace

// struct loop_cmd: the driver data in rq->pdu, linked on the work list.
struct LoopDriver::Cmd {
  Cmd* next = nullptr;
  block::Request* rq = nullptr;
};

// One I/O thread with its buffers (loop's workqueue worker).
struct LoopDriver::Worker {
  std::vector<iovec> iov;  // the segments of the request at hand
  void* bounce = nullptr;  // direct I/O only: aligned copy buffer
  std::thread thread;

  ~Worker() { std::free(bounce); }
};

LoopDriver::LoopDriver(const LoopConfig& cfg) : cfg_(cfg), read_only_(cfg.read_only) {}

LoopDriver::~LoopDriver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();  // each empties the work list first
  }
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<LoopDriver> LoopDriver::create(const LoopConfig& cfg, bool inline_io,
                                               std::string* err) {
  std::unique_ptr<LoopDriver> lo(new LoopDriver(cfg));
  if (!lo->configure(inline_io, err)) return nullptr;
  return lo;
}

bool LoopDriver::configure(bool inline_io, std::string* err) {
  const std::string& path = cfg_.path;
  auto fail = [&](const std::string& why) {
    if (err) *err = "loop: " + why;
    return false;
  };
  // "<what> PATH[ to N bytes]: <errno>", errno read before anything can change it.
  auto sys_fail = [&](const char* what, std::uint64_t to_bytes = 0) {
    const int e = errno;
    std::string msg = what + path;
    if (to_bytes) msg += " to " + std::to_string(to_bytes) + " bytes";
    return fail(msg + ": " + std::strerror(e));
  };

  fd_ = ::open(path.c_str(), (read_only_ ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd_ < 0) {
    const int e = errno;
    if (!read_only_ && (e == EACCES || e == EROFS || e == EPERM)) {
      return fail("cannot open " + path + " read-write: " + std::strerror(e) +
                  " (read_only=1 opens it read-only)");
    }
    return fail("cannot open " + path + ": " + std::strerror(e));
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0) return sys_fail("cannot stat ");
  // loop_validate_file: a regular file or a block device.
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return fail(path + ": not a regular file or block device");
  }
  std::uint64_t file_size = static_cast<std::uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode) && ::ioctl(fd_, BLKGETSIZE64, &file_size) != 0) {
    return sys_fail("cannot get the size of ");
  }

  // loop_query_min_dio_size: the file system's direct I/O alignment when
  // statx knows it, else 512.
  struct statx sx;
  std::memset(&sx, 0, sizeof(sx));
  bool dio_possible = true;
  if (::statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
    dio_possible = sx.stx_dio_offset_align != 0;  // 0: no direct I/O on this file
    if (dio_possible) {
      dio_offset_align_ = sx.stx_dio_offset_align;
      dio_mem_align_ = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
    }
  }
  // loop_default_blocksize: with direct I/O, the minimum direct I/O size.
  block_size_ = cfg_.block_size;
  if (!block_size_) {
    block_size_ = cfg_.dio && dio_possible ? std::max<std::uint32_t>(512, dio_offset_align_) : 512;
    if (block_size_ > 65536) block_size_ = 512;  // beyond any block size: no direct I/O then
  }

  // The size: lo_sizelimit when smaller than the file, else the file grows.
  std::uint64_t lo_size;
  bool grow = false;
  if (cfg_.size_bytes) {
    lo_size = cfg_.size_bytes;
    const std::uint64_t end = cfg_.offset + cfg_.size_bytes;
    if (end > file_size) {
      if (!S_ISREG(st.st_mode) || read_only_) {
        return fail(path + ": size " + std::to_string(cfg_.size_bytes) + " at offset " +
                    std::to_string(cfg_.offset) + " ends beyond its " + std::to_string(file_size) +
                    " bytes" + (read_only_ ? " and it is read-only" : ""));
      }
      grow = true;
    }
  } else {
    lo_size = file_size > cfg_.offset ? file_size - cfg_.offset : 0;  // get_size
  }
  const std::uint64_t usable = lo_size / block_size_ * block_size_;
  if (usable == 0) {
    return fail(path + ": " + std::to_string(lo_size) + " bytes after offset " +
                std::to_string(cfg_.offset) + ", less than one " + std::to_string(block_size_) +
                "-byte block" +
                (S_ISREG(st.st_mode) && !read_only_ ? " (size= grows the file)" : ""));
  }

  // lo_can_use_dio / __loop_update_dio: direct I/O only when the block size
  // and offset are aligned for it and the file system takes O_DIRECT.
  if (cfg_.dio) {
    const std::string a = std::to_string(dio_offset_align_);
    if (!dio_possible) {
      dio_note_ = "the file system does not support direct I/O on " + path;
    } else if (block_size_ < dio_offset_align_) {
      dio_note_ = "bs=" + std::to_string(block_size_) +
                  " is smaller than the file's direct I/O alignment " + a;
    } else if (cfg_.offset % dio_offset_align_) {
      dio_note_ = "offset " + std::to_string(cfg_.offset) +
                  " is not a multiple of the direct I/O alignment " + a;
    } else {
      const int fl = ::fcntl(fd_, F_GETFL);
      if (fl < 0 || ::fcntl(fd_, F_SETFL, fl | O_DIRECT) != 0) {
        const int e = errno;
        dio_note_ = std::string("the file system refuses O_DIRECT: ") + std::strerror(e);
      } else {
        use_dio_ = true;
      }
    }
  }

  if (grow && ::ftruncate(fd_, static_cast<off_t>(cfg_.offset + cfg_.size_bytes)) != 0) {
    return sys_fail("cannot grow ", cfg_.offset + cfg_.size_bytes);
  }
  capacity_ = usable >> block::kSectorShift;

  // loop_get_discard_config: punch hole reclaims the image's space, with the
  // file system's block as granularity. Whether the file system can punch
  // holes is tried past the end of the file, where nothing can be lost.
  if (S_ISREG(st.st_mode)) {
    struct statfs sfs;
    if (::fstatfs(fd_, &sfs) == 0) {
      discard_ = true;
      discard_granularity_ = static_cast<std::uint32_t>(sfs.f_bsize);
      if (!read_only_) {
        const std::uint64_t end = std::max(file_size, cfg_.offset + cfg_.size_bytes);
        const std::uint64_t at = round_up(end, 65536);
        if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(at),
                        65536) != 0 &&
            (errno == EOPNOTSUPP || errno == ENOSYS)) {
          discard_ = false;
        }
      }
    }
  }
  rotational_ = backing_is_rotational(st);

  if (use_dio_) {
    const std::uint32_t max_hw = cfg_.max_sectors ? cfg_.max_sectors : kLoopMaxHwSectors;
    const std::size_t align = std::max<std::size_t>({4096, dio_mem_align_, dio_offset_align_});
    bounce_bytes_ = round_up(
        std::max<std::uint64_t>(std::uint64_t{max_hw} << block::kSectorShift, block_size_), align);
  }
  auto make_worker = [&]() {
    auto w = std::make_unique<Worker>();
    w->iov.reserve(kIovMax);
    if (bounce_bytes_) {
      const std::size_t align = std::max<std::size_t>({4096, dio_mem_align_});
      w->bounce = std::aligned_alloc(align, bounce_bytes_);
      if (!w->bounce) throw std::bad_alloc();
    }
    return w;
  };
  if (inline_io) {
    inline_worker_ = make_worker();
    return true;
  }
  // With direct I/O the kernel's loop keeps many requests in flight on the
  // file (lo_rw_aio); buffered I/O runs one at a time on its worker.
  const unsigned n = cfg_.workers ? cfg_.workers : (use_dio_ ? kDioWorkers : cfg_.hw_queues);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(make_worker());
    Worker* w = workers_.back().get();
    w->thread =
        core::start_internal_thread(core::ThreadKind::kDevice, [this, w] { worker_main(w); });
  }
  return true;
}

std::size_t LoopDriver::cmd_size() const {
  constexpr std::size_t a = alignof(std::max_align_t);
  return (sizeof(Cmd) + a - 1) / a * a;
}

block::QueueLimits LoopDriver::limits() const {
  block::QueueLimits lim;
  lim.logical_block_size = block_size_;
  lim.physical_block_size = block_size_;
  lim.io_min = block_size_;
  lim.max_hw_sectors = cfg_.max_sectors ? cfg_.max_sectors : kLoopMaxHwSectors;
  // Write zeroes rides on the same fallocate support as discard.
  if (discard_) {
    lim.max_discard_sectors = UINT_MAX >> block::kSectorShift;
    lim.max_write_zeroes_sectors = UINT_MAX >> block::kSectorShift;
    lim.max_discard_segments = 1;
    lim.discard_granularity = discard_granularity_;
  }
  lim.rotational = rotational_;
  // A volatile cache so that flushes reach the file (its page cache, or the
  // device's cache under O_DIRECT); no FUA, so FUA writes get a post-flush.
  lim.wc_feature = !read_only_;
  lim.fua_feature = false;
  return lim;
}

block::TagSetConfig LoopDriver::tag_set() const {
  block::TagSetConfig set;
  set.nr_hw_queues = cfg_.hw_queues;
  set.queue_depth = cfg_.queue_depth;
  return set;
}

// loop_queue_rq -> loop_queue_work: hand the request to a worker.
block::BlkStatus LoopDriver::queue_rq(block::HwCtx* /*hctx*/, block::Request* rq, bool /*last*/) {
  auto* cmd = static_cast<Cmd*>(rq->pdu);
  if (!cmd) [[unlikely]]
    return block::BlkStatus::IOERR;  // every request of the tag set has driver data
  cmd->next = nullptr;
  cmd->rq = rq;
  inflight_.fetch_add(1, std::memory_order_acq_rel);
  if (inline_worker_) {
    // One worker runs one command at a time, as the kernel's loop worker
    // does; queue_rq may be called from several threads at once. The
    // request ends after the lock is dropped (its end_io may submit again).
    block::BlkStatus st;
    {
      std::lock_guard lock(inline_mu_);
      st = do_req(inline_worker_.get(), rq);
    }
    block::blk_mq_end_request(rq, st);
    inflight_.fetch_sub(1, std::memory_order_acq_rel);
    return block::BlkStatus::OK;
  }
  bool wake;
  {
    std::lock_guard lock(mu_);
    core::slist_add_tail<Cmd, &Cmd::next>(head_, tail_, cmd);
    wake = idle_ > 0;
  }
  if (wake) cv_.notify_one();
  return block::BlkStatus::OK;
}

// loop_process_work: take commands off the list until it is empty.
void LoopDriver::worker_main(Worker* w) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!head_) {
      if (stop_) return;
      ++idle_;
      cv_.wait(lock);
      --idle_;
      continue;
    }
    Cmd* cmd = head_;
    head_ = cmd->next;
    if (!head_) tail_ = nullptr;
    lock.unlock();
    handle(w, cmd);
    lock.lock();
  }
}

// loop_handle_cmd + lo_complete_rq. No lock is held here.
void LoopDriver::handle(Worker* w, Cmd* cmd) {
  block::Request* rq = cmd->rq;
  const block::BlkStatus st = do_req(w, rq);
  block::blk_mq_end_request(rq, st);  // `cmd` may be reused from here on
  inflight_.fetch_sub(1, std::memory_order_acq_rel);
}

void LoopDriver::drain() {
  while (inflight() > 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

// do_req_filebacked.
block::BlkStatus LoopDriver::do_req(Worker* w, block::Request* rq) {
  // loop_handle_cmd: writes to a read-only loop device fail here; the block
  // layer above only warns about them.
  if (block::op_is_write(rq->cmd_flags) && read_only_) return block::BlkStatus::IOERR;
  const std::uint64_t pos =
      (std::uint64_t{block::blk_rq_pos(rq)} << block::kSectorShift) + cfg_.offset;
  switch (block::req_op(rq)) {
    case block::REQ_OP_FLUSH:
      return flush();
    case block::REQ_OP_WRITE_ZEROES:
      // Zero the range when the caller wants the space kept, else punch it.
      return fallocate_rq(
          rq, pos,
          (rq->cmd_flags & block::REQ_NOUNMAP) ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE);
    case block::REQ_OP_DISCARD:
      return fallocate_rq(rq, pos, FALLOC_FL_PUNCH_HOLE);
    case block::REQ_OP_WRITE:
      return rw(w, rq, pos, true);
    case block::REQ_OP_READ:
      return rw(w, rq, pos, false);
    default:
      return block::BlkStatus::IOERR;
  }
}

// lo_req_flush: vfs_fsync(file, 0), a full fsync; any failure is an I/O error.
block::BlkStatus LoopDriver::flush() {
  flushes_.fetch_add(1, std::memory_order_relaxed);
  return ::fsync(fd_) == 0 ? block::BlkStatus::OK : block::BlkStatus::IOERR;
}

// lo_fallocate: the space of the range, always keeping the file's size.
block::BlkStatus LoopDriver::fallocate_rq(block::Request* rq, std::uint64_t pos, int mode) {
  if (!discard_) return block::BlkStatus::NOTSUPP;
  if (::fallocate(fd_, mode | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(pos),
                  static_cast<off_t>(block::blk_rq_bytes(rq))) == 0) {
    return block::BlkStatus::OK;
  }
  return errno == EOPNOTSUPP || errno == ENOSYS ? block::BlkStatus::NOTSUPP
                                                : block::BlkStatus::IOERR;
}

// lo_rw_aio (direct) and lo_read_simple / lo_write_simple (buffered).
block::BlkStatus LoopDriver::rw(Worker* w, block::Request* rq, std::uint64_t pos, bool write) {
  auto& iov = w->iov;
  iov.clear();
  bool aligned = true;
  const std::uintptr_t mem_mask = dio_mem_align_ - 1;
  const std::uint32_t len_mask = dio_offset_align_ - 1;
  block::rq_for_each_segment(rq, [&](void* p, std::uint32_t len) {
    iov.push_back(iovec{p, len});
    if ((reinterpret_cast<std::uintptr_t>(p) & mem_mask) || (len & len_mask)) aligned = false;
  });
  const std::uint64_t total = block::blk_rq_bytes(rq);
  std::uint64_t done = 0;
  block::BlkStatus st;
  if (use_dio_ && !aligned) {
    bounced_.fetch_add(1, std::memory_order_relaxed);
    st = rw_bounce(w, total, pos, write, &done);
  } else {
    st = rw_iov(w, pos, write, &done);
  }
  if (st != block::BlkStatus::OK || done == total) return st;
  if (write) return block::BlkStatus::IOERR;  // lo_write_bvec: a short write is -EIO

  // A short read: the file ends before the device does (it shrank under us).
  auto zero = [](void* p, std::uint32_t len) { std::memset(p, 0, len); };
  if (!use_dio_) {
    // lo_read_simple zero-fills every bio of the request and succeeds.
    block::rq_for_each_segment(rq, zero);
    return block::BlkStatus::OK;
  }
  // lo_complete_rq: what was read completes; the rest is zero-filled and fails.
  const auto good = static_cast<unsigned>(done & ~std::uint64_t{block::kSectorSize - 1});
  if (good) block::blk_update_request(rq, block::BlkStatus::OK, good);
  block::rq_for_each_segment(rq, zero);
  return block::BlkStatus::IOERR;
}

// The request's own memory, straight to or from the file.
block::BlkStatus LoopDriver::rw_iov(Worker* w, std::uint64_t pos, bool write, std::uint64_t* done) {
  auto& iov = w->iov;
  for (std::size_t i = 0; i < iov.size();) {
    const std::size_t n = std::min(iov.size() - i, kIovMax);
    std::uint64_t want = 0;
    for (std::size_t j = i; j < i + n; ++j) want += iov[j].iov_len;
    const std::int64_t got = rw_full(fd_, write, &iov[i], static_cast<int>(n), pos + *done);
    if (got < 0) return errno_to_blk_status(static_cast<int>(got));
    *done += static_cast<std::uint64_t>(got);
    if (static_cast<std::uint64_t>(got) < want) break;
    i += n;
  }
  return block::BlkStatus::OK;
}

// Direct I/O for memory that is not aligned for it: through the worker's
// bounce buffer, one buffer-full at a time.
block::BlkStatus LoopDriver::rw_bounce(Worker* w, std::uint64_t total, std::uint64_t pos,
                                       bool write, std::uint64_t* done) {
  auto* buf = static_cast<char*>(w->bounce);
  std::size_t seg = 0, seg_off = 0;
  // Copies `len` bytes between the bounce buffer and the segments, in order.
  auto copy = [&](char* b, std::size_t len, bool to_segments) {
    while (len) {
      iovec& v = w->iov[seg];
      const std::size_t n = std::min(len, v.iov_len - seg_off);
      char* p = static_cast<char*>(v.iov_base) + seg_off;
      if (to_segments) {
        std::memcpy(p, b, n);
      } else {
        std::memcpy(b, p, n);
      }
      b += n;
      len -= n;
      seg_off += n;
      if (seg_off == v.iov_len) {
        ++seg;
        seg_off = 0;
      }
    }
  };
  while (*done < total) {
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(total - *done, bounce_bytes_));
    if (write) copy(buf, chunk, false);
    iovec v{buf, chunk};
    const std::int64_t got = rw_full(fd_, write, &v, 1, pos + *done);
    if (got < 0) return errno_to_blk_status(static_cast<int>(got));
    if (!write) copy(buf, static_cast<std::size_t>(got), true);
    *done += static_cast<std::uint64_t>(got);
    if (static_cast<std::size_t>(got) < chunk) break;
  }
  return block::BlkStatus::OK;
}

}  // namespace iostack::dev
