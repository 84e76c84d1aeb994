/* Ring setup and teardown (liburing's setup.c): the rings come from
 * iostack_io_uring_setup and are mapped with iostack_io_uring_mmap at the
 * kernel's offsets, and struct io_uring is filled from the offsets the
 * engine reports, exactly as liburing fills it from the kernel's. Also the
 * registered ring fd, which teardown gives back, and io_uring_resize_rings,
 * which maps the new rings. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iostack/ring.h"

/* Setup flags the system's 6.1 <linux/io_uring.h> lacks (6.5, 6.6). */
#define DROPIN_SETUP_NO_MMAP (1U << 14)
#define DROPIN_SETUP_REGISTERED_FD_ONLY (1U << 15)
#define DROPIN_SETUP_NO_SQARRAY (1U << 16)
#define DROPIN_REGISTER_RESIZE_RINGS 33 /* 6.13 */

static size_t sqe_size(unsigned setup_flags) {
  return sizeof(struct io_uring_sqe) + ((setup_flags & IORING_SETUP_SQE128) ? 64 : 0);
}

static size_t cqe_size(unsigned setup_flags) {
  return sizeof(struct io_uring_cqe) * ((setup_flags & IORING_SETUP_CQE32) ? 2 : 1);
}

static void unmap_rings(struct io_uring_sq* sq, struct io_uring_cq* cq) {
  if (sq->ring_ptr) iostack_io_uring_munmap(sq->ring_ptr, sq->ring_sz);
  if (cq->ring_ptr && cq->ring_ptr != sq->ring_ptr)
    iostack_io_uring_munmap(cq->ring_ptr, cq->ring_sz);
}

static void* map_region(int fd, off_t offset, size_t len, int* err) {
  void* p = iostack_io_uring_mmap(fd, offset, len);
  if (IOSTACK_URING_IS_ERR(p)) {
    *err = (int)(long)p;
    return NULL;
  }
  return p;
}

/* Pointers into a mapped region at the offsets the engine reported. */
#define AT(base, off) ((void*)((char*)(base) + (off)))

/* io_uring_setup_ring_pointers: the ring fields at the offsets the engine
 * reported, from the rings' base. */
static void setup_ring_pointers(const struct io_uring_params* p, struct io_uring_sq* sq,
                                struct io_uring_cq* cq) {
  sq->khead = AT(sq->ring_ptr, p->sq_off.head);
  sq->ktail = AT(sq->ring_ptr, p->sq_off.tail);
  sq->kring_mask = AT(sq->ring_ptr, p->sq_off.ring_mask);
  sq->kring_entries = AT(sq->ring_ptr, p->sq_off.ring_entries);
  sq->kflags = AT(sq->ring_ptr, p->sq_off.flags);
  sq->kdropped = AT(sq->ring_ptr, p->sq_off.dropped);
  if (!(p->flags & DROPIN_SETUP_NO_SQARRAY)) sq->array = AT(sq->ring_ptr, p->sq_off.array);

  cq->khead = AT(cq->ring_ptr, p->cq_off.head);
  cq->ktail = AT(cq->ring_ptr, p->cq_off.tail);
  cq->kring_mask = AT(cq->ring_ptr, p->cq_off.ring_mask);
  cq->kring_entries = AT(cq->ring_ptr, p->cq_off.ring_entries);
  cq->koverflow = AT(cq->ring_ptr, p->cq_off.overflow);
  cq->cqes = AT(cq->ring_ptr, p->cq_off.cqes);
  /* Kernels before 5.8 had no CQ flags word and reported offset 0. */
  if (p->cq_off.flags) cq->kflags = AT(cq->ring_ptr, p->cq_off.flags);

  sq->ring_mask = *sq->kring_mask;
  sq->ring_entries = *sq->kring_entries;
  cq->ring_mask = *cq->kring_mask;
  cq->ring_entries = *cq->kring_entries;
}

