// FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAITV (io_uring/futex.c over kernel/futex):
// waits armed on a futex word complete when a FUTEX_WAKE of any ring of the
// process names their address and bitset; a wake with waiters to spare
// goes on to futex(2), so threads sleeping in the system call wake too.
// The process's armed waits are one table by address (the futex hash). A
// watcher thread sleeps in futex_waitv(2) on the armed words (up to 127),
// so a futex(2) FUTEX_WAKE from a plain thread completes the oldest armed
// wait of its word, as it would wake the kernel's.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <new>
#include <vector>

#include "core/internal_thread.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/ops.hpp"

namespace iostack::uring {

namespace {

// FUTEX2_* (include/uapi/linux/futex.h of 6.18).
constexpr unsigned kFutex2SizeMask = 0x03;
constexpr unsigned kFutex2SizeU32 = 0x02;
constexpr unsigned kFutex2Numa = 0x04;
constexpr unsigned kFutex2Mpol = 0x08;
constexpr unsigned kFutex2Private = 128;
constexpr unsigned kFutex2ValidMask = kFutex2SizeMask | kFutex2Numa | kFutex2Mpol | kFutex2Private;
constexpr unsigned kFutexWaitvMax = 128;

// struct futex_waitv (include/uapi/linux/futex.h)
struct UserWaitv {
  std::uint64_t val;
  std::uint64_t uaddr;
  std::uint32_t flags;
  std::uint32_t reserved;
};

// struct futex_q, reduced: one armed wait on one word.
struct FutexWaiter {
  core::ListHead node;  // its bucket, oldest first
  IoKiocb* req = nullptr;
  std::uint64_t uaddr = 0;
  std::uint32_t val = 0;
  std::uint32_t bitset = 0;
  unsigned flags = 0;  // FUTEX2_*
  int index = 0;       // position in a FUTEX_WAITV vector
};

// futex2_to_flags + futex_flags_valid + futex_validate_input for 32-bit words.
bool flags_valid(unsigned flags) {
  return !(flags & ~kFutex2ValidMask) && (flags & kFutex2SizeMask) == kFutex2SizeU32;
}
bool fits_u32(std::uint64_t v) { return !(v >> 32); }

// get_futex_key: aligned, in user space; a shared futex's page must exist.
int futex_key_check(std::uint64_t uaddr, unsigned flags) {
  if (uaddr % sizeof(std::uint32_t)) return -EINVAL;
  const auto* p = reinterpret_cast<const std::uint32_t*>(uaddr);
  if (!core::access_ok(p, sizeof(std::uint32_t))) return -EFAULT;
  if (!(flags & kFutex2Private)) {
    std::uint32_t v;
    if (core::get_user(v, p)) return -EFAULT;
  }
  return 0;
}

class FutexTable {
 public:
  static FutexTable& get() { return core::Process::current().state<FutexTable>(); }
  static FutexTable* find() { return core::Process::current().find_state<FutexTable>(); }

  core::Mutex mu;

  // The armed set changed: the watcher rebuilds what it sleeps on.
  void changed() REQUIRES(mu) {
    ctrl_.fetch_add(1, std::memory_order_seq_cst);
    if (!watcher_started_) {
      watcher_started_ = true;
      core::start_internal_thread(core::ThreadKind::kPoll, [this] { watch(); }).detach();
    }
    futex_syscall(&ctrl_, FUTEX_WAKE_PRIVATE, 1);
  }

  // Around a wake of futex(2) sleepers of `uaddr`: the watcher must not
  // sleep on that word meanwhile, or the wake would be counted on it.
  void unwatch(std::uint64_t uaddr) {
    std::uint32_t target;
    bool wait;
    {
      core::LockGuard lock(mu);
      excluded_.push_back(uaddr);
      wait = watcher_started_ && watching(uaddr);
      target = ctrl_.fetch_add(1, std::memory_order_seq_cst) + 1;
    }
    futex_syscall(&ctrl_, FUTEX_WAKE_PRIVATE, 1);
    while (wait) {
      const std::uint32_t seen = acked_.load(std::memory_order_seq_cst);
      if (static_cast<std::int32_t>(seen - target) >= 0) return;
      futex_syscall(&acked_, FUTEX_WAIT_PRIVATE, seen);
    }
  }
  void rewatch(std::uint64_t uaddr) {
    core::LockGuard lock(mu);
    for (auto it = excluded_.begin(); it != excluded_.end(); ++it) {
      if (*it == uaddr) {
        excluded_.erase(it);
        break;
      }
    }
    if (watcher_started_) changed();
  }

  core::ListHead* bucket(std::uint64_t uaddr) REQUIRES(mu) {
    return &buckets_[(uaddr * 0x9e3779b97f4a7c15ull) >> (64 - kBits)];
  }

