/* Library functions of liburing 2.4 to 2.9 (programs built against newer
 * headers link to them by their symbol versions). The system's 2.3
 * <liburing.h> does not declare them, so their prototypes and the uapi
 * constants they need are here. Where the engine lacks the kernel feature
 * (NAPI, ring resizing, registered regions and wait arguments), the answer is the kernel's for a
 * feature it does not know: -EINVAL, through the same calls liburing makes. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"

#define DROPIN_MAJOR 2
#define DROPIN_MINOR 9

#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#define DROPIN_ENTER_EXT_ARG_REG (1U << 6)
#define DROPIN_REGISTER_NAPI 27
#define DROPIN_UNREGISTER_NAPI 28
#define DROPIN_REGISTER_CLOCK 29
#define DROPIN_REGISTER_CLONE_BUFFERS 30
#define DROPIN_REGISTER_MEM_REGION 34
#define DROPIN_REGISTER_SRC_REGISTERED 1U
/* sizeof(struct io_uring_reg_wait) */
#define DROPIN_REG_WAIT_SIZE 64

/* Passed through by pointer only. */
struct io_uring_napi;
struct io_uring_clock_register;
struct io_uring_mem_region_reg;
struct io_uring_reg_wait;

/* struct io_uring_clone_buffers (6.12 uapi) */
struct dropin_clone_buffers {
  __u32 src_fd;
  __u32 flags;
  __u32 src_off;
  __u32 dst_off;
  __u32 nr;
  __u32 pad[3];
};

URING_EXPORT int io_uring_major_version(void);
URING_EXPORT int io_uring_minor_version(void);
URING_EXPORT bool io_uring_check_version(int major, int minor);
URING_EXPORT int io_uring_close_ring_fd(struct io_uring* ring);
URING_EXPORT int io_uring_enable_rings(struct io_uring* ring);
URING_EXPORT int io_uring_register_restrictions(struct io_uring* ring,
                                                struct io_uring_restriction* res, unsigned nr_res);
URING_EXPORT int io_uring_queue_init_mem(unsigned entries, struct io_uring* ring,
                                         struct io_uring_params* p, void* buf, size_t buf_size);
URING_EXPORT int io_uring_register_napi(struct io_uring* ring, struct io_uring_napi* napi);
URING_EXPORT int io_uring_unregister_napi(struct io_uring* ring, struct io_uring_napi* napi);
URING_EXPORT int io_uring_register_clock(struct io_uring* ring,
                                         struct io_uring_clock_register* arg);
URING_EXPORT int io_uring_submit_and_wait_min_timeout(struct io_uring* ring,
                                                      struct io_uring_cqe** cqe_ptr,
                                                      unsigned wait_nr,
                                                      struct __kernel_timespec* ts,
                                                      unsigned min_wait, sigset_t* sigmask);
URING_EXPORT int io_uring_wait_cqes_min_timeout(struct io_uring* ring,
                                                struct io_uring_cqe** cqe_ptr, unsigned wait_nr,
                                                struct __kernel_timespec* ts,
                                                unsigned min_wait_usec, sigset_t* sigmask);
URING_EXPORT int io_uring_clone_buffers_offset(struct io_uring* dst, struct io_uring* src,
                                               unsigned dst_off, unsigned src_off, unsigned nr,
                                               unsigned flags);
URING_EXPORT int io_uring_clone_buffers(struct io_uring* dst, struct io_uring* src);
URING_EXPORT int io_uring_resize_rings(struct io_uring* ring, struct io_uring_params* p);
URING_EXPORT int io_uring_register_wait_reg(struct io_uring* ring, struct io_uring_reg_wait* reg,
                                            int nr);
URING_EXPORT int io_uring_register_region(struct io_uring* ring,
                                          struct io_uring_mem_region_reg* reg);
URING_EXPORT int io_uring_submit_and_wait_reg(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                              unsigned wait_nr, int reg_index);

/* --- LIBURING_2.4 --- */

URING_EXPORT int io_uring_major_version(void) { return DROPIN_MAJOR; }
URING_EXPORT int io_uring_minor_version(void) { return DROPIN_MINOR; }

/* True when the caller needs a newer library than this one. */
URING_EXPORT bool io_uring_check_version(int major, int minor) {
  return major > DROPIN_MAJOR || (major == DROPIN_MAJOR && minor > DROPIN_MINOR);
}

URING_EXPORT int io_uring_close_ring_fd(struct io_uring* ring) {
  return iostack_ring_close_ring_fd(ring);
}

URING_EXPORT int io_uring_enable_rings(struct io_uring* ring) {
  return iostack_ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

URING_EXPORT int io_uring_register_restrictions(struct io_uring* ring,
                                                struct io_uring_restriction* res, unsigned nr_res) {
  return iostack_ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, nr_res);
}

/* --- LIBURING_2.5 --- */

/* The rings in the caller's memory (IORING_SETUP_NO_MMAP): the bytes of
 * `buf` used, as liburing answers. */
