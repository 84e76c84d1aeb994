// struct kioctx (fs/aio.c): an AIO context: its ring, request budget, the
// cancellable requests, the completion state and the io_getevents waiters.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "aio/kiocb.hpp"
#include "aio/reqs_available.hpp"
#include "aio/ring.hpp"
#include "aio/wait_queue.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"

namespace iostack::aio {

// Preallocated request slots; the pool grows in chunks and never shrinks
// while the context lives.
class KiocbPool {
 public:
  KiocbPool() = default;
  KiocbPool(const KiocbPool&) = delete;
  KiocbPool& operator=(const KiocbPool&) = delete;
  ~KiocbPool() = default;
  void reserve(unsigned n);
  AioKiocb* alloc();
  void free(AioKiocb* req);

 private:
  void grow(unsigned n) REQUIRES(lock_);
  core::Mutex lock_;
  AioKiocb* free_ GUARDED_BY(lock_) = nullptr;
  std::vector<std::unique_ptr<AioKiocb[]>> chunks_ GUARDED_BY(lock_);
};

// struct ctx_rq_wait (fs/aio.c): what io_destroy sleeps on until the last
// reference of a dying context is gone.
struct CtxRefWait {
  std::atomic<std::uint32_t> done{0};
};

// A percpu_ref reduced to one counter: starts at 1 (the base reference,
// dropped by kill); whoever drops it to zero signals the waiter installed
// before the base reference went.
struct CtxRef {
  std::atomic<std::uint32_t> count{1};
  std::atomic<CtxRefWait*> waiter{nullptr};
  void get() { count.fetch_add(1, std::memory_order_relaxed); }
  void put();
  // Drops the base reference and sleeps until the count reaches zero.
  void kill_and_wait();
};

struct Kioctx {
  std::atomic<int> dead{0};
  CtxRef users;  // io_* calls inside the context right now
  CtxRef reqs;   // requests in flight

  unsigned long user_id = 0;  // the ring's address: the aio_context_t
  unsigned max_reqs = 0;      // io_setup's nr_events, counted in aio-nr
  unsigned nr_events = 0;     // ring capacity (trusted copy of ring->nr)
  unsigned id = 0;            // slot in the context table
  MappedRing ring;

  ReqsAvailable reqs_available;

  core::Mutex ctx_lock;
  core::ListHead active_reqs GUARDED_BY(ctx_lock);

  core::Mutex ring_lock;  // serialises io_getevents readers
  WaitQueue wait;
  // Workers whose read or write has returned and whose event is not posted
  // yet: io_getevents spins rather than sleeps for them, and only the last
  // of several posting at once wakes the waiters.
  std::atomic<unsigned> finishing{0};

  core::Mutex completion_lock;
  unsigned tail GUARDED_BY(completion_lock) = 0;
  unsigned completed_events GUARDED_BY(completion_lock) = 0;
  // When each ring slot's event was posted, while `iostack exec --stats`
  // counts (null otherwise): io_getevents measures how long events wait.
  std::unique_ptr<std::atomic<std::int64_t>[]> posted_at;

  KiocbPool pool;

  AioRing* r() const { return ring.ring; }
};

// refill_reqs_available(): returns the slots of events user space has
// consumed (head moved past them).
void refill_reqs_available(Kioctx* ctx, unsigned head, unsigned tail)
    REQUIRES(ctx->completion_lock);
// get_reqs_available(), with user_refill_reqs_available() as the fallback.
bool get_reqs_available(Kioctx* ctx);
void put_reqs_available(Kioctx* ctx, unsigned nr);

}  // namespace iostack::aio
