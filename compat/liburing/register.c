/* io_uring_register(2) wrappers of liburing 2.3 (its register.c). Each packs
 * its arguments the way the kernel expects and calls the iostack engine;
 * opcodes the engine does not implement answer -EINVAL, as an older kernel
 * would. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"

static int reg(struct io_uring* ring, unsigned opcode, const void* arg, unsigned nr) {
  return iostack_ring_register(ring, opcode, arg, nr);
}

/* For wrappers that report only success or failure. */
static int reg0(struct io_uring* ring, unsigned opcode, const void* arg, unsigned nr) {
  const int ret = reg(ring, opcode, arg, nr);
  return ret < 0 ? ret : 0;
}

static __u64 uptr(const void* p) { return (__u64)(unsigned long)p; }

/* liburing raises RLIMIT_NOFILE once when registering files hits EMFILE. */
static void raise_nofile(unsigned nr) {
  struct rlimit rl;
  const int saved = errno;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nr) {
    rl.rlim_cur += nr;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  errno = saved;
}

static int reg_files_retry(struct io_uring* ring, unsigned opcode, const void* arg, unsigned nr,
                           unsigned nr_files) {
  int ret = reg(ring, opcode, arg, nr);
  if (ret == -EMFILE) {
    raise_nofile(nr_files);
    ret = reg(ring, opcode, arg, nr);
  }
  return ret;
}

/* --- buffers --- */

URING_EXPORT int io_uring_register_buffers(struct io_uring* ring, const struct iovec* iovecs,
                                           unsigned nr_iovecs) {
  return reg0(ring, IORING_REGISTER_BUFFERS, iovecs, nr_iovecs);
}

URING_EXPORT int io_uring_register_buffers_tags(struct io_uring* ring, const struct iovec* iovecs,
                                                const __u64* tags, unsigned nr) {
  struct io_uring_rsrc_register r;
  memset(&r, 0, sizeof(r));
  r.nr = nr;
  r.data = uptr(iovecs);
  r.tags = uptr(tags);
  return reg(ring, IORING_REGISTER_BUFFERS2, &r, sizeof(r));
}

URING_EXPORT int io_uring_register_buffers_sparse(struct io_uring* ring, unsigned nr) {
  struct io_uring_rsrc_register r;
  memset(&r, 0, sizeof(r));
  r.flags = IORING_RSRC_REGISTER_SPARSE;
  r.nr = nr;
  return reg(ring, IORING_REGISTER_BUFFERS2, &r, sizeof(r));
}

URING_EXPORT int io_uring_register_buffers_update_tag(struct io_uring* ring, unsigned off,
                                                      const struct iovec* iovecs, const __u64* tags,
                                                      unsigned nr) {
  struct io_uring_rsrc_update2 up;
  memset(&up, 0, sizeof(up));
  up.offset = off;
  up.data = uptr(iovecs);
  up.tags = uptr(tags);
  up.nr = nr;
  return reg(ring, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));
}

URING_EXPORT int io_uring_unregister_buffers(struct io_uring* ring) {
  return reg0(ring, IORING_UNREGISTER_BUFFERS, NULL, 0);
}

/* --- files --- */

URING_EXPORT int io_uring_register_files(struct io_uring* ring, const int* files,
                                         unsigned nr_files) {
  return reg_files_retry(ring, IORING_REGISTER_FILES, files, nr_files, nr_files);
}

URING_EXPORT int io_uring_register_files_tags(struct io_uring* ring, const int* files,
                                              const __u64* tags, unsigned nr) {
  struct io_uring_rsrc_register r;
  memset(&r, 0, sizeof(r));
  r.nr = nr;
  r.data = uptr(files);
  r.tags = uptr(tags);
  return reg_files_retry(ring, IORING_REGISTER_FILES2, &r, sizeof(r), nr);
}

URING_EXPORT int io_uring_register_files_sparse(struct io_uring* ring, unsigned nr) {
  struct io_uring_rsrc_register r;
  memset(&r, 0, sizeof(r));
  r.flags = IORING_RSRC_REGISTER_SPARSE;
  r.nr = nr;
  return reg_files_retry(ring, IORING_REGISTER_FILES2, &r, sizeof(r), nr);
}

URING_EXPORT int io_uring_register_files_update(struct io_uring* ring, unsigned off,
                                                const int* files, unsigned nr_files) {
  struct io_uring_files_update up;
  memset(&up, 0, sizeof(up));
  up.offset = off;
  up.fds = uptr(files);
  return reg(ring, IORING_REGISTER_FILES_UPDATE, &up, nr_files);
}

