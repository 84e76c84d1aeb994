/* Submission and completion (liburing's queue.c) on the iostack engine.
 * The SQ/CQ ring protocol is the kernel's: SQEs are published through the
 * SQ tail, CQEs read from the mapped CQ ring; iostack_io_uring_enter is
 * called where liburing would make the io_uring_enter system call. */
#include <errno.h>
#include <signal.h>

#include "iostack/ring.h"

/* What one __io_uring_get_cqe-style call asks of the engine. */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
/* 6.18's mixed CQ ring (newer than the system's header). */
#ifndef IORING_SETUP_CQE_MIXED
#define IORING_SETUP_CQE_MIXED (1U << 18)
#endif
#ifndef IORING_CQE_F_SKIP
#define IORING_CQE_F_SKIP (1U << 5)
#endif
#ifndef IORING_CQE_F_32
#define IORING_CQE_F_32 (1U << 15)
#endif

struct cqe_wait {
  unsigned submit;     /* SQEs still to submit */
  unsigned wait_nr;    /* CQEs to wait for */
  unsigned wait_flags; /* extra enter flags when waiting (EXT_ARG) */
  int has_ts;          /* arg carries a timeout */
  void* arg;           /* sigset_t* or struct io_uring_getevents_arg* */
  size_t argsz;
};

/* Whether submitting needs an enter: always without SQPOLL; with SQPOLL
 * only to wake a poller that went to sleep. */
static int sq_needs_enter(struct io_uring* ring, unsigned submit, unsigned* flags) {
  if (!submit) return 0;
  if (!(ring->flags & IORING_SETUP_SQPOLL)) return 1;
  /* The poller must see the new tail before we read its sleep flag. */
  io_uring_smp_mb();
  if (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_NEED_WAKEUP) {
    *flags |= IORING_ENTER_SQ_WAKEUP;
    return 1;
  }
  return 0;
}

/* Overflowed CQEs or pending task work only reach the CQ ring in enter. */
static int cq_needs_flush(struct io_uring* ring) {
  return IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
}

static int cq_needs_enter(struct io_uring* ring) {
  return (ring->flags & IORING_SETUP_IOPOLL) || cq_needs_flush(ring);
}

/* This thread's enters, for iostack_ring_thread_counters. */
static __thread struct iostack_ring_counters counters;

static int ring_enter(struct io_uring* ring, unsigned submit, unsigned wait_nr, unsigned flags,
                      void* arg, size_t argsz) {
  ++counters.enters;
  if (flags & IORING_ENTER_SQ_WAKEUP) ++counters.sq_wakeups;
  /* A registered ring fd is entered by its index. */
  if (ring->int_flags & IOSTACK_RING_INT_FLAG_REG_RING) flags |= IORING_ENTER_REGISTERED_RING;
  return iostack_io_uring_enter(ring->enter_ring_fd, submit, wait_nr, flags, arg, argsz);
}

void iostack_ring_thread_counters(struct iostack_ring_counters* out) { *out = counters; }

/* Publishes the SQEs handed out by get_sqe; returns how many the engine
 * has not consumed yet. Release ordering even without SQPOLL: the engine
 * shares this address space, so its threads may read the tail. */
static unsigned flush_sq(struct io_uring* ring) {
  struct io_uring_sq* sq = &ring->sq;
  const unsigned tail = sq->sqe_tail;
  if (sq->sqe_head != tail) {
    sq->sqe_head = tail;
    io_uring_smp_store_release(sq->ktail, tail);
  }
  return tail - io_uring_smp_load_acquire(sq->khead);
}

/* __io_uring_peek_cqe of liburing 2.12: on a CQE_MIXED ring the dummy
 * entries the engine posts before the wrap (F_SKIP) are consumed here, and
 * `available` counts ring entries (a 32-byte CQE is two). */
static int peek_cqe(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, unsigned* available) {
  if (!(ring->flags & IORING_SETUP_CQE_MIXED)) return __io_uring_peek_cqe(ring, cqe_ptr, available);
  for (;;) {
    const unsigned tail = io_uring_smp_load_acquire(ring->cq.ktail);
    const unsigned head = *ring->cq.khead;
    *available = tail - head;
    *cqe_ptr = NULL;
    if (!*available) return 0;
    struct io_uring_cqe* cqe = &ring->cq.cqes[head & ring->cq.ring_mask];
    if (!(cqe->flags & IORING_CQE_F_SKIP)) {
      *cqe_ptr = cqe;
      return 0;
    }
    io_uring_cq_advance(ring, 1);
  }
}