  // Takes every waiter of `req` out.
  void unqueue(IoKiocb* req) REQUIRES(mu) {
    FutexData& f = req->futex;
    for (unsigned i = 0; i < f.nr_waiters; ++i) {
      FutexWaiter& w = static_cast<FutexWaiter*>(f.waiters)[i];
      if (w.node.linked()) w.node.del();
    }
    f.queued = false;
    changed();
  }

  // Takes out the first armed wait of `ctx` that `match` accepts (mu
  // taken); null when there is none.
  template <typename Match>
  IoKiocb* take(IoRingCtx* ctx, Match match) {
    core::LockGuard lock(mu);
    for (core::ListHead& b : buckets_) {
      for (core::ListHead* n = b.first(); n != &b; n = n->next) {
        IoKiocb* req = core::list_entry<FutexWaiter, &FutexWaiter::node>(n)->req;
        if (req->ctx != ctx || !match(req)) continue;
        unqueue(req);
        return req;
      }
    }
    return nullptr;
  }

 private:
  static long futex_syscall(std::atomic<std::uint32_t>* word, int op, std::uint32_t val) {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, nullptr, nullptr, 0);
  }

  bool excluded(std::uint64_t uaddr) const REQUIRES(mu) {
    for (std::uint64_t e : excluded_)
      if (e == uaddr) return true;
    return false;
  }

  bool watching(std::uint64_t uaddr) const REQUIRES(mu) {
    for (unsigned i = 1; i < nwatch_; ++i)
      if (watch_[i].uaddr == uaddr) return true;
    return false;
  }

  // The watcher: sleeps on the control word and one entry per armed word;
  // a wake of an armed word completes that word's oldest wait.
  void watch() {
    for (;;) {
      std::uint32_t gen;
      unsigned n;
      struct futex_waitv wv[kFutexWaitvMax];
      {
        core::LockGuard lock(mu);
        gen = ctrl_.load(std::memory_order_seq_cst);
        watch_[0] = {gen, reinterpret_cast<std::uintptr_t>(&ctrl_), kFutex2SizeU32 | kFutex2Private,
                     0};
        nwatch_ = 1;
        for (core::ListHead& b : buckets_) {
          for (core::ListHead* n2 = b.first(); n2 != &b && nwatch_ < kFutexWaitvMax;
               n2 = n2->next) {
            const FutexWaiter* w = core::list_entry<FutexWaiter, &FutexWaiter::node>(n2);
            if (watching(w->uaddr) || excluded(w->uaddr)) continue;
            std::uint32_t cur;
            if (core::get_user(cur, reinterpret_cast<const std::uint32_t*>(w->uaddr))) continue;
            watch_[nwatch_++] = {cur, w->uaddr, kFutex2SizeU32 | (w->flags & kFutex2Private), 0};
          }
        }
        n = nwatch_;
        for (unsigned i = 0; i < n; ++i) wv[i] = watch_[i];
        acked_.store(gen, std::memory_order_seq_cst);
      }
      futex_syscall(&acked_, FUTEX_WAKE_PRIVATE, INT_MAX);
      const long r = syscall(SYS_futex_waitv, wv, n, 0, nullptr, CLOCK_MONOTONIC);
      if (r < 0 && errno != EAGAIN && errno != EINTR) {
        // A word futex_waitv refuses: wait for the set to change, not spin.
        futex_syscall(&ctrl_, FUTEX_WAIT_PRIVATE, gen);
        continue;
      }
      if (r <= 0 || static_cast<unsigned>(r) >= n) continue;  // the set changed, or a value did
      core::LockGuard lock(mu);
      complete_oldest(wv[r].uaddr);
      nwatch_ = 0;
    }
  }

