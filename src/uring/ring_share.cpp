// Rings shared across fork() (the kernel's one io_ring_ctx reached from
// every process holding the ring fd): before a fork each ring of the process
// gets a page of MAP_SHARED memory with cross-process locks and wait words;
// after it the child makes its own ring object over the same ring memory.
// Each process runs the SQEs it consumes, as the kernel runs them in the
// task that enters; the indexes in the ring memory are the truth both
// engines reread under the shared locks.
#include "uring/ring_share.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "core/futex.hpp"
#include "core/internal_thread.hpp"
#include "core/process.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

void SharedMutex::init() {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&m_, &a);
  pthread_mutexattr_destroy(&a);
}

void SharedMutex::lock() NO_THREAD_SAFETY_ANALYSIS {
  // A holder that died mid-update left indexes the next holder rereads from
  // the ring anyway: the lock is usable again as it is.
  if (pthread_mutex_lock(&m_) == EOWNERDEAD) pthread_mutex_consistent(&m_);
}

void SharedMutex::unlock() NO_THREAD_SAFETY_ANALYSIS { pthread_mutex_unlock(&m_); }

void SharedWaitQueue::wake() {
  seq.fetch_add(1, std::memory_order_seq_cst);
  if (waiters.load(std::memory_order_seq_cst) > 0) core::futex_wake_shared(&seq, INT_MAX);
}

std::uint32_t SharedWaitQueue::prepare() {
  waiters.fetch_add(1, std::memory_order_seq_cst);
  return seq.load(std::memory_order_seq_cst);
}

int SharedWaitQueue::sleep(std::uint32_t seen, const struct timespec* deadline) {
  const int r = core::futex_wait_shared(&seq, seen, deadline);
  return r == -ETIMEDOUT ? -ETIME : r;
}

void SharedWaitQueue::finish() { waiters.fetch_sub(1, std::memory_order_seq_cst); }