static int map_rings(int fd, const struct io_uring_params* p, struct io_uring_sq* sq,
                     struct io_uring_cq* cq) {
  int err = 0;
  sq->ring_sz = p->sq_off.array + p->sq_entries * sizeof(unsigned);
  cq->ring_sz = p->cq_off.cqes + p->cq_entries * cqe_size(p->flags);
  /* One mapping serves both rings: size it for the larger. */
  if (p->features & IORING_FEAT_SINGLE_MMAP) {
    if (cq->ring_sz > sq->ring_sz) sq->ring_sz = cq->ring_sz;
    cq->ring_sz = sq->ring_sz;
  }
  sq->ring_ptr = map_region(fd, IORING_OFF_SQ_RING, sq->ring_sz, &err);
  if (!sq->ring_ptr) return err;
  if (p->features & IORING_FEAT_SINGLE_MMAP) {
    cq->ring_ptr = sq->ring_ptr;
  } else {
    cq->ring_ptr = map_region(fd, IORING_OFF_CQ_RING, cq->ring_sz, &err);
    if (!cq->ring_ptr) {
      unmap_rings(sq, cq);
      return err;
    }
  }
  sq->sqes = map_region(fd, IORING_OFF_SQES, sqe_size(p->flags) * p->sq_entries, &err);
  if (!sq->sqes) {
    unmap_rings(sq, cq);
    return err;
  }
  setup_ring_pointers(p, sq, cq);
  return 0;
}

static unsigned roundup_pow2(unsigned v) {
  unsigned r = 1;
  while (r < v) r <<= 1;
  return r;
}

/* get_sq_cq_entries: the ring sizes setup will pick, for sizing the memory
 * of a NO_MMAP ring before the call. */
static int sq_cq_entries(unsigned entries, const struct io_uring_params* p, unsigned* sq,
                         unsigned* cq) {
  if (!entries) return -EINVAL;
  if (entries > 32768) {
    if (!(p->flags & IORING_SETUP_CLAMP)) return -EINVAL;
    entries = 32768;
  }
  entries = roundup_pow2(entries);
  unsigned cq_entries = 2 * entries;
  if (p->flags & IORING_SETUP_CQSIZE) {
    if (!p->cq_entries) return -EINVAL;
    cq_entries = p->cq_entries;
    if (cq_entries > 65536) {
      if (!(p->flags & IORING_SETUP_CLAMP)) return -EINVAL;
      cq_entries = 65536;
    }
    cq_entries = roundup_pow2(cq_entries);
    if (cq_entries < entries) return -EINVAL;
  }
  *sq = entries;
  *cq = cq_entries;
  return 0;
}

/* The memory of a NO_MMAP ring, laid out as liburing's io_uring_alloc_huge
 * lays it out: the SQEs (and room for the SQ array) first, page aligned,
 * then the rings. In `buf` when given (-ENOMEM when it is too small), else
 * in one anonymous mapping of the library's. The bytes used, or -errno. */
static long user_ring_memory(unsigned entries, struct io_uring_params* p, struct io_uring* ring,
                             void* buf, size_t buf_size) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  unsigned sq_entries, cq_entries;
  int ret = sq_cq_entries(entries, p, &sq_entries, &cq_entries);
  if (ret) return ret;
  size_t sqes_mem = sq_entries * sqe_size(p->flags);
  if (!(p->flags & DROPIN_SETUP_NO_SQARRAY)) sqes_mem += sq_entries * sizeof(unsigned);
  sqes_mem = (sqes_mem + page - 1) & ~(page - 1);
  const size_t ring_mem = 64 + sqes_mem + cq_entries * cqe_size(p->flags);
  const size_t used = (ring_mem + page - 1) & ~(page - 1);
  char* base = buf;
  if (buf) {
    if (used > buf_size) return -ENOMEM;
  } else {
    void* m = mmap(NULL, used, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -errno;
    base = m;
    ring->sq.ring_sz = used; /* what teardown unmaps */
    ring->int_flags &= (__u8)~IOSTACK_RING_INT_FLAG_APP_MEM;
  }
  if (buf) ring->int_flags |= IOSTACK_RING_INT_FLAG_APP_MEM;
  ring->sq.sqes = (struct io_uring_sqe*)base;
  ring->sq.ring_ptr = base + sqes_mem;
  ring->cq.ring_ptr = ring->sq.ring_ptr;
  p->sq_off.resv2 = (__u64)(uintptr_t)ring->sq.sqes;
  p->cq_off.resv2 = (__u64)(uintptr_t)ring->sq.ring_ptr;
  return (long)used;
}

static void free_user_ring_memory(struct io_uring* ring) {
  if (!(ring->int_flags & IOSTACK_RING_INT_FLAG_APP_MEM) && ring->sq.ring_sz)
    munmap(ring->sq.sqes, ring->sq.ring_sz);
}

int iostack_ring_queue_mmap(int fd, struct io_uring_params* p, struct io_uring* ring) {
  memset(ring, 0, sizeof(*ring));
  const int ret = map_rings(fd, p, &ring->sq, &ring->cq);
  if (ret) return ret;
  ring->flags = p->flags;
  ring->ring_fd = fd;
  ring->enter_ring_fd = fd;
  ring->int_flags = 0;
  return 0;
}

