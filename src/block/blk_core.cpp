// submit_bio and its generic checks (block/blk-core.c).
#include <sys/syscall.h>
#include <unistd.h>

#include "block/blk_mq.hpp"
#include "block/blk_mq_internal.hpp"
#include "block/blk_trace.hpp"
#include "block/disk.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/slist.hpp"
#include "task/blkcg.hpp"
#include "task/current.hpp"
#include "task/ioprio.hpp"

namespace iostack::block {
namespace {

// current->bio_list: bios submitted while this thread is already inside
// submit_bio wait here, so submission never recurses.
struct BioList {
  bool active = false;
  Bio* head = nullptr;
  Bio* tail = nullptr;
};
thread_local BioList t_bio_list;

// bio_check_eod: no I/O past the end of the device.
bool bio_beyond_eod(const Bio* bio) {
  const sector_t max = bio->bi_bdev->capacity();
  const sector_t n = bio_sectors(bio);
  return n && (n > max || bio->bi_iter.bi_sector > max - n);
}

// The checks of submit_bio_noacct; false when the bio was completed here.
bool submit_bio_checks(Bio* bio) {
  Disk* disk = bio->bi_bdev;
  RequestQueue* q = disk->queue();
  const QueueLimits& lim = q->limits();
  // An empty flush is a write with PREFLUSH in the kernel; accept the op too.
  if (bio_op(bio) == REQ_OP_FLUSH)
    bio->bi_opf = (bio->bi_opf & ~REQ_OP_MASK) | REQ_OP_WRITE | REQ_PREFLUSH;
  // Like bio_check_ro: a write to a read-only disk is reported, not failed
  // (open() for writing is where the kernel refuses).
  if (op_is_write(bio->bi_opf) && disk->read_only() && bio_sectors(bio))
    disk->ro_write_warnings.fetch_add(1, std::memory_order_relaxed);
  if (bio_beyond_eod(bio)) {
    bio_io_error(bio, BlkStatus::IOERR);
    return false;
  }
  if (op_is_flush(bio->bi_opf)) {
    if (bio_op(bio) != REQ_OP_WRITE) {
      bio_io_error(bio, BlkStatus::IOERR);
      return false;
    }
    if (!lim.write_cache) {
      bio->bi_opf &= ~(REQ_PREFLUSH | REQ_FUA);
      if (!bio_sectors(bio)) {
        bio_endio(bio);
        return false;
      }
    }
  }
  BlkStatus status = BlkStatus::OK;
  switch (bio_op(bio)) {
    case REQ_OP_READ:
    case REQ_OP_WRITE:
      break;
    case REQ_OP_DISCARD:
      if (!lim.max_discard_sectors) status = BlkStatus::NOTSUPP;
      break;
    case REQ_OP_WRITE_ZEROES:
      if (!lim.max_write_zeroes_sectors) status = BlkStatus::NOTSUPP;
      break;
    default:
      status = BlkStatus::NOTSUPP;
  }
  if (status != BlkStatus::OK) {
    bio_io_error(bio, status);
    return false;
  }
  if (!bio_flagged(bio, BIO_TRACE_COMPLETION)) {
    trace_bio(q, bio, kTraceQueue);
    bio_set_flag(bio, BIO_TRACE_COMPLETION);
  }
  return true;
}

// __submit_bio: each bio under a plug (nested in the caller's if it has
// one), so that the request's times cost one clock reading.
void submit_one(Bio* bio) {
  if (!submit_bio_checks(bio)) return;
  BlkPlug plug;
  blk_start_call_plug(&plug);
  blk_mq_submit_bio(bio);
  blk_finish_plug(&plug);
}

}  // namespace

void submit_bio_noacct(Bio* bio) {
  if (bio->bi_pid < 0) bio->bi_pid = core::current_tid();
  BioList& list = t_bio_list;
  if (list.active) {
    core::slist_add_tail<Bio, &Bio::bi_next>(list.head, list.tail, bio);
    return;
  }
  list.active = true;
  for (;;) {
    submit_one(bio);
    bio = list.head;
    if (!bio) break;
    list.head = bio->bi_next;
    if (!list.head) list.tail = nullptr;
    bio->bi_next = nullptr;
  }
  list.active = false;
}

void submit_bio(Bio* bio) {
  // bio_set_ioprio: a bio without a class takes the submitter's priority.
  if (task::prio_class(bio->bi_ioprio) == task::kClassNone) bio->bi_ioprio = task::current_ioprio();
  // bio_associate_blkg: the submitter's cgroup, unless a clone carries one.
  if (!bio->bi_blkcg) bio->bi_blkcg = task::current_blkcg();
  submit_bio_noacct(bio);
}

namespace {
struct BioWait {
  core::Mutex mu;
  core::CondVar cv;
  bool done GUARDED_BY(mu) = false;
};
void bio_wait_end_io(Bio* bio) {
  auto* w = static_cast<BioWait*>(bio->bi_private);
  core::LockGuard lock(w->mu);
  w->done = true;
  w->cv.notify_all();
}
}  // namespace

int submit_bio_wait(Bio* bio) {
  BioWait w;
  bio->bi_private = &w;
  bio->bi_end_io = bio_wait_end_io;
  RequestQueue* q = bio->bi_bdev->queue();
  submit_bio(bio);
  blk_flush_current_plug_before_sleep();
  core::UniqueLock lock(w.mu);
  while (!w.done) {
    if (!q->clock()->wait(lock, w.cv)) return -EIO;  // nothing left that could complete it
  }
  return blk_status_to_errno(bio->bi_status);
}

}  // namespace iostack::block
