// ioengine=bio: bios submitted straight to the block layer.
#include "job/engine_bio.hpp"

#include <thread>

#include "block/blk_mq.hpp"
#include "block/plug.hpp"
#include "core/slist.hpp"
#include "job/types.hpp"
#include "job/virtual_time.hpp"

namespace iostack::job {

namespace {
// AIO_PLUG_THRESHOLD (fs/aio.c): io_submit plugs only batches larger than 2.
constexpr std::size_t kPlugThreshold = 2;

// The engine whose commit() the calling thread is inside: a bio that ends
// inline (a driver completing in queue_rq) ends on the reaper's own thread.
thread_local const BioEngine* t_committing = nullptr;
}  // namespace

int BioEngine::init(const EngineSetup& s, std::string*) {
  disk_ = s.disk;
  bios_ = std::make_unique<block::Bio[]>(s.nr_units);
  units_.assign(s.nr_units, nullptr);
  pending_.reserve(s.nr_units);
  vt_ = s.vt;
  vt_id_ = s.vt_id;
  return 0;
}

void BioEngine::end_io(block::Bio* bio) {
  auto* self = static_cast<BioEngine*>(bio->bi_private);
  IoUnit* u = self->units_[static_cast<std::size_t>(bio - self->bios_.get())];
  u->error = -block::blk_status_to_errno(bio->bi_status);
  self->complete(u);
}

BioEngine::~BioEngine() {
  // A completer may still be between publishing its unit and its last look
  // at waiting_: the job thread can have reaped the unit and finished.
  while (completing_.load(std::memory_order_acquire)) std::this_thread::yield();
}

void BioEngine::complete(IoUnit* u) {
  if (t_committing == this && !vt_) {
    // The reaper's own thread: straight onto its FIFO, after whatever other
    // threads completed before, without the completers' atomics.
    if (done_.load(std::memory_order_acquire)) collect();
    append_ready(u);
    return;
  }
  if (vt_) {  // on the thread holding virtual time's baton: no other thread runs
    u->next = done_.load(std::memory_order_relaxed);
    done_.store(u, std::memory_order_relaxed);
    vt_->wake(vt_id_);
    return;
  }
  completing_.fetch_add(1, std::memory_order_acq_rel);
  IoUnit* head = done_.load(std::memory_order_relaxed);
  do {
    u->next = head;
  } while (
      !done_.compare_exchange_weak(head, u, std::memory_order_seq_cst, std::memory_order_relaxed));
  if (waiting_.load(std::memory_order_seq_cst)) {
    gen_.fetch_add(1, std::memory_order_seq_cst);
    gen_.notify_one();
  }
  completing_.fetch_sub(1, std::memory_order_release);
}

QueueResult BioEngine::queue(IoUnit* u) {
  block::Bio* bio = &bios_[u->index];
  std::uint32_t opf;
  if (u->ddir == kSync)
    opf = block::REQ_OP_WRITE | block::REQ_PREFLUSH | block::REQ_SYNC;
  else if (u->ddir == kWrite)
    opf = block::REQ_OP_WRITE | block::REQ_SYNC | block::REQ_IDLE;
  else
    opf = block::REQ_OP_READ;
  block::bio_init(bio, disk_, bio->bi_inline_vecs, block::kBioInlineVecs, opf);
  if (u->ddir != kSync) {
    bio->bi_iter.bi_sector = u->offset >> block::kSectorShift;
    block::bio_add_vec(bio, u->buf, u->len);
  }
  bio->bi_end_io = end_io;
  bio->bi_private = this;
  units_[u->index] = u;
  pending_.push_back(u);
  return QueueResult::kQueued;
}

void BioEngine::commit() {
  if (pending_.empty()) return;
  block::BlkPlug plug;
  const bool plugged = pending_.size() > kPlugThreshold;
  // As io_uring's plug: the requests of the whole batch are allocated at once.
  if (plugged) block::blk_start_plug_nr_ios(&plug, static_cast<unsigned>(pending_.size()));
  const BioEngine* outer = t_committing;
  t_committing = this;
  for (IoUnit* u : pending_) {
    block::submit_bio(&bios_[u->index]);
  }
  if (plugged) block::blk_finish_plug(&plug);
  t_committing = outer;
  pending_.clear();
}

unsigned BioEngine::collect() {
  // The stack is newest first: reverse it onto the FIFO in completion order.
  IoUnit* rev = core::slist_reverse<IoUnit, &IoUnit::next>(
      done_.exchange(nullptr, std::memory_order_acquire));
  while (rev) {
    IoUnit* n = rev->next;
    append_ready(rev);
    rev = n;
  }
  return ready_n_;
}

void BioEngine::append_ready(IoUnit* u) {
  u->next = nullptr;
  if (ready_tail_)
    ready_tail_->next = u;
  else
    ready_head_ = u;
  ready_tail_ = u;
  ++ready_n_;
}

unsigned BioEngine::getevents(unsigned min, unsigned max, IoUnit** out) {
  while (collect() < min) {
    if (vt_) {
      if (!vt_->block(vt_id_)) break;  // nothing left that could complete them
      continue;
    }
    const std::uint32_t g = gen_.load(std::memory_order_seq_cst);
    waiting_.store(true, std::memory_order_seq_cst);
    if (done_.load(std::memory_order_seq_cst) == nullptr) gen_.wait(g, std::memory_order_seq_cst);
    waiting_.store(false, std::memory_order_relaxed);
  }
  unsigned n = 0;
  while (n < max && ready_head_) {
    IoUnit* u = ready_head_;
    ready_head_ = u->next;
    if (!ready_head_) ready_tail_ = nullptr;
    u->next = nullptr;
    out[n++] = u;
    --ready_n_;
  }
  return n;
}

}  // namespace iostack::job
