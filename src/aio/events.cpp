// io_getevents / io_pgetevents (fs/aio.c: aio_read_events_ring,
// aio_read_events, read_events): copy events out of the ring from head to
// tail, sleeping until min_nr arrived or the timeout passed.
#include <linux/aio_abi.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

#include "aio/aio.hpp"
#include "aio/caller_run.hpp"
#include "aio/ioctx_table.hpp"
#include "core/aio_wait_stats.hpp"
#include "core/exec_stats.hpp"
#include "core/futex.hpp"
#include "core/mutex.hpp"
#include "core/tsc.hpp"
#include "core/uaccess.hpp"

namespace iostack::aio {
namespace {

constexpr std::int64_t kKtimeMax = INT64_MAX;
constexpr std::int64_t kNsecPerSec = 1000000000;
constexpr std::int64_t kKtimeSecMax = kKtimeMax / kNsecPerSec;

// timespec64_to_ktime(): no validation, saturating at KTIME_MAX.
std::int64_t to_ktime(const struct timespec& ts) {
  if (ts.tv_sec >= kKtimeSecMax) return kKtimeMax;
  return static_cast<std::int64_t>(ts.tv_sec) * kNsecPerSec + ts.tv_nsec;
}

std::int64_t mono_ns() { return static_cast<std::int64_t>(core::monotonic_ns()); }

// For `iostack exec --stats`: how long the events about to be copied out
// of slots [head, head + n) waited in the ring.
void count_ring_wait(const Kioctx* ctx, unsigned head, long n) {
  core::AioWaitStats& s = core::aio_wait_stats();
  const std::int64_t now = mono_ns();
  for (long k = 0; k < n; ++k) {
    const unsigned slot = (head + static_cast<unsigned>(k)) % ctx->nr_events;
    const std::int64_t at = ctx->posted_at[slot].load(std::memory_order_relaxed);
    s.add(&s.reaped, &s.ring_ns, at != 0 ? now - at : 0);
  }
}

// Copies events out from head towards tail; the head moves only once all
// of them reached `event`: a fault leaves them in the ring (-EFAULT).
long aio_read_events_ring(Kioctx* ctx, struct io_event* event, long nr) {
  core::LockGuard g(ctx->ring_lock);
  AioRing* ring = ctx->r();
  unsigned head = std::atomic_ref<unsigned>(ring->head).load(std::memory_order_relaxed);
  unsigned tail = std::atomic_ref<unsigned>(ring->tail).load(std::memory_order_seq_cst);
  if (head == tail) return 0;
  head %= ctx->nr_events;
  tail %= ctx->nr_events;
  const unsigned first = head;
  long ret = 0;
  struct io_event* events = ring_events(ring);
  while (ret < nr) {
    if (head == tail) break;
    long avail = static_cast<long>((head <= tail ? tail : ctx->nr_events) - head);
    if (avail > nr - ret) avail = nr - ret;
    if (core::copy_to_user(event + ret, events + head,
                           sizeof(struct io_event) * static_cast<std::size_t>(avail)))
      return -EFAULT;
    ret += avail;
    head = static_cast<unsigned>((head + static_cast<unsigned long>(avail)) % ctx->nr_events);
  }
  if (ctx->posted_at) count_ring_wait(ctx, first, ret);
  std::atomic_ref<unsigned>(ring->head).store(head, std::memory_order_release);
  return ret;
}

bool aio_read_events(Kioctx* ctx, long min_nr, long nr, struct io_event* event, long* i) {
  long ret = aio_read_events_ring(ctx, event + *i, nr - *i);
  if (ret > 0) *i += ret;
  if (ctx->dead.load(std::memory_order_acquire) != 0) ret = -EINVAL;
  if (*i == 0) *i = ret;
  return ret < 0 || *i >= min_nr;
}

struct timespec deadline_after(std::int64_t ns) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  struct timespec d;
  const std::int64_t sec = ns / kNsecPerSec;
  d.tv_sec = now.tv_sec + static_cast<time_t>(sec);
  d.tv_nsec = now.tv_nsec + static_cast<long>(ns % kNsecPerSec);
  if (d.tv_nsec >= kNsecPerSec) {
    d.tv_nsec -= kNsecPerSec;
    d.tv_sec += 1;
  }
  return d;
}

// A worker whose read has returned posts its event within microseconds,
// sooner than this thread could sleep and be woken (a context switch on
// each side, and on a VM an interrupt between CPUs): while one is
// finishing, the waiter watches the ring instead, up to this long per call.
constexpr std::int64_t kFinishingSpinNs = 20000;

// Spins while a worker of `ctx` is finishing and the ring's tail stays,
// within what is left of *budget and before `deadline` (null: none). True
// when the tail moved.
bool spin_for_finishing(Kioctx* ctx, const struct timespec* deadline, std::int64_t* budget) {
  if (*budget <= 0 || ctx->finishing.load(std::memory_order_acquire) == 0) return false;
  const std::atomic_ref<unsigned> tail(ctx->r()->tail);
  const unsigned seen = tail.load(std::memory_order_acquire);
  const std::int64_t start = mono_ns();
  std::int64_t end = start + *budget;
  if (deadline != nullptr) {
    const std::int64_t dl =
        static_cast<std::int64_t>(deadline->tv_sec) * kNsecPerSec + deadline->tv_nsec;
    if (dl < end) end = dl;
  }
  bool moved = false;
  std::int64_t now = start;
  for (unsigned i = 1; ctx->finishing.load(std::memory_order_acquire) != 0; ++i) {
    if (tail.load(std::memory_order_acquire) != seen) {
      moved = true;
      break;
    }
    __builtin_ia32_pause();
    if (i % 64 == 0 && (now = mono_ns()) >= end) break;
  }
  if (!moved) moved = tail.load(std::memory_order_acquire) != seen;
  if (now == start) now = mono_ns();
  *budget -= now - start;
  return moved;
}

long read_events(Kioctx* ctx, long min_nr, long nr, struct io_event* event, std::int64_t until,
                 bool* interrupted) {
  long ret = 0;
  aio_read_events(ctx, min_nr, nr, event, &ret);
  if (until == 0 || ret < 0 || ret >= min_nr) return ret;
  // A negative relative timeout lands before "now"; the kernel's
  // ktime_add_safe() then saturates it, and the wait has no end.
  if (until < 0) until = kKtimeMax;

  struct timespec deadline;
  const struct timespec* dl = nullptr;
  if (until != kKtimeMax) {
    deadline = deadline_after(until);
    dl = &deadline;
  }
  AioWaiter w;
  bool timed_out = false;
  std::int64_t spin_budget = kFinishingSpinNs;
  bool may_run = true;  // until one finds nothing to run
  for (;;) {
    const long nr_got = ret;
    w.min_nr = min_nr - ret;
    if (spin_for_finishing(ctx, dl, &spin_budget) && aio_read_events(ctx, min_nr, nr, event, &ret))
      return ret;
    ctx->wait.add(&w);
    if (aio_read_events(ctx, min_nr, nr, event, &ret) || timed_out || *interrupted) break;
    if (nr_got == ret && may_run && aio_caller_may_run(ctx)) {
      // Rather than sleep until a worker has done a read this thread
      // queued, do one: its event, and those that came meanwhile, are
      // looked for on the next pass.
      ctx->wait.remove(&w);
      if (aio_caller_run(ctx, dl, interrupted)) continue;
      may_run = false;
      ctx->wait.add(&w);
      if (aio_read_events(ctx, min_nr, nr, event, &ret) || *interrupted) break;
    }
    if (nr_got == ret && w.prepare_sleep()) {
      if (core::ExecStats::enabled())
        core::aio_wait_stats().sleeps.fetch_add(1, std::memory_order_relaxed);
      const int r = core::futex_wait(&w.woken, AioWaiter::kAsleep, dl);
      if (r == -EINTR) *interrupted = true;
      if (r == -ETIMEDOUT) timed_out = true;
    }
    ctx->wait.remove(&w);
  }
  ctx->wait.remove(&w);
  return ret;
}

// `ts` is the caller's copy of the timeout, or null.
long do_io_getevents(aio_context_t ctx_id, long min_nr, long nr, struct io_event* events,
                     const struct timespec* ts, bool* interrupted) {
  const std::int64_t until = ts != nullptr ? to_ktime(*ts) : kKtimeMax;
  Kioctx* ctx = lookup_ioctx(ctx_id);
  if (ctx == nullptr) return -EINVAL;
  long ret = -EINVAL;
  if (min_nr <= nr && min_nr >= 0) ret = read_events(ctx, min_nr, nr, events, until, interrupted);
  put_ioctx(ctx);
  return ret;
}

struct AioSigset {
  const sigset_t* sigmask;
  std::size_t sigsetsize;
};
constexpr std::size_t kKernelSigsetSize = 8;  // sizeof the kernel's sigset_t

}  // namespace