namespace {

static_assert(sizeof(RingShared) <= kPageSize);

std::atomic<bool> g_rings_made{false};

// Gives `ctx` its shared page (once: a ring forked again keeps it). Both
// locks are held while the pointer is set, so every thread that posts or
// consumes sees it set or finishes before it is.
void share_ring(IoRingCtx* ctx) NO_THREAD_SAFETY_ANALYSIS {
  if (RingShared* sh = ctx->shared.load(std::memory_order_acquire)) {
    // Shared already (a child's ring object, or forked before): a server
    // started after this fork answers what is asked from now on.
    ctx->share_cancels_seen = sh->cancel.asked.load(std::memory_order_acquire);
    return;
  }
  void* p = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // the child then gets the ring refused (-EBADFD)
  auto* sh = new (p) RingShared;
  sh->sq_lock.init();
  sh->cq_lock.init();
  core::LockGuard lock(ctx->uring_lock);
  ctx->completion_lock.lock();
  sh->enabled.store(!ctx->r_disabled.load(std::memory_order_acquire), std::memory_order_relaxed);
  sh->submitter_tid.store(ctx->submitter_tid.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  sh->ready_signalled.store(ctx->ready_signalled.load(std::memory_order_seq_cst),
                            std::memory_order_relaxed);
  ctx->share_cancels_seen = 0;
  ctx->shared.store(sh, std::memory_order_release);
  ctx->completion_lock.unlock();
  // Waiters already asleep on the private queue move to the shared one.
  ctx->cq_wait.wake();
}

}  // namespace

// This process's answerer of the other processes' cancels on one ring: a
// thread asleep on RemoteCancel::asked (the kernel's cancel reaches every
// task's io-wq itself; here only the engine that issued a request can).
struct ShareServer {
  std::atomic<bool> stop{false};
  std::thread thread;
};

namespace {

// Timeouts adopted from processes that left, as (expiry, user_data).
using Adopted = std::vector<std::pair<std::int64_t, std::uint64_t>>;

void answer(IoRingCtx* ctx, RemoteCancel& rc, Adopted* adopted) {
  if (rc.kind == RemoteCancel::kAdoptTimeout) {
    int none = 0;
    if (rc.result.compare_exchange_strong(none, 1, std::memory_order_relaxed))
      adopted->emplace_back(rc.expires, rc.data);
    return;
  }
  const bool all = rc.flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  const CancelAsk ask{rc.data, rc.flags, rc.opcode, rc.fd};
  const int r = cancel_for_other_process(ctx, ask, rc.from.load(std::memory_order_relaxed));
  if (all) {
    if (r > 0) rc.result.fetch_add(r, std::memory_order_relaxed);
  } else if (r != -ENOENT) {
    int none = -ENOENT;
    rc.result.compare_exchange_strong(none, r, std::memory_order_relaxed);
  }
}

// Posts the adopted timeouts that are due; the earliest left, or 0.
std::int64_t fire_adopted(IoRingCtx* ctx, Adopted* adopted) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::int64_t now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  std::int64_t next = 0;
  for (std::size_t i = 0; i < adopted->size();) {
    const auto [when, ud] = (*adopted)[i];
    if (when <= now) {
      post_aux_cqe(ctx, ud, -ETIME, 0);
      (*adopted)[i] = adopted->back();
      adopted->pop_back();
      continue;
    }
    if (!next || when < next) next = when;
    ++i;
  }
  return next;
}

void serve(IoRingCtx* ctx, RingShared* sh, ShareServer* srv, std::uint32_t seen) {
  RemoteCancel& rc = sh->cancel;
  const pid_t self = getpid();
  Adopted adopted;
  for (;;) {
    const std::uint32_t woken = rc.wake.load(std::memory_order_acquire);
    if (srv->stop.load(std::memory_order_acquire)) return;
    const std::uint32_t now = rc.asked.load(std::memory_order_acquire);
    if (now != seen) {
      seen = now;
      if (rc.from.load(std::memory_order_relaxed) != self) {
        answer(ctx, rc, &adopted);
        rc.answered.fetch_add(1, std::memory_order_release);
        core::futex_wake_shared(&rc.answered, INT_MAX);
      }
    }
    const std::int64_t next = fire_adopted(ctx, &adopted);
    const struct timespec until = {static_cast<time_t>(next / 1000000000LL),
                                   static_cast<long>(next % 1000000000LL)};
    core::futex_wait_shared(&rc.wake, woken, next ? &until : nullptr);
  }
}

// Whether `pid` still runs: not gone and not a zombie (whose threads,
// the server among them, are gone).
bool process_runs(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char buf[256];
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* end = std::strrchr(buf, ')');
  return end && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

// The other processes' servers running now; slots of those gone are freed.
int other_servers(RingShared* sh) {
  const pid_t self = getpid();
  int n = 0;
  for (auto& slot : sh->servers) {
    pid_t pid = slot.load(std::memory_order_acquire);
    if (!pid || pid == self) continue;
    if (process_runs(pid))
      ++n;
    else
      slot.compare_exchange_strong(pid, 0, std::memory_order_acq_rel);
  }
  return n;
}

void server_slot(RingShared* sh, pid_t from, pid_t to) {
  if (to)
    for (auto& slot : sh->servers)
      if (slot.load(std::memory_order_acquire) == to) return;  // claimed already
  for (auto& slot : sh->servers) {
    pid_t v = from;
    if (slot.compare_exchange_strong(v, to, std::memory_order_acq_rel)) return;
  }
}

// Starts the server once per ring object. `seen`: the requests already
// asked that are not this process's to answer.
void start_server(IoRingCtx* ctx, std::uint32_t seen) {
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  if (!sh || ctx->share_server.load(std::memory_order_acquire)) return;
  auto* srv = new ShareServer;
  ShareServer* none = nullptr;
  if (!ctx->share_server.compare_exchange_strong(none, srv, std::memory_order_acq_rel)) {
    delete srv;
    return;
  }
  srv->thread = core::start_internal_thread(core::ThreadKind::kRingShare,
                                            [ctx, sh, srv, seen] { serve(ctx, sh, srv, seen); });
  server_slot(sh, 0, getpid());
}

void stop_server(IoRingCtx* ctx, RingShared* sh) {
  ShareServer* srv = ctx->share_server.exchange(nullptr, std::memory_order_acq_rel);
  if (!srv) return;
  server_slot(sh, getpid(), 0);
  srv->stop.store(true, std::memory_order_release);
  // No request: the other processes' servers look and sleep again.
  sh->cancel.wake.fetch_add(1, std::memory_order_acq_rel);
  core::futex_wake_shared(&sh->cancel.wake, INT_MAX);
  srv->thread.join();
  delete srv;
}

// pthread_atfork's prepare: the rings of this process, as the fork will
// find them. Rings reachable only from registered slots are not shared, as
// the kernel's child task starts with no registered rings.
void before_fork() {
  if (!g_rings_made.load(std::memory_order_acquire)) return;
  core::Process::current().files().for_each([](int, core::File* f) {
    if (f->ops() != &kRingFops) return;
    auto* ctx = static_cast<IoRingCtx*>(f);
    share_ring(ctx);
    // The server starts after the fork; the child may ask before it runs,
    // and must count it.
    if (RingShared* sh = ctx->shared.load(std::memory_order_acquire)) server_slot(sh, 0, getpid());
  });
}

// pthread_atfork's parent: the parent answers its child's cancels from now
// on (the child starts its own server at its first call on the ring).
void after_fork_parent() {
  if (!g_rings_made.load(std::memory_order_acquire)) return;
  core::Process::current().files().for_each([](int, core::File* f) {
    if (f->ops() != &kRingFops) return;
    auto* ctx = static_cast<IoRingCtx*>(f);
    start_server(ctx, ctx->share_cancels_seen);
  });
}

// The child's ring objects made during this fork's table inheritance: one
// per parent ring, whatever the number of descriptors naming it.
struct ChildRings {
  unsigned generation = ~0u;
  std::vector<std::pair<IoRingCtx*, IoRingCtx*>> made;
};
ChildRings* g_child_rings = nullptr;

// A process leaving rings it shares with others: what it still has in
// flight is cancelled, so their CQEs reach the others (_exit and a fatal
// signal skip this; their requests' CQEs are then never posted).
void at_exit() {
  if (!g_rings_made.load(std::memory_order_acquire)) return;
  core::Process::current().files().for_each([](int, core::File* f) {
    if (f->ops() != &kRingFops) return;
    auto* ctx = static_cast<IoRingCtx*>(f);
    RingShared* sh = ctx->shared.load(std::memory_order_acquire);
    if (sh && sh->holders.load(std::memory_order_acquire) > 1) ring_cancel_at_exit(ctx);
  });
}

}  // namespace

void ring_share_before_exec() {
  // A vfork child runs in its parent's memory, as its parent to iostack:
  // its exec must not cancel the parent's requests.
  if (::getpid() != core::current_pid()) return;
  at_exit();
}

RingShared* ring_shared(IoRingCtx* ctx) { return ctx->shared.load(std::memory_order_acquire); }

bool ring_share_others_serve(RingShared* sh) { return other_servers(sh) > 0; }

void ring_share_at_setup() {
  if (g_rings_made.load(std::memory_order_relaxed)) return;
  static const bool registered = [] {
    pthread_atfork(before_fork, after_fork_parent, nullptr);
    std::atexit(at_exit);
    return true;
  }();
  (void)registered;
  g_rings_made.store(true, std::memory_order_release);
}

IoRingCtx* ring_share_child(IoRingCtx* parent) {
  if (!parent->shared.load(std::memory_order_relaxed)) return nullptr;
  // Only the forking thread exists here.
  if (!g_child_rings) g_child_rings = new ChildRings;
  const unsigned g = core::Process::fork_generation();
  if (g_child_rings->generation != g) {
    g_child_rings->made.clear();
    g_child_rings->generation = g;
  }
  for (auto& [from, to] : g_child_rings->made) {
    if (from == parent) {
      to->get();
      return to;
    }
  }
  IoRingCtx* ctx = ring_twin_create(parent);
  if (!ctx) return nullptr;
  g_child_rings->made.emplace_back(parent, ctx);
  ctx->shared.load(std::memory_order_relaxed)->holders.fetch_add(1, std::memory_order_acq_rel);
  return ctx;
}

namespace {

// What io_register_enable_rings did, done in this process's ring object
// after another process's enable.
void adopt_enable(IoRingCtx* ctx, RingShared* sh) REQUIRES(ctx->uring_lock) {
  if (!ctx->r_disabled.load(std::memory_order_acquire)) return;
  if (!sh->enabled.load(std::memory_order_acquire)) return;
  ctx->submitter_tid.store(sh->submitter_tid.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
  if (ctx->restrictions.registered) ctx->restricted.store(true, std::memory_order_relaxed);
  ctx->r_disabled.store(false, std::memory_order_release);
}

}  // namespace

void ring_share_sync(IoRingCtx* ctx) {
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  if (!sh) return;
  // A forked child's first call on the ring: from now on it may have
  // requests the other processes cancel. Requests asked before are not
  // its to answer (it had none).
  if (!ctx->share_server.load(std::memory_order_acquire))
    start_server(ctx, sh->cancel.asked.load(std::memory_order_acquire));
  if (!ctx->r_disabled.load(std::memory_order_acquire)) return;
  if (!sh->enabled.load(std::memory_order_acquire)) return;
  core::LockGuard lock(ctx->uring_lock);
  adopt_enable(ctx, sh);
  sq_thread_wake(ctx);
}

int ring_share_enable(IoRingCtx* ctx) {
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  sh->sq_lock.lock();
  const bool first = !sh->enabled.load(std::memory_order_relaxed);
  if (first) {
    pid_t tid = sh->submitter_tid.load(std::memory_order_relaxed);
    if ((ctx->flags & IORING_SETUP_SINGLE_ISSUER) && !tid) tid = core::current_tid();
    sh->submitter_tid.store(tid, std::memory_order_relaxed);
    sh->enabled.store(true, std::memory_order_release);
  }
  sh->sq_lock.unlock();
  adopt_enable(ctx, sh);
  return first ? 0 : -EBADFD;
}

void ring_share_stop(IoRingCtx* ctx) {
  if (RingShared* sh = ctx->shared.load(std::memory_order_acquire)) stop_server(ctx, sh);
}

void ring_share_release(IoRingCtx* ctx) {
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  if (!sh) return;
  stop_server(ctx, sh);
  sh->holders.fetch_sub(1, std::memory_order_acq_rel);
  ctx->shared.store(nullptr, std::memory_order_release);
  munmap(sh, kPageSize);
}

namespace {

// Asks the other processes (their servers) and waits for all their
// answers, a second at most; `fill` writes the request under the lock.
template <class Fill>
int ask_others(RingShared* sh, int none, Fill fill) {
  RemoteCancel& rc = sh->cancel;
  rc.lock.lock();
  const int others = other_servers(sh);
  if (others <= 0) {
    rc.lock.unlock();
    return none;
  }
  fill(rc);
  rc.result.store(none, std::memory_order_relaxed);
  rc.from.store(getpid(), std::memory_order_relaxed);
  const std::uint32_t base = rc.answered.load(std::memory_order_acquire);
  rc.asked.fetch_add(1, std::memory_order_acq_rel);
  rc.wake.fetch_add(1, std::memory_order_acq_rel);
  core::futex_wake_shared(&rc.wake, INT_MAX);
  const struct timespec deadline = core::futex_deadline_after(1, 0);
  for (;;) {
    const std::uint32_t a = rc.answered.load(std::memory_order_acquire);
    if (a - base >= static_cast<std::uint32_t>(others)) break;
    if (core::futex_wait_shared(&rc.answered, a, &deadline) == -ETIMEDOUT) break;
  }
  const int ret = rc.result.load(std::memory_order_relaxed);
  rc.lock.unlock();
  return ret;
}

}  // namespace

int ring_share_cancel(IoRingCtx* ctx, const CancelAsk& ask) {
  const bool all = ask.flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  if (!sh) return all ? 0 : -ENOENT;
  return ask_others(sh, all ? 0 : -ENOENT, [&](RemoteCancel& rc) {
    rc.kind = RemoteCancel::kCancel;
    rc.data = ask.data;
    rc.flags = ask.flags;
    rc.opcode = ask.opcode;
    rc.fd = ask.fd;
  });
}

bool ring_share_adopt_timeout(IoRingCtx* ctx, std::uint64_t user_data, core::Nanos expires) {
  RingShared* sh = ctx->shared.load(std::memory_order_acquire);
  if (!sh) return false;
  return ask_others(sh, 0, [&](RemoteCancel& rc) {
           rc.kind = RemoteCancel::kAdoptTimeout;
           rc.data = user_data;
           rc.expires = static_cast<std::int64_t>(expires);
         }) == 1;
}

void cq_wake(IoRingCtx* ctx) {
  ctx->cq_wait.wake();
  if (RingShared* sh = ctx->shared.load(std::memory_order_relaxed)) sh->cq_wait.wake();
}

}  // namespace iostack::uring