/* Ring fds made here are iostack's; anything else is an ordinary fd. */
static void close_ring(int fd) {
  const int saved = errno;
  if (iostack_io_uring_close(fd) == -EBADF) close(fd);
  errno = saved;
}

/* __io_uring_queue_init_params: setup, then the rings mapped (or, with
 * NO_MMAP, found in the memory given). The bytes of `buf` used, or -errno. */
static long setup_ring(unsigned entries, struct io_uring* ring, struct io_uring_params* p,
                       void* buf, size_t buf_size) {
  long used = 0;
  memset(ring, 0, sizeof(*ring));
  if (p->flags & DROPIN_SETUP_NO_MMAP) {
    used = user_ring_memory(entries, p, ring, buf, buf_size);
    if (used < 0) return used;
  }
  const int fd = iostack_io_uring_setup(entries, p);
  if (fd < 0) {
    if (p->flags & DROPIN_SETUP_NO_MMAP) free_user_ring_memory(ring);
    return fd;
  }
  if (p->flags & DROPIN_SETUP_NO_MMAP) {
    setup_ring_pointers(p, &ring->sq, &ring->cq);
    ring->flags = p->flags;
    ring->ring_fd = fd;
    ring->enter_ring_fd = fd;
    /* REGISTERED_FD_ONLY: `fd` is the index of a registered ring. */
    if (p->flags & DROPIN_SETUP_REGISTERED_FD_ONLY) {
      ring->ring_fd = -1;
      ring->int_flags |= IOSTACK_RING_INT_FLAG_REG_RING | IOSTACK_RING_INT_FLAG_REG_REG_RING;
    }
  } else {
    const int ret = iostack_ring_queue_mmap(fd, p, ring);
    if (ret) {
      close_ring(fd);
      return ret;
    }
  }
  /* SQ slot i always names SQE i: get_sqe hands out SQEs in ring order. */
  if (!(p->flags & DROPIN_SETUP_NO_SQARRAY))
    for (unsigned i = 0; i < ring->sq.ring_entries; ++i) ring->sq.array[i] = i;
  ring->features = p->features;
  return used;
}

int iostack_ring_queue_init_params(unsigned entries, struct io_uring* ring,
                                   struct io_uring_params* p) {
  const long ret = setup_ring(entries, ring, p, NULL, 0);
  return ret < 0 ? (int)ret : 0;
}

int iostack_ring_queue_init_mem(unsigned entries, struct io_uring* ring, struct io_uring_params* p,
                                void* buf, size_t buf_size) {
  p->flags |= DROPIN_SETUP_NO_MMAP;
  return (int)setup_ring(entries, ring, p, buf, buf_size);
}

int iostack_ring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = flags;
  return iostack_ring_queue_init_params(entries, ring, &p);
}

void iostack_ring_queue_exit(struct io_uring* ring) {
  struct io_uring_sq* sq = &ring->sq;
  if (ring->flags & DROPIN_SETUP_NO_MMAP) {
    free_user_ring_memory(ring);
  } else {
    iostack_io_uring_munmap(sq->sqes, sqe_size(ring->flags) * sq->ring_entries);
    unmap_rings(sq, &ring->cq);
  }
  /* Frees the registered slot now rather than when the thread exits. */
  if (ring->int_flags & IOSTACK_RING_INT_FLAG_REG_RING) iostack_ring_unregister_ring_fd(ring);
  if (ring->ring_fd != -1) close_ring(ring->ring_fd);
}

/* madvise(MADV_DONTFORK) as -errno, leaving errno as liburing's raw system
 * call would. */
static int dontfork(void* addr, size_t len) {
  const int saved = errno;
  int ret = madvise(addr, len, MADV_DONTFORK) ? -errno : 0;
  errno = saved;
  return ret;
}

int iostack_ring_dontfork(struct io_uring* ring) {
  int ret;
  if (!ring->sq.ring_ptr || !ring->sq.sqes || !ring->cq.ring_ptr) return -EINVAL;
  ret = dontfork(ring->sq.sqes, sqe_size(ring->flags) * ring->sq.ring_entries);
  if (!ret) ret = dontfork(ring->sq.ring_ptr, ring->sq.ring_sz);
  if (!ret && ring->cq.ring_ptr != ring->sq.ring_ptr)
    ret = dontfork(ring->cq.ring_ptr, ring->cq.ring_sz);
  return ret;
}

/* Where the engine puts the SQ array of rings of these sizes (rings_size):
 * after the CQEs, 64-byte aligned, the whole of io_rings doubled for
 * CQE32. A resize does not report it (6.18 does not either). */
