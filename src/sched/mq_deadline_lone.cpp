// mq-deadline's lone step: a request inserted into an empty scheduler and
// dispatched at once, without dd->lock, and its folding into the locked state.
#include <algorithm>
#include <thread>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "block/blk_mq.hpp"
#include "block/plug.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/membarrier.hpp"
#include "core/tsc.hpp"
#include "sched/mq_deadline.hpp"

namespace iostack::sched {

using block::Request;

namespace {

// The step's place in time. RDTSCP reads only once the instructions before
// it have executed (the gate check included), so a step that follows
// another's completion reads a later value; where the kernel does not keep
// the CPUs' counters in step, CLOCK_MONOTONIC (whose vDSO reads are
// ordered the same way).
std::uint64_t lone_stamp(bool tsc) {
#if defined(__x86_64__)
  if (tsc) {
    unsigned aux;
    return __rdtscp(&aux);
  }
#endif
  (void)tsc;
  return core::clock_ns(CLOCK_MONOTONIC);
}

// A lone step's place in time: the reading its plug took in order within
// the submitter's call where there is one (see block::blk_plug_stamp), else
// a reading of its own. Either lies inside the call that makes the step,
// after everything the caller saw of other threads' steps before making
// it; steps of calls that overlap may fold in either order, as the kernel's
// CPUs may take dd->lock in either order. A reading from before a fold
// that did not see the step is folded after that fold (as if taken just
// past it, still inside the call): the next fold merges it first.
std::uint64_t step_stamp(bool tsc) {
  if (tsc) {
    if (const std::uint64_t s = block::blk_plug_stamp()) return s;
  }
  return lone_stamp(tsc);
}

unsigned dir_of(const Request* rq) { return block::rq_data_dir_write(rq) ? DD_WRITE : DD_READ; }

// A gate open for fewer lone steps than this before other calls closed it
// was not worth its closing barrier.
constexpr std::uint32_t kLoneWorthIt = 1024;
constexpr unsigned kLoneMaxBackoff = 1u << 14;

// The fast side of the handshake with close_gate: `busy` set, then the gate read.
void lone_enter(std::atomic<std::uint32_t>& busy) {
  busy.store(1, std::memory_order_relaxed);
  core::light_barrier();
}

}  // namespace

MqDeadline::Hold::Hold(const MqDeadline& dd, Why why)
    : dd_(const_cast<MqDeadline&>(dd)), why_(why) {
  dd_.lock_.lock();
  dd_.close_gate(why == kIo);
}

MqDeadline::Hold::~Hold() {
  if (why_ == kLoneStep) dd_.open_gate();
  dd_.lock_.unlock();
}

// The lone step. Its conditions make the locked calls' result certain: the
// scheduler holds nothing (nr_listed_ is 0 while the gate is open), no other
// class has requests queued (so neither aging nor strict priority applies),
// and the request is neither a requeue nor an at-head insert. Then insert
// puts it on its tree and FIFO, and dispatch finds it as the only candidate
// of its class, in or out of the current batch: it leaves at once, and only
// the batch state and counters change, which the fold applies.
Request* MqDeadline::lone_candidate(core::ListHead* list, unsigned flags, unsigned max) {
  if ((flags & block::INSERT_AT_HEAD) || !max) return nullptr;
  core::ListHead* first = list->first();
  if (first == list || first->next != list) return nullptr;
  Request* rq = block::rq_from_queuelist(first);
  return rq->elv_priv[0] ? nullptr : rq;  // a requeue was counted once already
}

// Inlined into insert_and_dispatch: the lone step is mq-deadline's every
// I/O when one bio goes per plug.
[[gnu::always_inline]] inline MqDeadline::Lone MqDeadline::try_lone(Request* rq,
                                                                    core::ListHead* out) {
  const unsigned prio = dd_prio_of(rq->ioprio);
  const int gate = gate_.load(std::memory_order_relaxed);
  if (gate != static_cast<int>(prio)) return gate < 0 ? Lone::kClosed : Lone::kNot;
  LoneThread* t = lone_.local();
  if (!t->registered) return Lone::kNot;
  const std::uint64_t now = queue()->jiffies();
  const unsigned dir = dir_of(rq);

  lone_enter(t->busy);
  const std::uint32_t head = t->head.load(std::memory_order_relaxed);
  if (gate_.load(std::memory_order_acquire) != static_cast<int>(prio)) {
    t->busy.store(0, std::memory_order_release);
    return Lone::kClosed;
  }
  if (head - t->tail.load(std::memory_order_acquire) >= kLoneLog) {
    t->busy.store(0, std::memory_order_release);
    return Lone::kFull;
  }
  LoneEntry& e = t->log[head % kLoneLog];
  const std::uint64_t stamp =
      lone_stamped_.load(std::memory_order_relaxed) ? step_stamp(lone_tsc_) : 0;
  e.key.store(stamp << 1 | dir, std::memory_order_relaxed);
  e.pos.store(block::blk_rq_pos(rq), std::memory_order_relaxed);
  t->last_of[dir].store(head, std::memory_order_relaxed);
  t->head.store(head + 1, std::memory_order_release);  // a cut's fold reads what it counts
  core::local_add(t->inserted[prio], 1u);
  // Read inside the step: a tunable changes only with the gate closed.
  rq->fifo_time = now + lone_expire_ns_[dir].load(std::memory_order_relaxed);
  t->busy.store(0, std::memory_order_release);

  rq->queuelist.del();
  rq->elv_priv[0] = prio_slot(prio);
  block::blk_trace_rq_insert(rq);
  rq->rq_flags |= block::RQF_STARTED;
  block::elv_dispatch_add(rq, out);
  return Lone::kTaken;
}

unsigned MqDeadline::insert_and_dispatch(block::HwCtx*, core::ListHead* list, unsigned flags,
                                         core::ListHead* out, unsigned max, bool* held_back) {
  Request* lone = lone_candidate(list, flags, max);
  if (lone) {
    const Lone r = try_lone(lone, out);
    if (r == Lone::kTaken || (r != Lone::kNot && lone_retry(lone, out, r))) [[likely]]
      return 1;
  }
  return insert_and_dispatch_locked(list, flags, out, max, held_back, lone != nullptr);
}

bool MqDeadline::lone_retry(Request* rq, core::ListHead* out, Lone r) {
  // A gate found closed while another thread holds lock_ is mostly that
  // thread's fold or step, which opens it again on release: wait for the
  // release and try again rather than take the lock and close it anew (a
  // closing costs a process-wide barrier). Bounded: a busy lock also means
  // the locked path is near. `r`: the first try's result.
  for (int tries = 1;; ++tries) {
    if (r == Lone::kFull) {
      fold_cut(lone_.local());
    } else {
      if (r == Lone::kNot || !lock_.is_locked()) return false;
      for (unsigned spins = 0; lock_.is_locked(); ++spins) {
        if (spins > 64) {
          std::this_thread::yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
    if (tries == 8) return false;
    r = try_lone(rq, out);
    if (r == Lone::kTaken) return true;
  }
}

// Counts a completion on the thread's slot while the gate is open (no line
// shared with other completers), else the class's counter takes it as in
// the kernel.
[[gnu::always_inline]] inline bool MqDeadline::lone_completed(unsigned prio) {
  if (gate_.load(std::memory_order_relaxed) < 0) return false;
  LoneThread* t = lone_.local();
  if (!t->registered) return false;
  lone_enter(t->busy);
  const bool open = gate_.load(std::memory_order_acquire) >= 0;
  if (open) core::local_add(t->completed[prio], 1u);
  t->busy.store(0, std::memory_order_release);
  return open;
}

void MqDeadline::finish_request(Request* rq) {
  // Requests that bypassed the scheduler were never counted as inserted.
  auto* pp = static_cast<PerPrio*>(rq->elv_priv[0]);
  if (!pp) return;
  if (lone_completed(static_cast<unsigned>(pp - prio_slot(0)))) return;
  pp->stats.completed.fetch_add(1, std::memory_order_relaxed);
}

void MqDeadline::register_lone() {
  LoneThread* t = lone_.local();
  if (t->registered) return;
  lone_threads_.push_back(t);
  fold_cursors_.resize(lone_threads_.size());
  t->registered = true;
  // The gate is closed and the first thread's log folded: from here on the
  // steps of several threads are merged by their readings.
  if (lone_threads_.size() == 2) {
    lone_stamped_.store(true, std::memory_order_relaxed);
    set_wants_stamp(lone_tsc_);
  }
}

void MqDeadline::close_gate(bool io) {
  core::lockdep_assert_held(lock_);
  // Closed already: every step since the last opening has been folded.
  if (gate_.load(std::memory_order_relaxed) < 0) return;
  gate_.store(-1, std::memory_order_relaxed);
  // Every thread now either shows its step under way or sees the gate closed.
  wait_lone_steps(nullptr);
  std::uint32_t steps = 0;
  for (LoneThread* t : lone_threads_) {
    for (unsigned p = 0; p < kDdPrioCount; ++p) {
      IoStats& s = per_prio_[p].stats;
      const std::uint32_t ins = t->inserted[p].load(std::memory_order_relaxed);
      steps += ins - t->folded_inserted[p];
      s.inserted += ins - t->folded_inserted[p];
      s.dispatched += ins - t->folded_inserted[p];
      t->folded_inserted[p] = ins;
      const std::uint32_t done = t->completed[p].load(std::memory_order_relaxed);
      s.completed.fetch_add(done - t->folded_completed[p], std::memory_order_relaxed);
      t->folded_completed[p] = done;
    }
  }
  fold_lone(~std::uint64_t{0});
  if (steps >= kLoneWorthIt) {
    lone_backoff_ = 0;
  } else if (io) {
    lone_backoff_ = lone_backoff_ ? std::min(2 * lone_backoff_, kLoneMaxBackoff) : 1;
    lone_skip_ = lone_backoff_;
  }
}

void MqDeadline::wait_lone_steps(const LoneThread* self) {
  // Only this thread takes steps: none can be under way.
  if (self && lone_threads_.size() == 1 && lone_threads_[0] == self) return;
  core::heavy_barrier();
  for (LoneThread* t : lone_threads_) {
    for (unsigned spins = 0; t->busy.load(std::memory_order_acquire); ++spins) {
      if (spins > 64) {
        std::this_thread::yield();  // its owner was preempted inside a step
        spins = 0;
      } else {
        __builtin_ia32_pause();
      }
    }
  }
}

// What the logged steps read before `cut` (all: ~0) do to the batch state,
// taken in the order of their readings (each thread's in its own order; equal
// readings in the order of lone_threads_). One step is what dd_dispatch_request
// changes when the only request it can find is one of lone_prio_'s class in
// direction `dir` at `pos` (see dispatch_from): the batch goes on if it was in
// that direction at or before `pos` and is not full, else a new one starts (a
// write's new batch also ends the reads' lead), and `pos` becomes the class's
// last position in `dir`. So the steps leave: the last one's direction; each
// direction's last position; `batching` from the trailing run of steps in one
// direction at rising positions (a new batch at its start, unless it reaches
// back to the first step and that one went on from the state before; then
// counting up and starting again at fifo_batch); `starved` at 0 once a write
// is among them (it is 0 already while the gate is open: it counts only while
// a write waits, and a waiting write leaves in a write batch, which zeroes
// it). The fold therefore reads the logs backwards from their ends, merged,
// only as far as that run goes, and finds each direction's last step through
// its thread's note of it: the entries before stay unread.
void MqDeadline::fold_lone(std::uint64_t cut) {
  // A cursor walks its thread's entries [tail, end) back from `at`; key is that
  // of the entry before `at`, or kNoKey.
  constexpr std::uint64_t kNoKey = ~std::uint64_t{0};
  auto key_at = [](const LoneThread* t, std::uint32_t i) {
    return t->log[i % kLoneLog].key.load(std::memory_order_relaxed);
  };
  auto prev_key = [&](const FoldCursor& c) {
    return c.at == c.tail ? kNoKey : key_at(c.t, c.at - 1);
  };
  std::size_t n = 0;
  for (LoneThread* t : lone_threads_) {
    const std::uint32_t tail = t->tail.load(std::memory_order_relaxed);
    const std::uint32_t head = t->head.load(std::memory_order_acquire);
    // A thread's readings only grow: the steps after the cut are its last ones.
    std::uint32_t end = head;
    while (end != tail && (key_at(t, end - 1) >> 1) >= cut) --end;
    if (end == tail) continue;
    FoldCursor& c = fold_cursors_[n++];
    c = {t, tail, end, end, 0};
    c.key = prev_key(c);
  }
  if (!n) return;
  // The merged order's previous step: the latest reading; of equal ones, the
  // cursor the forward merge takes last (the later in lone_threads_). (The
  // analysis does not see lock_ held inside a lambda: it takes the cursors.)
  FoldCursor* const cursors = fold_cursors_.data();
  auto take = [&](unsigned* dir, block::sector_t* pos) {
    FoldCursor* last = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
      FoldCursor& c = cursors[i];
      if (c.key != kNoKey && (!last || (c.key >> 1) >= (last->key >> 1))) last = &c;
    }
    if (!last) return false;
    --last->at;
    *dir = static_cast<unsigned>(last->key & 1);
    *pos = last->t->log[last->at % kLoneLog].pos.load(std::memory_order_relaxed);
    last->key = prev_key(*last);
    return true;
  };
  PerPrio& pp = per_prio_[lone_prio_];
  const auto batch = static_cast<unsigned>(fifo_batch_);
  unsigned dir = 0;
  block::sector_t pos = 0;
  (void)take(&dir, &pos);  // n > 0: there is a step
  const block::sector_t last_pos = pos;
  // The trailing run: `len` steps, the first at `pos`.
  std::uint64_t len = 1;
  bool from_start = true;
  for (;;) {
    unsigned d;
    block::sector_t p;
    if (!take(&d, &p)) break;
    if (d != dir || p > pos) {
      from_start = false;
      break;
    }
    ++len;
    pos = p;
  }
  std::uint64_t first = 1;  // the run's first step's batch count
  if (from_start && last_dir_ == dir && pos >= pp.latest_pos[dir] && batching_ < batch)
    first = batching_ + 1;
  batching_ = batch ? static_cast<unsigned>((first - 1 + len - 1) % batch + 1) : 1;
  last_dir_ = static_cast<DdDir>(dir);
  pp.latest_pos[dir] = last_pos;
  // The other direction's last step: the latest of the threads' last ones.
  const unsigned other = dir ^ 1;
  std::uint64_t best = kNoKey;
  for (std::size_t i = 0; i < n; ++i) {
    const FoldCursor& c = fold_cursors_[i];
    const LoneThread* t = c.t;
    // The thread's note, unless it names a step after the cut (one its
    // owner took since: look back from the cut) or one folded before (it has
    // none here). Indices count round, a log's span is far below half the
    // range; a stale one that came round into the span names an entry of
    // the other direction only if it is that entry (its step set the note).
    std::uint32_t at = t->last_of[other].load(std::memory_order_relaxed);
    bool found = false;
    if (at - c.tail < c.end - c.tail) {
      found = (key_at(t, at) & 1) == other;
    } else if (at - c.tail < (1u << 31)) {
      for (at = c.end; at != c.tail && !found;) found = (key_at(t, --at) & 1) == other;
    }
    if (!found) continue;
    const std::uint64_t k = key_at(t, at) >> 1;
    if (best == kNoKey || k >= best) {
      best = k;
      pp.latest_pos[other] = t->log[at % kLoneLog].pos.load(std::memory_order_relaxed);
    }
  }
  if (dir == DD_WRITE || (other == DD_WRITE && best != kNoKey)) starved_ = 0;
  // Released: the owner reuses an entry only once it sees it folded.
  for (std::size_t i = 0; i < n; ++i)
    fold_cursors_[i].t->tail.store(fold_cursors_[i].end, std::memory_order_release);
}

void MqDeadline::fold_cut(const LoneThread* self) {
  core::LockGuard g(lock_);
  // Closed meanwhile: its closer folded everything.
  if (gate_.load(std::memory_order_relaxed) < 0) return;
  // Another thread's cut (their logs fill together) made room already: its
  // barrier is not paid again.
  if (self->head.load(std::memory_order_relaxed) - self->tail.load(std::memory_order_relaxed) <
      kLoneLog)
    return;
  const std::uint64_t cut =
      lone_stamped_.load(std::memory_order_relaxed) ? lone_stamp(lone_tsc_) : 1;
  wait_lone_steps(self);
  fold_lone(cut);
}

void MqDeadline::open_gate() {
  core::lockdep_assert_held(lock_);
  if (lone_threads_.empty() || nr_listed_.load(std::memory_order_relaxed) != 0) return;
  if (lone_skip_) {
    --lone_skip_;
    return;
  }
  int only = -1;
  for (unsigned p = 0; p < kDdPrioCount; ++p) {
    if (!dd_queued(p)) continue;
    if (only >= 0) return;  // two classes: aging and priority decide
    only = static_cast<int>(p);
  }
  if (only >= 0) lone_prio_ = static_cast<unsigned>(only);
  gate_.store(static_cast<int>(lone_prio_), std::memory_order_release);
}

std::uint64_t MqDeadline::lone_steps() const {
  std::uint64_t n = 0;
  lone_.for_each([&](const LoneThread& t) {
    for (const auto& c : t.inserted) n += c.load(std::memory_order_relaxed);
  });
  return n;
}

void MqDeadline::set_expire(unsigned dir, int ms) {
  fifo_expire_ms_[dir] = ms;
  lone_expire_ns_[dir].store(expire_ns(dir), std::memory_order_relaxed);
}

}  // namespace iostack::sched