  // A futex(2) wake took the watcher's entry for `uaddr`: the oldest armed
  // wait of that word completes.
  void complete_oldest(std::uint64_t uaddr) REQUIRES(mu) {
    core::ListHead* b = bucket(uaddr);
    for (core::ListHead* n = b->first(); n != b; n = n->next) {
      FutexWaiter* w = core::list_entry<FutexWaiter, &FutexWaiter::node>(n);
      if (w->uaddr != uaddr) continue;
      IoKiocb* target = w->req;
      const int index = w->index;
      unqueue(target);
      ctrl_.fetch_add(1, std::memory_order_seq_cst);
      IoRingCtx* tctx = target->ctx;
      tctx->recycling.fetch_add(1, std::memory_order_seq_cst);
      req_queue_tw_complete(target, target->opcode == uapi::kOpFutexWaitv ? index : 0);
      tctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }

  static constexpr unsigned kBits = 8;
  core::ListHead buckets_[1u << kBits] GUARDED_BY(mu);
  std::atomic<std::uint32_t> ctrl_{0};   // bumped whenever the armed set changes
  std::atomic<std::uint32_t> acked_{0};  // the ctrl_ value the watcher's set reflects
  bool watcher_started_ GUARDED_BY(mu) = false;
  struct futex_waitv watch_[kFutexWaitvMax] GUARDED_BY(mu) = {};  // what the watcher sleeps on
  unsigned nwatch_ GUARDED_BY(mu) = 0;
  std::vector<std::uint64_t> excluded_ GUARDED_BY(mu);  // words a FUTEX_WAKE is waking in futex(2)
};

void futex_free(IoKiocb* req) {
  std::free(req->futex.waiters);
  req->futex.waiters = nullptr;
  req->futex.nr_waiters = 0;
}

int futex_fail(IoKiocb* req, int res) {
  req_set_fail(req);
  req_set_res(req, res, 0);
  return kIouOk;
}

}  // namespace

void futex_cleanup(IoKiocb* req) { futex_free(req); }

// io_futex_prep: FUTEX_WAIT and FUTEX_WAKE.
int futex_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->len || sqe->rw_flags || sqe->buf_index || sqe->file_index) return -EINVAL;
  FutexData& f = req->futex;
  f.uaddr = sqe->addr;
  f.val = sqe->addr2;
  f.mask = sqe->addr3;
  f.flags = static_cast<unsigned>(sqe->fd);
  f.waiters = nullptr;
  f.nr_waiters = 0;
  f.queued = false;
  if (!flags_valid(f.flags)) return -EINVAL;
  if (!fits_u32(f.val) || !fits_u32(f.mask)) return -EINVAL;
  return 0;
}

// io_futexv_prep: the vector is read and checked now.
int futexv_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->fd || sqe->buf_index || sqe->file_index || sqe->addr2 || sqe->rw_flags || sqe->addr3)
    return -EINVAL;
  FutexData& f = req->futex;
  f.uaddr = sqe->addr;
  f.nr_waiters = 0;
  f.waiters = nullptr;
  f.queued = false;
  const unsigned nr = sqe->len;
  if (!nr || nr > kFutexWaitvMax) return -EINVAL;
  auto* w = static_cast<FutexWaiter*>(std::calloc(nr, sizeof(FutexWaiter)));
  if (!w) return -ENOMEM;
  f.waiters = w;
  req->flags |= kReqCleanup;
  const auto* uv = reinterpret_cast<const UserWaitv*>(f.uaddr);
  for (unsigned i = 0; i < nr; ++i) {
    UserWaitv v;
    if (core::copy_from_user(&v, &uv[i], sizeof(v))) return -EFAULT;
    if ((v.flags & ~kFutex2ValidMask) || v.reserved) return -EINVAL;
    if (!flags_valid(v.flags) || !fits_u32(v.val)) return -EINVAL;
    new (&w[i]) FutexWaiter;
    w[i].req = req;
    w[i].uaddr = v.uaddr;
    w[i].val = static_cast<std::uint32_t>(v.val);
    w[i].bitset = ~0u;  // FUTEX_BITSET_MATCH_ANY
    w[i].flags = v.flags;
    w[i].index = static_cast<int>(i);
  }
  f.nr_waiters = nr;
  return 0;
}

int futex_wait_issue(IoKiocb* req, unsigned) {
  FutexData& f = req->futex;
  if (!f.mask) return futex_fail(req, -EINVAL);
  if (const int err = futex_key_check(f.uaddr, f.flags)) return futex_fail(req, err);
  auto* w = static_cast<FutexWaiter*>(std::calloc(1, sizeof(FutexWaiter)));
  if (!w) return futex_fail(req, -ENOMEM);
  new (w) FutexWaiter;
  w->req = req;
  w->uaddr = f.uaddr;
  w->val = static_cast<std::uint32_t>(f.val);
  w->bitset = static_cast<std::uint32_t>(f.mask);
  w->flags = f.flags;
  f.waiters = w;
  f.nr_waiters = 1;
  req->flags |= kReqCleanup;
  FutexTable& t = FutexTable::get();
  core::LockGuard lock(t.mu);
  // futex_wait_setup: the word is compared under the bucket's lock, so no
  // wake between the compare and the queueing is lost.
  std::uint32_t cur;
  if (core::get_user(cur, reinterpret_cast<const std::uint32_t*>(f.uaddr)))
    return futex_fail(req, -EFAULT);
  if (cur != w->val) return futex_fail(req, -EAGAIN);
  w->node.add_tail(t.bucket(w->uaddr));
  f.queued = true;
  t.changed();
  return kIouIssueSkipComplete;
}