URING_EXPORT int io_uring_queue_init_mem(unsigned entries, struct io_uring* ring,
                                         struct io_uring_params* p, void* buf, size_t buf_size) {
  return iostack_ring_queue_init_mem(entries, ring, p, buf, buf_size);
}

/* --- LIBURING_2.6 --- */

URING_EXPORT int io_uring_register_napi(struct io_uring* ring, struct io_uring_napi* napi) {
  return iostack_ring_register(ring, DROPIN_REGISTER_NAPI, napi, 1);
}

URING_EXPORT int io_uring_unregister_napi(struct io_uring* ring, struct io_uring_napi* napi) {
  return iostack_ring_register(ring, DROPIN_UNREGISTER_NAPI, napi, 1);
}

/* --- LIBURING_2.8 --- */

URING_EXPORT int io_uring_register_clock(struct io_uring* ring,
                                         struct io_uring_clock_register* arg) {
  return iostack_ring_register(ring, DROPIN_REGISTER_CLOCK, arg, 0);
}

URING_EXPORT int io_uring_submit_and_wait_min_timeout(struct io_uring* ring,
                                                      struct io_uring_cqe** cqe_ptr,
                                                      unsigned wait_nr,
                                                      struct __kernel_timespec* ts,
                                                      unsigned min_wait, sigset_t* sigmask) {
  if (!(ring->features & IORING_FEAT_MIN_TIMEOUT)) return -EINVAL;
  if (!ts) return iostack_ring_submit_and_wait_timeout(ring, cqe_ptr, wait_nr, ts, sigmask);
  return iostack_ring_wait_min_timeout(ring, cqe_ptr, 1, wait_nr, ts, min_wait, sigmask);
}

/* The minimum wait rides in the wait argument, left out where the ring has
 * no IORING_FEAT_MIN_TIMEOUT, as liburing does. */
URING_EXPORT int io_uring_wait_cqes_min_timeout(struct io_uring* ring,
                                                struct io_uring_cqe** cqe_ptr, unsigned wait_nr,
                                                struct __kernel_timespec* ts,
                                                unsigned min_wait_usec, sigset_t* sigmask) {
  return iostack_ring_wait_min_timeout(ring, cqe_ptr, 0, wait_nr, ts, min_wait_usec, sigmask);
}

URING_EXPORT int io_uring_clone_buffers(struct io_uring* dst, struct io_uring* src) {
  return io_uring_clone_buffers_offset(dst, src, 0, 0, 0, 0);
}

/* --- LIBURING_2.9 --- */

URING_EXPORT int io_uring_clone_buffers_offset(struct io_uring* dst, struct io_uring* src,
                                               unsigned dst_off, unsigned src_off, unsigned nr,
                                               unsigned flags) {
  struct dropin_clone_buffers buf;
  memset(&buf, 0, sizeof(buf));
  buf.src_fd = (__u32)src->ring_fd;
  buf.flags = flags;
  buf.src_off = src_off;
  buf.dst_off = dst_off;
  buf.nr = nr;
  if (src->int_flags & IOSTACK_RING_INT_FLAG_REG_REG_RING) {
    buf.src_fd = (__u32)src->enter_ring_fd;
    buf.flags |= DROPIN_REGISTER_SRC_REGISTERED;
  }
  return iostack_ring_register(dst, DROPIN_REGISTER_CLONE_BUFFERS, &buf, 1);
}

URING_EXPORT int io_uring_resize_rings(struct io_uring* ring, struct io_uring_params* p) {
  return iostack_ring_resize_rings(ring, p);
}

/* liburing 2.9 answers this itself. */
URING_EXPORT int io_uring_register_wait_reg(struct io_uring* ring, struct io_uring_reg_wait* reg,
                                            int nr) {
  (void)ring;
  (void)reg;
  (void)nr;
  return -EINVAL;
}

URING_EXPORT int io_uring_register_region(struct io_uring* ring,
                                          struct io_uring_mem_region_reg* reg) {
  return iostack_ring_register(ring, DROPIN_REGISTER_MEM_REGION, reg, 1);
}

/* Submits, then waits with the wait argument at `reg_index` of the region
 * registered with IORING_MEM_REGION_REG_WAIT_ARG (IORING_ENTER_EXT_ARG_REG). */
URING_EXPORT int io_uring_submit_and_wait_reg(struct io_uring* ring, struct io_uring_cqe** cqe_ptr,
                                              unsigned wait_nr, int reg_index) {
  const int submitted = iostack_ring_submit(ring);
  if (submitted < 0) return submitted;
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | DROPIN_ENTER_EXT_ARG_REG;
  if (ring->int_flags & IOSTACK_RING_INT_FLAG_REG_RING) flags |= IORING_ENTER_REGISTERED_RING;
  const unsigned long offset = (unsigned long)reg_index * DROPIN_REG_WAIT_SIZE;
  const int ret = iostack_io_uring_enter(ring->enter_ring_fd, 0, wait_nr, flags, (void*)offset,
                                         DROPIN_REG_WAIT_SIZE);
  if (ret < 0) return ret;
  return iostack_ring_wait_cqes(ring, cqe_ptr, 0, NULL, NULL);
}
