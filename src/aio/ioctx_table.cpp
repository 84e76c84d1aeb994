// The process's AIO contexts and the aio-nr / aio-max-nr accounting.
#include "aio/ioctx_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <new>
#include <vector>

#include "core/exec_stats.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"

namespace iostack::aio {
namespace {

struct Table {
  core::SharedMutex lock;  // mm->ioctx_lock; readers are lookups
  // table->table[], table->nr == slots.size()
  std::vector<Kioctx*> slots GUARDED_BY(lock);
  core::Mutex nr_lock;  // aio_nr_lock
  unsigned long aio_nr GUARDED_BY(nr_lock) = 0;
  unsigned long aio_max_nr GUARDED_BY(nr_lock) = 0;
  bool max_loaded GUARDED_BY(nr_lock) = false;
};

// mm->ioctx_table: per process, so a forked child starts without contexts,
// as the kernel gives it a fresh mm; the parent's stay the parent's.
Table& table() { return core::Process::current().state<Table>(); }

unsigned long read_sysctl_max() {
  unsigned long v = kDefaultAioMaxNr;
  if (FILE* f = std::fopen("/proc/sys/fs/aio-max-nr", "re")) {
    unsigned long x = 0;
    if (std::fscanf(f, "%lu", &x) == 1) v = x;
    std::fclose(f);
  }
  return v;
}

// aio-max-nr, read from the system on first use.
unsigned long max_nr(Table& t) REQUIRES(t.nr_lock) {
  if (!t.max_loaded) {
    t.aio_max_nr = read_sysctl_max();
    t.max_loaded = true;
  }
  return t.aio_max_nr;
}

void aio_nr_sub(unsigned nr) {
  Table& t = table();
  core::LockGuard g(t.nr_lock);
  t.aio_nr = t.aio_nr >= nr ? t.aio_nr - nr : 0;
}

// ioctx_add_table(): the first free slot, growing the table 4x when full.
unsigned add_table(Kioctx* ctx) {
  Table& t = table();
  core::LockGuard g(t.lock);
  for (std::size_t i = 0; i < t.slots.size(); ++i) {
    if (t.slots[i] == nullptr) {
      t.slots[i] = ctx;
      return static_cast<unsigned>(i);
    }
  }
  const std::size_t old = t.slots.size();
  t.slots.resize((old == 0 ? 1 : old) * 4, nullptr);
  t.slots[old] = ctx;
  return static_cast<unsigned>(old);
}

}  // namespace

unsigned long aio_max_nr() {
  Table& t = table();
  core::LockGuard g(t.nr_lock);
  return max_nr(t);
}

void set_aio_max_nr(unsigned long v) {
  Table& t = table();
  core::LockGuard g(t.nr_lock);
  t.aio_max_nr = v;
  t.max_loaded = true;
}

unsigned long aio_nr() {
  Table& t = table();
  core::LockGuard g(t.nr_lock);
  return t.aio_nr;
}

int ioctx_alloc(unsigned nr_events, Kioctx** out) {
  const unsigned max_reqs = nr_events;
  const unsigned cpus = possible_cpus();
  // Up to half the slots may sit in other CPUs' caches, so the ring is
  // made twice as large, and never smaller than 4 per CPU.
  nr_events = std::max(nr_events, cpus * 4);
  nr_events *= 2;  // wraps like the kernel's unsigned arithmetic
  if (nr_events > 0x10000000U / sizeof(struct io_event)) return -EINVAL;
  if (nr_events == 0 || max_reqs > aio_max_nr()) return -EAGAIN;

  auto* ctx = new (std::nothrow) Kioctx();
  if (ctx == nullptr) return -ENOMEM;
  ctx->max_reqs = max_reqs;
  if (int err = aio_setup_ring(nr_events, &ctx->ring); err < 0) {
    delete ctx;
    return err;
  }
  ctx->user_id = reinterpret_cast<unsigned long>(ctx->ring.ring);
  ctx->nr_events = ctx->ring.geo.nr_events;
  ctx->reqs_available.init(ctx->nr_events, cpus);
  if (core::ExecStats::enabled())
    ctx->posted_at.reset(new (std::nothrow) std::atomic<std::int64_t>[ctx->nr_events]());

  {
    Table& t = table();
    core::LockGuard g(t.nr_lock);
    const unsigned long limit = max_nr(t);
    if (t.aio_nr + ctx->max_reqs > limit || t.aio_nr + ctx->max_reqs < t.aio_nr) {
      aio_free_ring(&ctx->ring);
      delete ctx;
      return -EAGAIN;
    }
    t.aio_nr += ctx->max_reqs;
  }
  ctx->pool.reserve(std::min(ctx->nr_events - 1, 64u));
  ctx->id = add_table(ctx);
  std::atomic_ref<unsigned>(ctx->r()->id).store(ctx->id, std::memory_order_release);
  *out = ctx;
  return 0;
}

Kioctx* lookup_ioctx(unsigned long ctx_id) {
  if (ctx_id == 0) return nullptr;
  Table& t = table();
  core::SharedLockGuard g(t.lock);
  for (Kioctx* ctx : t.slots) {
    if (ctx != nullptr && ctx->user_id == ctx_id) {
      if (ctx->dead.load(std::memory_order_relaxed) != 0) return nullptr;
      ctx->users.get();
      return ctx;
    }
  }
  return nullptr;
}

int kill_ioctx(Kioctx* ctx) {
  {
    Table& t = table();
    core::LockGuard g(t.lock);
    if (ctx->dead.exchange(1) != 0) return -EINVAL;
    if (ctx->id < t.slots.size() && t.slots[ctx->id] == ctx) t.slots[ctx->id] = nullptr;
  }
  ctx->wait.wake_all();
  // Counted out now, not when the last request ends: once io_destroy
  // returns, io_setup must not fail for want of room.
  aio_nr_sub(ctx->max_reqs);
  return 0;
}

}  // namespace iostack::aio