long sys_io_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                      const struct timespec* timeout) {
  struct timespec ts;
  if (timeout && core::get_user(ts, timeout)) return -EFAULT;
  bool interrupted = false;
  long ret = do_io_getevents(ctx, min_nr, nr, events, timeout ? &ts : nullptr, &interrupted);
  if (ret == 0 && interrupted) ret = -EINTR;
  return ret;
}

long sys_io_pgetevents(aio_context_t ctx, long min_nr, long nr, struct io_event* events,
                       const struct timespec* timeout, const void* usig) {
  struct timespec ts;
  if (timeout && core::get_user(ts, timeout)) return -EFAULT;
  AioSigset ksig{nullptr, 0};
  if (usig != nullptr && core::get_user(ksig, static_cast<const AioSigset*>(usig))) return -EFAULT;
  sigset_t old;
  const bool masked = ksig.sigmask != nullptr;
  if (masked) {
    if (ksig.sigsetsize != kKernelSigsetSize) return -EINVAL;
    sigset_t mask;
    if (core::copy_sigset_from_user(&mask, ksig.sigmask)) return -EFAULT;
    pthread_sigmask(SIG_SETMASK, &mask, &old);
  }
  bool interrupted = false;
  long ret = do_io_getevents(ctx, min_nr, nr, events, timeout ? &ts : nullptr, &interrupted);
  if (masked) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (interrupted && ret == 0) ret = -EINTR;
  return ret;
}

}  // namespace iostack::aio