int futexv_wait_issue(IoKiocb* req, unsigned) {
  FutexData& f = req->futex;
  auto* w = static_cast<FutexWaiter*>(f.waiters);
  for (unsigned i = 0; i < f.nr_waiters; ++i)
    if (const int err = futex_key_check(w[i].uaddr, w[i].flags)) return futex_fail(req, err);
  FutexTable& t = FutexTable::get();
  core::LockGuard lock(t.mu);
  // futex_wait_multiple_setup: every word must still hold its value.
  for (unsigned i = 0; i < f.nr_waiters; ++i) {
    std::uint32_t cur;
    if (core::get_user(cur, reinterpret_cast<const std::uint32_t*>(w[i].uaddr)))
      return futex_fail(req, -EFAULT);
    if (cur != w[i].val) return futex_fail(req, -EAGAIN);
  }
  for (unsigned i = 0; i < f.nr_waiters; ++i) w[i].node.add_tail(t.bucket(w[i].uaddr));
  f.queued = true;
  t.changed();
  return kIouIssueSkipComplete;
}

// io_futex_wake: up to futex_val waiters whose bitset meets the mask, the
// armed waits of this process first, then sleepers in futex(2).
int futex_wake_issue(IoKiocb* req, unsigned) {
  FutexData& f = req->futex;
  const auto bitset = static_cast<std::uint32_t>(f.mask);
  if (!bitset) return futex_fail(req, -EINVAL);
  if (const int err = futex_key_check(f.uaddr, f.flags)) return futex_fail(req, err);
  const int nr = static_cast<int>(f.val);
  if (nr <= 0) {
    // FLAGS_STRICT: waking none wakes none.
    req_set_res(req, 0, 0);
    return kIouOk;
  }
  int woken = 0;
  if (FutexTable* t = FutexTable::find()) {
    core::LockGuard lock(t->mu);
    core::ListHead* b = t->bucket(f.uaddr);
    for (core::ListHead* n = b->first(); n != b && woken < nr;) {
      FutexWaiter* w = core::list_entry<FutexWaiter, &FutexWaiter::node>(n);
      n = n->next;
      // A private futex's key (mm, address) never equals a shared one's
      // (FUT_OFF_MMSHARED or FUT_OFF_INODE in its offset): a private wake
      // does not wake a shared wait of the same word (fuzz seed 188751).
      if (w->uaddr != f.uaddr || !(w->bitset & bitset) || ((w->flags ^ f.flags) & kFutex2Private))
        continue;
      IoKiocb* target = w->req;
      const int index = w->index;
      const bool vec = target->opcode == uapi::kOpFutexWaitv;
      t->unqueue(target);
      n = b->first();  // the vector's other words may have left this bucket
      ++woken;
      // FUTEX_WAITV reports the index of the word that woke it. The target
      // may be another ring's, closed as soon as it completes: its teardown
      // waits for `recycling` to drop.
      IoRingCtx* tctx = target->ctx;
      tctx->recycling.fetch_add(1, std::memory_order_seq_cst);
      req_queue_tw_complete(target, vec ? index : 0);
      tctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  if (woken < nr) {
    FutexTable* t = FutexTable::find();
    if (t) t->unwatch(f.uaddr);
    const int op = FUTEX_WAKE_BITSET | ((f.flags & kFutex2Private) ? FUTEX_PRIVATE_FLAG : 0);
    const long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(f.uaddr), op, nr - woken,
                           nullptr, nullptr, bitset);
    if (r > 0) woken += static_cast<int>(r);
    if (t) t->rewatch(f.uaddr);
  }
  req_set_res(req, woken, 0);
  return kIouOk;
}

// io_futex_cancel (io_cancel_remove): the first armed wait `cd` matches, or
// with CANCEL_ALL every one, completes with -ECANCELED; the result is how
// many (so a cancel of a futex wait reports 1, as the kernel's does).
int futex_cancel(IoRingCtx* ctx, CancelMatch* cd) {
  FutexTable* t = FutexTable::find();
  if (!t) return -ENOENT;
  int nr = 0;
  // __io_futex_cancel sets -ECANCELED without failing the request: a link
  // behind the wait goes on (fuzz seed 735 of the extended generator).
  while (IoKiocb* req = t->take(ctx, [cd](IoKiocb* r) { return cancel_req_match(r, cd); })) {
    req_set_res(req, -ECANCELED, 0);
    tw_add(req, tw_req_complete);
    ++nr;
    if (!(cd->flags & IORING_ASYNC_CANCEL_ALL)) break;
  }
  return nr ? nr : -ENOENT;
}

// io_futex_remove_all, at ring teardown.
void futex_remove_all(IoRingCtx* ctx) {
  FutexTable* t = FutexTable::find();
  if (!t) return;
  while (IoKiocb* req = t->take(ctx, [](IoKiocb*) { return true; })) {
    req_set_fail(req);
    req_set_res(req, -ECANCELED, 0);
    req_complete_post(req);
  }
}

}  // namespace iostack::uring