static int get_cqe(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, struct cqe_wait* w) {
  struct io_uring_cqe* cqe = NULL;
  int entered = 0;
  int err = 0;
  for (;;) {
    unsigned flags = 0;
    unsigned available;
    int enter = 0;
    int ret = peek_cqe(ring, &cqe, &available);
    if (ret) {
      if (!err) err = ret;
      break;
    }
    if (!cqe && !w->wait_nr && !w->submit) {
      if (entered) {
        if (!err) err = -EAGAIN;
        break;
      }
      /* liburing enters here only to flush overflow or task work; iostack
       * also needs it because a GETEVENTS enter that finds the CQ empty is
       * what clears the ring fd's readiness (else poll loops spin). */
      enter = 1;
    }
    if (w->wait_nr > available || enter) {
      flags = IORING_ENTER_GETEVENTS | w->wait_flags;
      enter = 1;
    }
    if (sq_needs_enter(ring, w->submit, &flags)) enter = 1;
    if (!enter) break;
    /* With a timeout, one wait is all: a second would restart the clock. */
    if (entered && w->has_ts) {
      const struct io_uring_getevents_arg* a = w->arg;
      if (!cqe && a->ts && !err) err = -ETIME;
      break;
    }
    ret = ring_enter(ring, w->submit, w->wait_nr, flags, w->arg, w->argsz);
    if (ret < 0) {
      if (!err) err = ret;
      break;
    }
    w->submit -= (unsigned)ret;
    if (cqe) break;
    if (!entered) {
      entered = 1;
      err = ret;
    }
  }
  *cqe_ptr = cqe;
  return err;
}

int iostack_ring_get_cqe(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, unsigned submit,
                         unsigned wait_nr, sigset_t* sigmask) {
  struct cqe_wait w = {submit, wait_nr, 0, 0, sigmask, _NSIG / 8};
  return get_cqe(ring, cqe_ptr, &w);
}

int iostack_ring_get_events(struct io_uring* ring) {
  return ring_enter(ring, 0, 0, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8);
}

/* The CQEs of a CQE_MIXED ring from its head: F_SKIP entries are consumed
 * while at the head (a later one ends the batch), a 32-byte CQE takes two
 * entries. */
static unsigned peek_batch_mixed(struct io_uring* ring, struct io_uring_cqe** cqes,
                                 unsigned count) {
  const unsigned tail = io_uring_smp_load_acquire(ring->cq.ktail);
  unsigned head = *ring->cq.khead;
  unsigned nr = 0;
  while (head != tail && nr < count) {
    struct io_uring_cqe* cqe = &ring->cq.cqes[head & ring->cq.ring_mask];
    if (cqe->flags & IORING_CQE_F_SKIP) {
      if (nr) break;
      io_uring_cq_advance(ring, 1);
      head++;
      continue;
    }
    cqes[nr++] = cqe;
    head += (cqe->flags & IORING_CQE_F_32) ? 2 : 1;
  }
  return nr;
}

unsigned iostack_ring_peek_batch_cqe(struct io_uring* ring, struct io_uring_cqe** cqes,
                                     unsigned count) {
  const unsigned shift = (ring->flags & IORING_SETUP_CQE32) ? 1 : 0;
  for (int pass = 0; pass < 2; ++pass) {
    const unsigned ready = io_uring_cq_ready(ring);
    if (ready && (ring->flags & IORING_SETUP_CQE_MIXED)) {
      const unsigned nr = peek_batch_mixed(ring, cqes, count);
      if (nr) return nr;
    } else if (ready) {
      const unsigned head = *ring->cq.khead;
      if (count > ready) count = ready;
      for (unsigned i = 0; i < count; ++i)
        cqes[i] = &ring->cq.cqes[((head + i) & ring->cq.ring_mask) << shift];
      return count;
    }
    /* Nothing ready: one enter flushes overflow and, on iostack, clears
     * the ring fd's readiness (see get_cqe). */
    if (pass == 0) iostack_ring_get_events(ring);
  }
  return 0;
}

/* Without IORING_FEAT_EXT_ARG a wait with a timeout queues a TIMEOUT SQE
 * marked LIBURING_UDATA_TIMEOUT, which __io_uring_peek_cqe swallows. */
