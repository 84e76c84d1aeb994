// Rings shared across fork(): the page that every process holding such a
// ring maps, with the cross-process locks and wait words that stand in for
// the kernel's one io_ring_ctx (its uring_lock over SQ consumption, its
// completion_lock over CQ posting, its cq_wait queue).
#pragma once

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "core/thread_safety.hpp"

namespace iostack::uring {

// A lock taken by threads of several processes: a robust, process-shared
// mutex, so that a process dying while it holds it leaves it to the next
// taker instead of hanging every other holder of the ring.
class CAPABILITY("mutex") SharedMutex {
 public:
  void init();
  void lock() ACQUIRE();
  void unlock() RELEASE();

 private:
  pthread_mutex_t m_;
};

// A wait queue on a futex word that sleepers of every process share
// (FUTEX_WAKE without FUTEX_PRIVATE_FLAG); wakers skip the system call when
// nobody sleeps.
struct SharedWaitQueue {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> waiters{0};

  void wake();
  std::uint32_t prepare();
  // 0 once woken, -ETIME at `deadline` (absolute CLOCK_MONOTONIC, null:
  // none), -EINTR on a signal.
  int sleep(std::uint32_t seen, const struct timespec* deadline);
  void finish();
};

// A request to the other processes holding the ring: a cancel
// (ASYNC_CANCEL searches every task's io-wq, and the ring's polls and
// timeouts, which here live in the engine of the process that issued them),
// or a timeout to adopt from a process leaving. One request at a time; each
// other process's server answers it.
struct RemoteCancel {
  enum Kind : std::uint8_t { kCancel, kAdoptTimeout };
  SharedMutex lock;                        // held by the asking process
  std::atomic<std::uint32_t> asked{0};     // bumped per request
  std::atomic<std::uint32_t> wake{0};      // bumped per request and stop: servers sleep on it
  std::atomic<std::uint32_t> answered{0};  // bumped per answer: the asker sleeps on it
  std::atomic<pid_t> from{0};
  Kind kind = kCancel;
  std::uint64_t data = 0;  // user_data
  std::uint32_t flags = 0;
  std::uint8_t opcode = 0;
  std::int32_t fd = -1;      // CANCEL_FD: the asker's descriptor, compared with kcmp
  std::int64_t expires = 0;  // kAdoptTimeout: CLOCK_MONOTONIC ns
  // kCancel: -ENOENT or the first match's answer, with ALL/ANY a count;
  // kAdoptTimeout: 1 once a process took it.
  std::atomic<int> result{0};
};

// One page of MAP_SHARED memory made for a ring when the process that has it
// forks; the child's own ring object for the same ring points at it too.
struct RingShared {
  SharedMutex sq_lock;       // SQ consumption: each engine rereads sq.head under it
  SharedMutex cq_lock;       // CQ posting: each engine rereads cq.tail under it
  SharedWaitQueue cq_wait;   // CQ waiters of all the processes
  SharedWaitQueue sq_space;  // IORING_ENTER_SQ_WAIT of a process without the SQ thread
  std::atomic<bool> ready_signalled{false};  // the ring fd's eventfd is shared too
  // IORING_REGISTER_ENABLE_RINGS done in any of the processes, and the
  // SINGLE_ISSUER submitter it chose (a thread id: unique system-wide).
  std::atomic<bool> enabled{false};
  std::atomic<pid_t> submitter_tid{0};
  std::atomic<int> holders{1};  // processes with a ring object for the ring
  RemoteCancel cancel;
  // The processes whose server answers RemoteCancel (a slot is cleared at
  // its ring object's teardown, or found dead by an asker).
  static constexpr int kMaxServers = 64;
  std::atomic<pid_t> servers[kMaxServers];
};

// A cancel asked of the other processes: ASYNC_CANCEL's or SYNC_CANCEL's
// match, with CANCEL_FD naming a descriptor of the asking process (a fixed
// slot is sent as the descriptor it holds).
struct CancelAsk {
  std::uint64_t data = 0;
  std::uint32_t flags = 0;
  std::uint8_t opcode = 0;
  int fd = -1;
};

struct IoRingCtx;
struct ShareServer;  // ring_share.cpp: this process's answerer of RemoteCancel

// Whether another process than this one answers requests on `sh` now.
bool ring_share_others_serve(RingShared* sh);

// The shared page of `ctx`, null for a ring that no fork has shared (read
// under uring_lock or completion_lock, the value is the one the fork set).
RingShared* ring_shared(IoRingCtx* ctx);
// Called at every ring's setup: from then on a fork shares the process's
// rings with the child.
void ring_share_at_setup();
// The child's ring object for its parent's `parent` (which the fork shared;
// null if it did not), one per ring whatever the number of descriptors.
IoRingCtx* ring_share_child(IoRingCtx* parent);
// Adopts an ENABLE_RINGS done by another process; cheap when not shared.
void ring_share_sync(IoRingCtx* ctx);
// At the start of the ring's teardown: no other process's request is
// answered from now on (the server posts adopted timeouts' CQEs).
void ring_share_stop(IoRingCtx* ctx);
// Before an exec: this process's requests on rings it shares with others
// are cancelled, as the kernel's exec cancels a task's requests.
void ring_share_before_exec();
// Unmaps the shared page at the ring's teardown.
void ring_share_release(IoRingCtx* ctx);
// Wakes this process's CQ waiters, and with a shared ring every process's.
void cq_wake(IoRingCtx* ctx);
// A cancel's search in the other processes holding a shared ring (a
// descriptor is matched by the open file it names, as the kernel compares
// struct files): -ENOENT or the match's answer, with ALL/ANY the number
// cancelled. Blocks until they answer (at most a second, for a process
// stopped or killed meanwhile).
int ring_share_cancel(IoRingCtx* ctx, const CancelAsk& ask);

}  // namespace iostack::uring