URING_EXPORT int io_uring_register_files_update_tag(struct io_uring* ring, unsigned off,
                                                    const int* files, const __u64* tags,
                                                    unsigned nr_files) {
  struct io_uring_rsrc_update2 up;
  memset(&up, 0, sizeof(up));
  up.offset = off;
  up.data = uptr(files);
  up.tags = uptr(tags);
  up.nr = nr_files;
  return reg(ring, IORING_REGISTER_FILES_UPDATE2, &up, sizeof(up));
}

URING_EXPORT int io_uring_unregister_files(struct io_uring* ring) {
  return reg0(ring, IORING_UNREGISTER_FILES, NULL, 0);
}

URING_EXPORT int io_uring_register_file_alloc_range(struct io_uring* ring, unsigned off,
                                                    unsigned len) {
  struct io_uring_file_index_range range;
  memset(&range, 0, sizeof(range));
  range.off = off;
  range.len = len;
  return reg(ring, IORING_REGISTER_FILE_ALLOC_RANGE, &range, 0);
}

/* --- eventfd, probe, personality --- */

URING_EXPORT int io_uring_register_eventfd(struct io_uring* ring, int fd) {
  return reg0(ring, IORING_REGISTER_EVENTFD, &fd, 1);
}

URING_EXPORT int io_uring_register_eventfd_async(struct io_uring* ring, int fd) {
  return reg0(ring, IORING_REGISTER_EVENTFD_ASYNC, &fd, 1);
}

URING_EXPORT int io_uring_unregister_eventfd(struct io_uring* ring) {
  return reg0(ring, IORING_UNREGISTER_EVENTFD, NULL, 0);
}

URING_EXPORT int io_uring_register_probe(struct io_uring* ring, struct io_uring_probe* p,
                                         unsigned nr_ops) {
  return reg0(ring, IORING_REGISTER_PROBE, p, nr_ops);
}

URING_EXPORT int io_uring_register_personality(struct io_uring* ring) {
  return reg(ring, IORING_REGISTER_PERSONALITY, NULL, 0);
}

URING_EXPORT int io_uring_unregister_personality(struct io_uring* ring, int id) {
  return reg(ring, IORING_UNREGISTER_PERSONALITY, NULL, (unsigned)id);
}

/* --- io-wq --- */

URING_EXPORT int io_uring_register_iowq_aff(struct io_uring* ring, size_t cpusz,
                                            const cpu_set_t* mask) {
  if (cpusz >= (1U << 31)) return -EINVAL;
  return reg(ring, IORING_REGISTER_IOWQ_AFF, mask, (unsigned)cpusz);
}

URING_EXPORT int io_uring_unregister_iowq_aff(struct io_uring* ring) {
  return reg(ring, IORING_UNREGISTER_IOWQ_AFF, NULL, 0);
}

URING_EXPORT int io_uring_register_iowq_max_workers(struct io_uring* ring, unsigned int* val) {
  return reg(ring, IORING_REGISTER_IOWQ_MAX_WORKERS, val, 2);
}

/* --- registered ring fd --- */

URING_EXPORT int io_uring_register_ring_fd(struct io_uring* ring) {
  return iostack_ring_register_ring_fd(ring);
}

URING_EXPORT int io_uring_unregister_ring_fd(struct io_uring* ring) {
  return iostack_ring_unregister_ring_fd(ring);
}

/* --- provided buffer rings, sync cancel --- */

URING_EXPORT int io_uring_register_buf_ring(struct io_uring* ring, struct io_uring_buf_reg* r,
                                            unsigned int flags) {
  (void)flags; /* reserved in 2.3 */
  return reg(ring, IORING_REGISTER_PBUF_RING, r, 1);
}

URING_EXPORT int io_uring_unregister_buf_ring(struct io_uring* ring, int bgid) {
  struct io_uring_buf_reg r;
  memset(&r, 0, sizeof(r));
  r.bgid = (__u16)bgid;
  return reg(ring, IORING_UNREGISTER_PBUF_RING, &r, 1);
}

URING_EXPORT int io_uring_register_sync_cancel(struct io_uring* ring,
                                               struct io_uring_sync_cancel_reg* r) {
  return reg(ring, IORING_REGISTER_SYNC_CANCEL, r, 1);
}
