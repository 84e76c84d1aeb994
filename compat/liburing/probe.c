/* Opcode probing and the memlock estimate of liburing 2.3, answered by the
 * iostack engine (whose probe reports what it really implements). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The probe buffer liburing allocates: room for every 8-bit opcode. */
#define PROBE_OPS 256

URING_EXPORT struct io_uring_probe* io_uring_get_probe_ring(struct io_uring* ring) {
  const size_t len = sizeof(struct io_uring_probe) + PROBE_OPS * sizeof(struct io_uring_probe_op);
  struct io_uring_probe* probe = calloc(1, len);
  if (!probe) return NULL;
  if (io_uring_register_probe(ring, probe, PROBE_OPS) < 0) {
    free(probe);
    return NULL;
  }
  return probe;
}

URING_EXPORT struct io_uring_probe* io_uring_get_probe(void) {
  struct io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return NULL;
  struct io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  io_uring_queue_exit(&ring);
  return probe;
}

URING_EXPORT void io_uring_free_probe(struct io_uring_probe* probe) { free(probe); }

/* The kernel's limits on ring sizes (IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES). */
#define MAX_SQ_ENTRIES 32768u
#define MAX_CQ_ENTRIES (2 * MAX_SQ_ENTRIES)
/* What the kernel allocates before the CQEs (struct io_rings header). */
#define RINGS_HEADER 320u

static unsigned pow2_ceil(unsigned n) {
  unsigned p = 1;
  while (p < n) p <<= 1;
  return p;
}

/* Pages of a kernel allocation of `bytes`: a power-of-two page order. */
static size_t order_pages(size_t bytes, size_t page) {
  const size_t pages = (bytes + page - 1) / page;
  size_t n = 1;
  while (n < pages) n <<= 1;
  return n;
}

static size_t rings_bytes(unsigned flags, unsigned sq, unsigned cq) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t cqe = sizeof(struct io_uring_cqe) * ((flags & IORING_SETUP_CQE32) ? 2 : 1);
  const size_t sqe = sizeof(struct io_uring_sqe) + ((flags & IORING_SETUP_SQE128) ? 64 : 0);
  const size_t cq_bytes = (cqe * cq + RINGS_HEADER + 63) & ~(size_t)63;
  return (order_pages(cq_bytes, page) + order_pages(sqe * sq, page)) * page;
}

URING_EXPORT ssize_t io_uring_mlock_size_params(unsigned entries, struct io_uring_params* p) {
  /* A ring reporting NATIVE_WORKERS is accounted to its cgroup, not to
   * RLIMIT_MEMLOCK: then nothing needs locking. */
  struct io_uring_params probe_params;
  struct io_uring ring;
  memset(&probe_params, 0, sizeof(probe_params));
  if (io_uring_queue_init_params(entries, &ring, &probe_params) == 0) io_uring_queue_exit(&ring);
  if (probe_params.features & IORING_FEAT_NATIVE_WORKERS) return 0;

  if (!entries) return -EINVAL;
  if (entries > MAX_SQ_ENTRIES) {
    if (!(p->flags & IORING_SETUP_CLAMP)) return -EINVAL;
    entries = MAX_SQ_ENTRIES;
  }
  entries = pow2_ceil(entries);
  unsigned cq_entries = 2 * entries;
  if (p->flags & IORING_SETUP_CQSIZE) {
    if (!p->cq_entries) return -EINVAL;
    cq_entries = p->cq_entries;
    if (cq_entries > MAX_CQ_ENTRIES) {
      if (!(p->flags & IORING_SETUP_CLAMP)) return -EINVAL;
      cq_entries = MAX_CQ_ENTRIES;
    }
    cq_entries = pow2_ceil(cq_entries);
    if (cq_entries < entries) return -EINVAL;
  }
  return (ssize_t)rings_bytes(p->flags, entries, cq_entries);
}

URING_EXPORT ssize_t io_uring_mlock_size(unsigned entries, unsigned flags) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = flags;
  return io_uring_mlock_size_params(entries, &p);
}
