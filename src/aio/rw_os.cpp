// Reads and writes of OS files, with the kernel's AIO semantics: buffered
// I/O, and the direct I/O the kernel finishes or fails inside io_submit,
// run inline; direct I/O for which the kernel queues bios goes to the
// kernel's io_uring where this process may use it, else to a worker, which
// waits for it on a descriptor of its own and at the request's I/O priority.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "aio/complete.hpp"
#include "aio/dio_align.hpp"
#include "aio/file_ref.hpp"
#include "aio/rw_target.hpp"
#include "aio/worker_ioprio.hpp"
#include "core/eventfd_info.hpp"
#include "core/held_file.hpp"
#include "task/current.hpp"

namespace iostack::aio {
namespace {

// One preadv2/pwritev2: bytes moved or -errno (-EINTR included, which the
// kernel also reports in the event when a signal cuts an AIO short).
long os_rw(AioKiocb* req) {
  const int flags = static_cast<int>(req->rw_flags);
  for (;;) {
    const off_t off = req->stream ? -1 : static_cast<off_t>(req->pos);
    const ssize_t r = req->write ? ::pwritev2(req->fd, req->iov, req->nr_segs, off, flags)
                                 : ::preadv2(req->fd, req->iov, req->nr_segs, off, flags);
    if (r >= 0) return r;
    if (errno == ESPIPE && !req->stream) {
      // A pipe or socket: the kernel ignores the offset of stream files.
      req->stream = true;
      continue;
    }
    return -errno;
  }
}

void rw_work(AioWork* w) {
  auto* req = static_cast<AioKiocb*>(w->owner);
  // On the submitting thread the I/O carries that thread's own priority,
  // as the kernel's would.
  if (!aio_wq_on_submitter(w)) worker_set_ioprio(req->ioprio);
  const long res = os_rw(req);
  aio_finishing(req);
  aio_wq_completing();
  // Let go before the event is posted: once the program sees it, only
  // what iostack keeps for the program's own descriptor names the file.
  req->held_file.reset();
  req->fd = -1;
  // The kernel refused the alignment after all: the descriptor may name
  // another file than the remembered answer was about.
  if (res == -EINVAL) dio_info_stale();
  aio_complete_rw(req, res);
}

// generic_write_checks() against RLIMIT_FSIZE runs inside io_submit and
// signals the submitter (SIGXFSZ): a write that may reach the limit runs
// there too.
bool may_pass_fsize_limit(const AioKiocb* req, int file_flags, std::size_t count) {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return false;
  const bool append =
      (req->rw_flags & kRwfAppend) || ((file_flags & O_APPEND) && !(req->rw_flags & kRwfNoappend));
  return append || static_cast<std::uint64_t>(req->pos) + count > rl.rlim_cur;
}

// Whether the kernel would queue bios for this O_DIRECT request and return
// from io_submit before it ends. Everything else -- an empty transfer, a
// misaligned one (-EINVAL), a file whose O_DIRECT is served from the page
// cache (tmpfs), a pipe -- finishes inside io_submit, its event already in
// the ring when io_submit returns.
bool direct_is_async(const AioKiocb* req, int file_flags) {
  const std::size_t count = iov_total(req);
  if (count == 0) return false;
  const DioInfo* cached = dio_info_cached(req->fd, file_flags);
  if (cached == nullptr || !cached->async || !dio_aligned(*cached, req)) {
    DioInfo fresh;
    if (dio_info_query(req->fd, file_flags, &fresh) != 0) return false;
    if (!fresh.async || !dio_aligned(fresh, req)) return false;
  }
  return !(req->write && may_pass_fsize_limit(req, file_flags, count));
}

void host_end_io(void* owner, long res) {
  auto* req = static_cast<AioKiocb*>(owner);
  if (res == -EINVAL) dio_info_stale();
  aio_complete_rw(req, res);
}

// Direct I/O the kernel would queue: where this process may use the
// kernel's io_uring, it queues it there, holding the file from submission
// on as AIO does (no private descriptor needed), the whole io_submit batch
// in one enter. An iocb without IOCB_FLAG_IOPRIO leaves the priority to the
// submitting thread, as here.
bool rw_issue_host_uring(AioKiocb* req, AioWorkBatch* batch) {
  if (!core::host_uring_usable()) return false;
  core::HostUringReq& h = req->host;
  h.opcode = req->write ? IORING_OP_WRITEV : IORING_OP_READV;
  h.fd = req->fd;
  h.addr = reinterpret_cast<std::uintptr_t>(req->iov);
  h.len = static_cast<std::uint32_t>(req->nr_segs);
  h.off = static_cast<std::uint64_t>(req->pos);
  h.rw_flags = req->rw_flags;
  h.ioprio = req->ioprio;
  h.done = host_end_io;
  req->host.owner = req;
  if (batch->host_nr == core::kHostUringBatchMax) aio_host_flush(batch);
  batch->host[batch->host_nr++] = &req->host;
  return true;
}

// Direct I/O the kernel would queue, without the kernel's io_uring: a
// worker waits for it on a descriptor of its own.
void rw_issue_worker(AioKiocb* req, AioWorkBatch* batch) {
  // io_submit's lookup may have found the file held already.
  if (!req->held_file && core::file_hold(req->fd, &req->held_file) < 0) {
    // No descriptor to spare: the same I/O here, blocking the submitter.
    aio_complete_rw(req, os_rw(req));
    return;
  }
  req->fd = core::held_fd(req->held_file);
  // aio_prep_rw(): without IOCB_FLAG_IOPRIO the I/O carries the
  // submitter's priority, which the worker must take on. Such a read may
  // also be run by the submitting thread itself (io_getevents, rather than
  // sleeping): the same thread is the same credentials too. Not a write: a
  // limit lowered since io_submit would signal SIGXFSZ to the program's
  // thread, where the kernel checked it at submission only.
  const bool own_prio = req->ioprio == 0;
  if (own_prio) req->ioprio = task::current_ioprio();
  req->work.fn = rw_work;
  req->work.owner = req;
  req->work.quick = true;
  req->work.submitter = own_prio && !req->write ? aio_wq_thread_token() : 0;
  req->work.group = req->ctx;
  batch->add(&req->work);
}

// What the kernel's read_iter/write_iter answer for an empty transfer,
// which preadv2/pwritev2 never call: an eventfd reads 8 bytes or fails,
// and a buffered write asked not to wait fails where the file system cannot
// do one (ext4 says so first, generic_write_checks says -EINVAL).
long empty_rw(const AioKiocb* req, int file_flags) {
  if (!req->write) return core::is_eventfd(req->fd) ? -EINVAL : 0;
  if (!(req->rw_flags & kRwfNowait) || (file_flags & O_DIRECT)) return 0;
  struct stat st;
  struct statfs sf;
  if (::fstat(req->fd, &st) != 0 || !S_ISREG(st.st_mode) || ::fstatfs(req->fd, &sf) != 0) return 0;
  if (sf.f_type == XFS_SUPER_MAGIC || sf.f_type == BTRFS_SUPER_MAGIC) return 0;
  return sf.f_type == EXT4_SUPER_MAGIC ? -EOPNOTSUPP : -EINVAL;
}

}  // namespace

int rw_issue_os(AioKiocb* req, int file_flags, AioWorkBatch* batch) {
  if ((file_flags & O_DIRECT) && direct_is_async(req, file_flags)) {
    if (!rw_issue_host_uring(req, batch)) rw_issue_worker(req, batch);
    return 0;
  }
  // Buffered I/O runs inside the kernel's io_submit, in submission order,
  // blocking the caller when it has to: later iocbs of a batch see the
  // effects of earlier ones. Same here. What earlier iocbs handed over
  // is under way first, as the kernel queued it when it took them: a
  // read of an eventfd may wait for an FSYNC's signal (fuzz seed 365329).
  if (batch->host_nr) aio_host_flush(batch);
  aio_wq_queue(batch);
  const long res = iov_total(req) == 0 ? empty_rw(req, file_flags) : os_rw(req);
  // A directory has no read_iter: io_submit refuses before reading.
  if (res == -EISDIR && !req->write) return -EINVAL;
  aio_complete_rw(req, res);
  return 0;
}

void aio_host_flush(AioWorkBatch* batch) {
  const unsigned taken = core::host_uring_submit_batch(batch->host, batch->host_nr);
  for (unsigned i = taken; i < batch->host_nr; ++i)
    rw_issue_worker(static_cast<AioKiocb*>(batch->host[i]->owner), batch);
  batch->host_nr = 0;
}

}  // namespace iostack::aio