static unsigned sq_array_offset(const struct io_uring_params* p) {
  size_t off = 64 + (size_t)p->cq_entries * sizeof(struct io_uring_cqe);
  if (p->flags & IORING_SETUP_CQE32) off *= 2;
  return (unsigned)((off + 63) & ~(size_t)63);
}

int iostack_ring_resize_rings(struct io_uring* ring, struct io_uring_params* p) {
  if (ring->flags & DROPIN_SETUP_NO_MMAP) return -EINVAL;
  memset(&p->sq_off, 0, sizeof(p->sq_off));
  memset(&p->cq_off, 0, sizeof(p->cq_off));
  int ret = iostack_ring_register(ring, DROPIN_REGISTER_RESIZE_RINGS, p, 1);
  if (ret >= 0) {
    /* The new rings replace the old mappings; SQEs handed out but not
     * submitted stay handed out (the engine moved them). */
    struct io_uring_params m = *p;
    struct io_uring_sq sq;
    struct io_uring_cq cq;
    m.features = ring->features;
    if (!(m.flags & DROPIN_SETUP_NO_SQARRAY)) m.sq_off.array = sq_array_offset(&m);
    memset(&sq, 0, sizeof(sq));
    memset(&cq, 0, sizeof(cq));
    /* Mapped before the old go, so a failure leaves the ring as it was. */
    ret = map_rings(ring->ring_fd, &m, &sq, &cq);
    if (!ret) {
      sq.sqe_head = ring->sq.sqe_head;
      sq.sqe_tail = ring->sq.sqe_tail;
      iostack_io_uring_munmap(ring->sq.sqes, sqe_size(ring->flags) * ring->sq.ring_entries);
      unmap_rings(&ring->sq, &ring->cq);
      ring->sq = sq;
      ring->cq = cq;
      if (!(m.flags & DROPIN_SETUP_NO_SQARRAY))
        for (unsigned i = 0; i < ring->sq.ring_entries; ++i) ring->sq.array[i] = i;
    }
  }
  p->flags = 0; /* liburing leaves the params ready for another call */
  return ret;
}

int iostack_ring_register_ring_fd(struct io_uring* ring) {
  if (ring->int_flags & IOSTACK_RING_INT_FLAG_REG_RING) return -EEXIST;
  struct io_uring_rsrc_update up;
  memset(&up, 0, sizeof(up));
  up.offset = -1U; /* any free slot */
  up.data = (__u64)ring->ring_fd;
  const int ret = iostack_ring_register(ring, IORING_REGISTER_RING_FDS, &up, 1);
  if (ret == 1) {
    ring->enter_ring_fd = (int)up.offset;
    ring->int_flags |= IOSTACK_RING_INT_FLAG_REG_RING;
    if (ring->features & IORING_FEAT_REG_REG_RING)
      ring->int_flags |= IOSTACK_RING_INT_FLAG_REG_REG_RING;
  }
  return ret;
}

int iostack_ring_unregister_ring_fd(struct io_uring* ring) {
  struct io_uring_rsrc_update up;
  memset(&up, 0, sizeof(up));
  up.offset = (__u32)ring->enter_ring_fd;
  const int ret = iostack_ring_register(ring, IORING_UNREGISTER_RING_FDS, &up, 1);
  if (ret == 1) {
    ring->enter_ring_fd = ring->ring_fd;
    ring->int_flags &=
        (__u8) ~(IOSTACK_RING_INT_FLAG_REG_RING | IOSTACK_RING_INT_FLAG_REG_REG_RING);
  }
  return ret;
}

int iostack_ring_close_ring_fd(struct io_uring* ring) {
  if (!(ring->features & IORING_FEAT_REG_REG_RING)) return -EOPNOTSUPP;
  if (!(ring->int_flags & IOSTACK_RING_INT_FLAG_REG_RING)) return -EINVAL;
  if (ring->ring_fd == -1) return -EBADF;
  close_ring(ring->ring_fd);
  ring->ring_fd = -1;
  return 1;
}

int iostack_ring_register(struct io_uring* ring, unsigned opcode, const void* arg, unsigned nr) {
  int fd = ring->ring_fd;
  if (ring->int_flags & IOSTACK_RING_INT_FLAG_REG_REG_RING) {
    opcode |= IORING_REGISTER_USE_REGISTERED_RING;
    fd = ring->enter_ring_fd;
  }
  return iostack_io_uring_register(fd, opcode, (void*)arg, nr);
}
