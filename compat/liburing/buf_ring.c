/* The provided-buffer-ring helpers that liburing 2.4 and 2.6 made library
 * functions (programs built against newer headers call them):
 * io_uring_setup_buf_ring, io_uring_free_buf_ring (LIBURING_2.4) and
 * io_uring_buf_ring_head (LIBURING_2.6). The system's 2.3 <liburing.h>
 * does not declare them, so their prototypes are here. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#ifndef IORING_REGISTER_PBUF_STATUS
#define IORING_REGISTER_PBUF_STATUS 26
#endif

/* struct io_uring_buf_status (6.8 uapi) */
struct dropin_buf_status {
  __u32 buf_group;
  __u32 head;
  __u32 resv[8];
};

URING_EXPORT struct io_uring_buf_ring* io_uring_setup_buf_ring(struct io_uring* ring,
                                                               unsigned int nentries, int bgid,
                                                               unsigned int flags, int* err);
URING_EXPORT int io_uring_free_buf_ring(struct io_uring* ring, struct io_uring_buf_ring* br,
                                        unsigned int nentries, int bgid);
URING_EXPORT int io_uring_buf_ring_head(struct io_uring* ring, int buf_group, __u16* head);

static int reg(struct io_uring* ring, unsigned opcode, void* arg, unsigned nr) {
  return iostack_ring_register(ring, opcode, arg, nr);
}

/* Anonymous memory for the ring, registered; NULL and *err on failure. */
URING_EXPORT struct io_uring_buf_ring* io_uring_setup_buf_ring(struct io_uring* ring,
                                                               unsigned int nentries, int bgid,
                                                               unsigned int flags, int* err) {
  const size_t len = (size_t)nentries * sizeof(struct io_uring_buf);
  void* p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (p == MAP_FAILED) {
    *err = -errno;
    return NULL;
  }
  struct io_uring_buf_ring* br = p;
  struct io_uring_buf_reg r;
  memset(&r, 0, sizeof(r));
  r.ring_addr = (unsigned long)br;
  r.ring_entries = nentries;
  r.bgid = (__u16)bgid;
  /* 6.18 names the 16 bits after bgid `flags` (IOU_PBUF_RING_*). */
  r.pad = (__u16)flags;
  io_uring_buf_ring_init(br);
  const int ret = reg(ring, IORING_REGISTER_PBUF_RING, &r, 1);
  if (ret) {
    munmap(p, len ? len : 1);
    *err = ret;
    return NULL;
  }
  return br;
}

URING_EXPORT int io_uring_free_buf_ring(struct io_uring* ring, struct io_uring_buf_ring* br,
                                        unsigned int nentries, int bgid) {
  struct io_uring_buf_reg r;
  memset(&r, 0, sizeof(r));
  r.bgid = (__u16)bgid;
  const int ret = reg(ring, IORING_UNREGISTER_PBUF_RING, &r, 1);
  if (ret) return ret;
  munmap(br, (size_t)nentries * sizeof(struct io_uring_buf));
  return 0;
}

URING_EXPORT int io_uring_buf_ring_head(struct io_uring* ring, int buf_group, __u16* head) {
  struct dropin_buf_status st;
  memset(&st, 0, sizeof(st));
  st.buf_group = (__u32)buf_group;
  const int ret = reg(ring, IORING_REGISTER_PBUF_STATUS, &st, 1);
  if (ret) return ret;
  *head = (__u16)st.head;
  return 0;
}
