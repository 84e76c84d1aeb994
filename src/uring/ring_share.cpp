// Rings shared across fork() (the kernel's one io_ring_ctx reached from
// every process holding the ring fd): before a fork each ring of the process
// gets a page of MAP_SHARED memory with cross-process locks and wait words;
// after it the child makes its own ring object over the same ring memory.
// Each process runs the SQEs it consumes, as the kernel runs them in the
// task that enters; the indexes in the ring memory are the truth both
// engines reread under the shared locks.
#include "uring/ring_share.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <utility>
#include <vector>

#include "core/futex.hpp"
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

std::atomic<bool> g_rings_made{false};

// Gives `ctx` its shared page (once: a ring forked again keeps it). Both
// locks are held while the pointer is set, so every thread that posts or
// consumes sees it set or finishes before it is.
void share_ring(IoRingCtx* ctx) NO_THREAD_SAFETY_ANALYSIS {
  if (ctx->shared.load(std::memory_order_acquire)) return;
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
  ctx->shared.store(sh, std::memory_order_release);
  ctx->completion_lock.unlock();
  // Waiters already asleep on the private queue move to the shared one.
  ctx->cq_wait.wake();
}

// pthread_atfork's prepare: the rings of this process, as the fork will
// find them. Rings reachable only from registered slots are not shared, as
// the kernel's child task starts with no registered rings.
void before_fork() {
  if (!g_rings_made.load(std::memory_order_acquire)) return;
  core::Process::current().files().for_each([](int, core::File* f) {
    if (f->ops() == &kRingFops) share_ring(static_cast<IoRingCtx*>(f));
  });
}

// The child's ring objects made during this fork's table inheritance: one
// per parent ring, whatever the number of descriptors naming it.
struct ChildRings {
  unsigned generation = ~0u;
  std::vector<std::pair<IoRingCtx*, IoRingCtx*>> made;
};
ChildRings* g_child_rings = nullptr;

}  // namespace

RingShared* ring_shared(IoRingCtx* ctx) { return ctx->shared.load(std::memory_order_acquire); }

void ring_share_at_setup() {
  if (g_rings_made.load(std::memory_order_relaxed)) return;
  static const bool registered = [] {
    pthread_atfork(before_fork, nullptr, nullptr);
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
  if (ctx) g_child_rings->made.emplace_back(parent, ctx);
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
  if (!sh || !ctx->r_disabled.load(std::memory_order_acquire)) return;
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

void ring_share_release(IoRingCtx* ctx) {
  if (RingShared* sh = ctx->shared.exchange(nullptr, std::memory_order_acq_rel))
    munmap(sh, kPageSize);
}

void cq_wake(IoRingCtx* ctx) {
  ctx->cq_wait.wake();
  if (RingShared* sh = ctx->shared.load(std::memory_order_relaxed)) sh->cq_wait.wake();
}

}  // namespace iostack::uring