static int queue_timeout(struct io_uring* ring, unsigned wait_nr, struct __kernel_timespec* ts) {
  struct io_uring_sqe* sqe = _io_uring_get_sqe(ring);
  if (!sqe) {
    const int ret = iostack_ring_submit(ring);
    if (ret < 0) return ret;
    sqe = _io_uring_get_sqe(ring);
    if (!sqe) return -EAGAIN;
  }
  io_uring_prep_timeout(sqe, ts, wait_nr, 0);
  sqe->user_data = LIBURING_UDATA_TIMEOUT;
  return (int)flush_sq(ring);
}

static int wait_ext_arg_min(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, unsigned submit,
                            unsigned wait_nr, struct __kernel_timespec* ts, unsigned min_wait_usec,
                            sigset_t* sigmask) {
  struct io_uring_getevents_arg arg = {0};
  arg.sigmask = (unsigned long)sigmask;
  arg.sigmask_sz = _NSIG / 8;
  arg.pad = min_wait_usec; /* min_wait_usec in newer headers */
  arg.ts = (unsigned long)ts;
  struct cqe_wait w = {submit, wait_nr, IORING_ENTER_EXT_ARG, ts != NULL, &arg, sizeof(arg)};
  return get_cqe(ring, cqe_ptr, &w);
}

static int wait_ext_arg(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, unsigned submit,
                        unsigned wait_nr, struct __kernel_timespec* ts, sigset_t* sigmask) {
  return wait_ext_arg_min(ring, cqe_ptr, submit, wait_nr, ts, 0, sigmask);
}

int iostack_ring_wait_min_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, int submit,
                                  unsigned wait_nr, struct __kernel_timespec* ts,
                                  unsigned min_wait_usec, sigset_t* sigmask) {
  if (!(ring->features & IORING_FEAT_MIN_TIMEOUT)) min_wait_usec = 0;
  return wait_ext_arg_min(ring, cqe_ptr, submit ? flush_sq(ring) : 0, wait_nr, ts, min_wait_usec,
                          sigmask);
}

int iostack_ring_wait_cqes(struct io_uring* ring, struct io_uring_cqe** cqe_ptr, unsigned wait_nr,
                           struct __kernel_timespec* ts, sigset_t* sigmask) {
  int to_submit = 0;
  if (ts) {
    if (ring->features & IORING_FEAT_EXT_ARG)
      return wait_ext_arg(ring, cqe_ptr, 0, wait_nr, ts, sigmask);
    to_submit = queue_timeout(ring, wait_nr, ts);
    if (to_submit < 0) return to_submit;
  }
  return iostack_ring_get_cqe(ring, cqe_ptr, (unsigned)to_submit, wait_nr, sigmask);
}

int iostack_ring_submit_and_wait_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                         unsigned wait_nr, struct __kernel_timespec* ts,
                                         sigset_t* sigmask) {
  int to_submit;
  if (ts) {
    if (ring->features & IORING_FEAT_EXT_ARG)
      return wait_ext_arg(ring, cqe_ptr, flush_sq(ring), wait_nr, ts, sigmask);
    to_submit = queue_timeout(ring, wait_nr, ts);
    if (to_submit < 0) return to_submit;
  } else {
    to_submit = (int)flush_sq(ring);
  }
  return iostack_ring_get_cqe(ring, cqe_ptr, (unsigned)to_submit, wait_nr, sigmask);
}

int iostack_ring_wait_cqe_timeout(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                  struct __kernel_timespec* ts) {
  return iostack_ring_wait_cqes(ring, cqe_ptr, 1, ts, NULL);
}

static int submit(struct io_uring* ring, unsigned wait_nr, int getevents) {
  const unsigned submitted = flush_sq(ring);
  unsigned flags = 0;
  const int sq_enter = sq_needs_enter(ring, submitted, &flags);
  const int cq_enter = getevents || wait_nr || cq_needs_enter(ring);
  if (!sq_enter && !cq_enter) return (int)submitted;
  if (cq_enter) flags |= IORING_ENTER_GETEVENTS;
  return ring_enter(ring, submitted, wait_nr, flags, NULL, _NSIG / 8);
}

int iostack_ring_submit(struct io_uring* ring) { return submit(ring, 0, 0); }

int iostack_ring_submit_and_wait(struct io_uring* ring, unsigned wait_nr) {
  return submit(ring, wait_nr, 0);
}

int iostack_ring_submit_and_get_events(struct io_uring* ring) { return submit(ring, 0, 1); }

struct io_uring_sqe* iostack_ring_get_sqe(struct io_uring* ring) {
  return _io_uring_get_sqe(ring);
}

int iostack_ring_sqring_wait(struct io_uring* ring) {
  return ring_enter(ring, 0, 0, IORING_ENTER_SQ_WAIT, NULL, _NSIG / 8);
}
