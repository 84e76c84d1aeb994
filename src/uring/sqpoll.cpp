// The SQPOLL thread (io_uring/sqpoll.c): polls the SQ rings of every ring
// attached to its io_sq_data, submits what it finds, and after sq_thread_idle
// without work sets IORING_SQ_NEED_WAKEUP and sleeps until an enter with
// IORING_ENTER_SQ_WAKEUP (or new work it is told about) wakes it.
#include "uring/sqpoll.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/tw_internal.hpp"

namespace iostack::uring {

namespace {

// IORING_SQPOLL_CAP_ENTRIES_VALUE: fairness cap when polling several rings.
constexpr unsigned kCapEntries = 8;

// How often an idle SQ thread looks at rings shared across fork.
constexpr std::int64_t kSharedTickNs = 10 * 1000 * 1000;

using SteadyClock = std::chrono::steady_clock;

IoRingCtx* node_ctx(core::ListHead* n) {
  return core::list_entry<IoRingCtx, &IoRingCtx::sqd_node>(n);
}

void update_idle(IoSqData* sqd) REQUIRES(sqd->lock) {
  unsigned idle = 0;
  for (core::ListHead* n = sqd->ctx_list.first(); n != &sqd->ctx_list; n = n->next)
    idle = std::max(idle, node_ctx(n)->sq_thread_idle_ms);
  sqd->idle_ms.store(idle ? idle : 1000, std::memory_order_relaxed);
}

void park(IoSqData* sqd) ACQUIRE(sqd->lock) {
  sqd->park_pending.fetch_add(1, std::memory_order_seq_cst);
  sqd->wait.wake();
  sqd->lock.lock();
}

void unpark(IoSqData* sqd) RELEASE(sqd->lock) {
  sqd->lock.unlock();
  sqd->park_pending.fetch_sub(1, std::memory_order_seq_cst);
}

bool cpu_online(int cpu) {
  char path[80];
  std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
  FILE* f = std::fopen(path, "r");
  if (!f) return cpu == 0 || cpu < get_nprocs();  // cpu0 often has no "online" file
  int v = 0;
  const int n = std::fscanf(f, "%d", &v);
  std::fclose(f);
  return n == 1 && v == 1;
}

int submit_ring(IoRingCtx* ctx, bool cap) {
  if (ctx->r_disabled.load(std::memory_order_acquire)) {
    ring_share_sync(ctx);  // another process may have enabled it
    if (ctx->r_disabled.load(std::memory_order_acquire)) return 0;
  }
  int ret = 0;
  unsigned to_submit = load_acquire(ctx->rings->sq.tail) - load_acquire(ctx->rings->sq.head);
  if (cap && to_submit > kCapEntries) to_submit = kCapEntries;
  if (to_submit) {
    // The program stored the tail through its own mapping of the rings.
    user_map_acquire_sq_tail(ctx);
    ret = submit_and_flush(ctx, to_submit);
    ctx->sq_space.wake();
    if (RingShared* sh = ring_shared(ctx)) sh->sq_space.wake();
  }
  if (tw_pending(ctx) && tw_run(ctx) && ret == 0) ret = 1;
  return ret;
}

void sq_thread_main(IoSqData* sqd) {
  char name[16];
  std::snprintf(name, sizeof(name), "iou-sqp-%d", static_cast<int>(sqd->tgid));
  pthread_setname_np(pthread_self(), name);
  core::uaccess_thread_init();  // it imports what SQEs point to
  if (sqd->sq_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sqd->sq_cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  core::UniqueLock lock(sqd->lock);
  // As in io_sq_thread, the idle period starts with the first work: a
  // thread that finds nothing at start goes to sleep at once.
  auto timeout = SteadyClock::now();
  for (;;) {
    if (sqd->stop.load(std::memory_order_acquire)) break;
    if (sqd->park_pending.load(std::memory_order_acquire)) {
      lock.unlock();
      while (sqd->park_pending.load(std::memory_order_acquire)) std::this_thread::yield();
      lock.lock();
      timeout = SteadyClock::now() + std::chrono::milliseconds(sqd->idle_ms.load());
      continue;
    }
    const bool cap = sqd->ctx_list.first() != sqd->ctx_list.last();
    bool spun = false;
    for (core::ListHead* n = sqd->ctx_list.first(); n != &sqd->ctx_list; n = n->next)
      if (submit_ring(node_ctx(n), cap) > 0) spun = true;
    const auto now = SteadyClock::now();
    if (spun || now < timeout) {
      if (spun) timeout = now + std::chrono::milliseconds(sqd->idle_ms.load());
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
      continue;
    }
    // Going to sleep: tell every ring, then look once more.
    sqd->wait.waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seq = sqd->wait.seq.load(std::memory_order_seq_cst);
    bool needs_sched = true;
    bool shared = false;
    for (core::ListHead* n = sqd->ctx_list.first(); n != &sqd->ctx_list; n = n->next) {
      IoRingCtx* ctx = node_ctx(n);
      shared |= ring_shared(ctx) != nullptr;
      // The flag store and the tail load must not be reordered: both seq_cst.
      flags_or(ctx->rings->sq_flags, IORING_SQ_NEED_WAKEUP);
      if ((!ctx->r_disabled.load(std::memory_order_acquire) &&
           load_seq_cst(ctx->rings->sq.tail) != load_acquire(ctx->rings->sq.head)) ||
          tw_pending(ctx)) {
        needs_sched = false;
        break;
      }
    }
    if (needs_sched && !sqd->park_pending.load() && !sqd->stop.load()) {
      // A ring shared across fork gets SQEs, and IORING_ENTER_SQ_WAKEUP,
      // from processes that cannot reach this futex: its rings are looked
      // at again every tick.
      const struct timespec tick = core::futex_deadline_after(0, kSharedTickNs);
      lock.unlock();
      const int r = futex_wait(&sqd->wait.seq, seq, shared ? &tick : nullptr);
      lock.lock();
      if (r == -ETIMEDOUT) {
        // Still asleep as far as the rings say: one pass, no idle spin.
        sqd->wait.waiters.fetch_sub(1, std::memory_order_seq_cst);
        continue;
      }
    }
    sqd->wait.waiters.fetch_sub(1, std::memory_order_seq_cst);
    for (core::ListHead* n = sqd->ctx_list.first(); n != &sqd->ctx_list; n = n->next)
      flags_andnot(node_ctx(n)->rings->sq_flags, IORING_SQ_NEED_WAKEUP);
    timeout = SteadyClock::now() + std::chrono::milliseconds(sqd->idle_ms.load());
  }
  for (core::ListHead* n = sqd->ctx_list.first(); n != &sqd->ctx_list; n = n->next)
    flags_or(node_ctx(n)->rings->sq_flags, IORING_SQ_NEED_WAKEUP);
  sqd->alive.store(false, std::memory_order_release);
}

void put_sq_data(IoSqData* sqd) {
  if (sqd->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  sqd->stop.store(true, std::memory_order_release);
  sqd->wait.wake();
  if (sqd->thread.joinable()) sqd->thread.join();
  delete sqd;
}

}  // namespace

int sq_offload_validate(IoRingCtx* ctx, const io_uring_params* p) {
  // Compatibility: an invalid attach fails even without SQPOLL.
  if (ctx->flags & IORING_SETUP_ATTACH_WQ) {
    core::FileRef ref = ring_file_get(static_cast<int>(p->wq_fd));
    IoRingCtx* other = ring_of(ref);
    if (!other) return fcntl(static_cast<int>(p->wq_fd), F_GETFD) < 0 ? -ENXIO : -EINVAL;
    if ((ctx->flags & IORING_SETUP_SQPOLL) && !other->sqd) return -EINVAL;
    if (ctx->flags & IORING_SETUP_SQPOLL) return 0;  // the attached thread keeps its CPU
  }
  if (!(ctx->flags & IORING_SETUP_SQPOLL)) {
    if (ctx->flags & IORING_SETUP_SQ_AFF) return -EINVAL;
    return 0;
  }
  if (ctx->flags & IORING_SETUP_SQ_AFF) {
    const int cpu = static_cast<int>(p->sq_thread_cpu);
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof(allowed), &allowed);
    if (cpu >= get_nprocs_conf() || !cpu_online(cpu) || !CPU_ISSET(cpu, &allowed)) return -EINVAL;
  }
  return 0;
}

int sq_offload_create(IoRingCtx* ctx, const io_uring_params* p) {
  if (!(ctx->flags & IORING_SETUP_SQPOLL)) return 0;
  IoSqData* sqd = nullptr;
  bool attached = false;
  if (ctx->flags & IORING_SETUP_ATTACH_WQ) {
    core::FileRef ref = ring_file_get(static_cast<int>(p->wq_fd));
    IoRingCtx* other = ring_of(ref);
    if (!other) return fcntl(static_cast<int>(p->wq_fd), F_GETFD) < 0 ? -ENXIO : -EINVAL;
    if (!other->sqd) return -EINVAL;
    sqd = other->sqd;
    sqd->refs.fetch_add(1, std::memory_order_acq_rel);
    attached = true;
  } else {
    sqd = new IoSqData;
  }
  ctx->sqd = sqd;
  ctx->sq_thread_idle_ms = p->sq_thread_idle ? p->sq_thread_idle : 1000;
  park(sqd);
  ctx->sqd_node.add_head(&sqd->ctx_list);
  update_idle(sqd);
  const bool dead = attached && !sqd->alive.load(std::memory_order_acquire);
  unpark(sqd);
  if (dead) {
    sq_thread_finish(ctx);
    return -ENXIO;
  }
  if (attached) return 0;

  if (ctx->flags & IORING_SETUP_SQ_AFF) sqd->sq_cpu = static_cast<int>(p->sq_thread_cpu);
  sqd->tgid = getpid();
  sqd->alive.store(true, std::memory_order_release);
  sqd->thread =
      core::start_internal_thread(core::ThreadKind::kSqPoll, [sqd] { sq_thread_main(sqd); });
  return 0;
}

void sq_thread_finish(IoRingCtx* ctx) {
  IoSqData* sqd = ctx->sqd;
  if (!sqd) return;
  park(sqd);
  ctx->sqd_node.del();
  update_idle(sqd);
  unpark(sqd);
  ctx->sqd = nullptr;
  put_sq_data(sqd);
}

void sq_thread_wake(IoRingCtx* ctx) {
  if (IoSqData* sqd = ctx->sqd) sqd->wait.wake();
}

bool sq_thread_alive(IoRingCtx* ctx) {
  if (ctx->sq_remote) return true;  // the parent's thread: see sq_thread_main's tick
  return ctx->sqd && ctx->sqd->alive.load(std::memory_order_acquire);
}

int sqpoll_wq_affinity(IoRingCtx* ctx, const cpu_set_t* mask, std::size_t size) {
  if (!ctx->sqd || !ctx->wq) return -EINVAL;
  return ctx->wq->set_affinity(mask, size);
}

void sqpoll_wait_sq(IoRingCtx* ctx) {
  if (ctx->sq_remote) {
    // The SQ thread is the parent's: it wakes the shared queue as it
    // consumes.
    RingShared* sh = ring_shared(ctx);
    for (;;) {
      const std::uint32_t seq = sh->sq_space.prepare();
      const bool full =
          load_acquire(ctx->rings->sq.tail) - load_acquire(ctx->rings->sq.head) >= ctx->sq_entries;
      const int r = full ? sh->sq_space.sleep(seq, nullptr) : 0;
      sh->sq_space.finish();
      if (!full || r == -EINTR) return;
    }
  }
  for (;;) {
    ctx->sq_space.waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seq = ctx->sq_space.seq.load(std::memory_order_seq_cst);
    const bool full =
        load_acquire(ctx->rings->sq.tail) - load_acquire(ctx->rings->sq.head) >= ctx->sq_entries;
    int r = 0;
    if (full) {
      sq_thread_wake(ctx);
      r = futex_wait(&ctx->sq_space.seq, seq, nullptr);
    }
    ctx->sq_space.waiters.fetch_sub(1, std::memory_order_seq_cst);
    if (!full || r == -EINTR) return;
  }
}

}  // namespace iostack::uring
