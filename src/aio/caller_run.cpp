// io_getevents running a read it queued, instead of sleeping until a worker
// has done it.
#include "aio/caller_run.hpp"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cstdint>

#include "aio/aio_wq.hpp"
#include "aio/kioctx.hpp"
#include "core/aio_wait_stats.hpp"
#include "core/exec_stats.hpp"
#include "core/internal_thread.hpp"
#include "core/tsc.hpp"

namespace iostack::aio {
namespace {

// A work runs here only while the deadline is at least this many times a
// quick work's measured duration away: a timeout then ends at most about
// an eighth later than asked, as a busy CPU could make it.
constexpr std::int64_t kDeadlineFactor = 8;
// Blocked in the read, this thread reaps nothing: a read runs here only
// while the context has at most one other in flight, whose event the read
// would not keep waiting much longer than the disk does. (With 32 reads in
// flight, running them here read less -- 0.87, 0.93 and 1.11 times as much
// in three sets of fio runs: the other events waited in the ring while
// this thread read, and the disk ran short of work.)
constexpr unsigned kMaxInFlight = 2;

std::int64_t ts_ns(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// A signal with a handler of the program cuts a futex sleep short (the
// handler runs, futex_wait says -EINTR); an ignored one is dropped when let
// in, and one whose default action is fatal ends the process.
bool has_handler(int sig) {
  struct sigaction sa;
  if (::sigaction(sig, nullptr, &sa) != 0) return false;
  return sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

// Blocks what a worker blocks -- every signal but those the kernel raises
// on the faulting thread itself -- while the work runs: a handler of the
// program running in the middle of it would leave no trace that the sleep
// it replaces was cut short. The thread's own mask comes back afterwards.
class AsyncSignalsHeld {
 public:
  AsyncSignalsHeld() {
    sigset_t all;
    sigfillset(&all);
    for (int sig = 1; sig < NSIG; ++sig)
      if (sigismember(&core::synchronous_signals(), sig) == 1) sigdelset(&all, sig);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  AsyncSignalsHeld(const AsyncSignalsHeld&) = delete;
  AsyncSignalsHeld& operator=(const AsyncSignalsHeld&) = delete;

  // Lets the signals in again: true when one that arrived meanwhile is
  // handled by the program (it runs now, as it would have during the
  // sleep).
  bool release() {
    sigset_t pending;
    bool handled = false;
    if (sigpending(&pending) == 0 && !sigisemptyset(&pending)) {
      for (int sig = 1; sig < NSIG && !handled; ++sig)
        handled = sigismember(&pending, sig) == 1 && sigismember(&old_, sig) == 0 &&
                  sigismember(&core::synchronous_signals(), sig) == 0 && has_handler(sig);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    return handled;
  }

 private:
  sigset_t old_;
};

}  // namespace

bool aio_caller_may_run(const Kioctx* ctx) {
  return ctx->reqs.count.load(std::memory_order_relaxed) <= kMaxInFlight + 1;  // + the base
}

bool aio_caller_run(Kioctx* ctx, const struct timespec* deadline, bool* interrupted) {
  std::int64_t max_ns = INT64_MAX;
  if (deadline != nullptr) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const std::int64_t left = ts_ns(*deadline) - ts_ns(now);
    if (left <= 0) return false;
    max_ns = left / kDeadlineFactor;
  }
  AioWork* w = aio_wq_take_for_caller(ctx, max_ns);
  if (w == nullptr) return false;
  AsyncSignalsHeld held;
  const auto start = static_cast<std::int64_t>(core::monotonic_ns());
  w->fn(w);  // may free w
  aio_wq_caller_ran(static_cast<std::int64_t>(core::monotonic_ns()) - start);
  if (held.release()) *interrupted = true;
  if (core::ExecStats::enabled())
    core::aio_wait_stats().caller_runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace iostack::aio
