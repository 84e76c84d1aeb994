/* io_uring in user space: iostack_io_uring_setup/enter/register, shaped like
 * io_uring_setup(2), io_uring_enter(2) and io_uring_register(2), using the
 * kernel's uapi structs from <linux/io_uring.h>. Every call returns a
 * non-negative result or -errno; none sets errno.
 *
 * The ring fd is a real descriptor (O_RDWR | O_CLOEXEC) that poll/epoll
 * report readable while CQEs may be pending and whose read() fails with
 * EINVAL, as the kernel's does. Its rings are laid out byte for byte like
 * the kernel's struct io_rings and SQE array; map them with
 * iostack_io_uring_mmap() at IORING_OFF_SQ_RING / IORING_OFF_CQ_RING /
 * IORING_OFF_SQES. Close a ring with iostack_io_uring_close(), not close(2).
 *
 * Readiness: posting CQEs makes the fd readable; it stays readable until an
 * iostack_io_uring_enter() with IORING_ENTER_GETEVENTS finds the CQ ring
 * empty (the kernel may report readiness spuriously too). */
#ifndef IOSTACK_URING_H
#define IOSTACK_URING_H

#include "iostack/export.h"

#include <linux/io_uring.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct msghdr;
struct epoll_event;
struct timespec;

/* Newer uapi pieces the Debian 12 (6.1) header lacks. */
#ifndef IORING_ENTER_ABS_TIMER
#define IORING_ENTER_ABS_TIMER (1U << 5)
#endif
#ifndef IORING_ENTER_EXT_ARG_REG
#define IORING_ENTER_EXT_ARG_REG (1U << 6)
#endif
#ifndef IORING_ENTER_NO_IOWAIT
#define IORING_ENTER_NO_IOWAIT (1U << 7)
#endif
#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif
#ifndef IORING_REGISTER_USE_REGISTERED_RING
#define IORING_REGISTER_USE_REGISTERED_RING (1U << 31)
#endif
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* io_uring_setup(2): returns the ring fd. On failure *p is left untouched
 * (but for -EFAULT from writing it back, which may have written a part). */
IOSTACK_API int iostack_io_uring_setup(unsigned entries, struct io_uring_params* p);

/* io_uring_enter(2). `arg` is a sigset_t* (argsz = _NSIG/8) or, with
 * IORING_ENTER_EXT_ARG, a struct io_uring_getevents_arg*. With
 * IORING_ENTER_REGISTERED_RING, `fd` is an index from REGISTER_RING_FDS. */
IOSTACK_API int iostack_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete,
                                       unsigned flags, const void* arg, size_t argsz);

/* io_uring_register(2). */
IOSTACK_API int iostack_io_uring_register(int fd, unsigned opcode, void* arg, unsigned nr_args);

/* mmap(2) of a ring region: a new shared mapping of the ring at
 * IORING_OFF_SQ_RING / IORING_OFF_CQ_RING (one region: FEAT_SINGLE_MMAP) or
 * of the SQE array at IORING_OFF_SQES. The result is an address, or an error
 * encoded as (void*)-errno (test with IOSTACK_URING_IS_ERR), as the raw
 * mmap system call reports it. */
IOSTACK_API void* iostack_io_uring_mmap(int fd, off_t offset, size_t len);
/* The same with every mmap(2) argument, for an LD_PRELOAD shim forwarding a
 * program's own mmap(addr, len, prot, flags, ring_fd, offset). */
IOSTACK_API void* iostack_io_uring_mmap2(void* addr, size_t len, int prot, int flags, int fd,
                                         off_t offset);
/* munmap(2) of the program's: 0 or -errno. As on the kernel, each mapping
 * made by iostack_io_uring_mmap[2] holds its ring, so unmap rings with this
 * (a plain munmap is noticed only at the next ring setup or close). */
IOSTACK_API int iostack_io_uring_munmap(void* addr, size_t len);
#define IOSTACK_URING_IS_ERR(p) ((unsigned long)(p) >= (unsigned long)-4095)

/* close(2) of a ring fd. The ring is released (what can be cancelled is,
 * the rest waited for, then the ring freed) when its last descriptor,
 * registered ring fd and mapping are gone, as on the kernel: a ring
 * closed while still mapped lives on until its last munmap. -EBADF when
 * `fd` is not an iostack ring. */
IOSTACK_API int iostack_io_uring_close(int fd);

/* 1 when `fd` is an iostack ring fd, else 0 (for a shim deciding whether to
 * forward mmap/close/poll). Checks that the descriptor really is the ring's
 * (a number reused after a close iostack did not see is forgotten). */
IOSTACK_API int iostack_io_uring_is_ring(int fd);

/* sendmsg(2)'s refusal of an io_uring descriptor in SCM_RIGHTS: -EINVAL
 * when `msg`'s control messages pass a ring fd, else 0 (then the real
 * sendmsg answers, also for a bad pointer). For a shim interposing sendmsg. */
IOSTACK_API int iostack_io_uring_scm_check(const struct msghdr* msg);

/* What poll(2) on the kernel's ring fd reports now (io_uring_poll):
 * POLLIN|POLLRDNORM while CQEs are pending, also when the program consumed
 * CQEs without entering, POLLOUT|POLLWRNORM while the SQ ring has room; and
 * the ring fd's own readiness (poll, epoll) is brought up to date. -1 when
 * `fd` is no iostack ring. For a shim interposing poll/select/epoll_wait. */
IOSTACK_API int iostack_io_uring_poll_mask(int fd);

/* Rings in epoll instances, for a shim interposing epoll_ctl, close and
 * epoll_wait: epoll reports a ring's registration with io_uring_poll's mask
 * (POLLOUT while the SQ ring has room, which iostack's ring descriptor alone
 * never reports; POLLIN only while CQEs are pending). After each successful
 * epoll_ctl call iostack_epoll_ctl_done (it keeps registrations of rings
 * only), after a close iostack_epoll_forget_fd. iostack_epoll_pwait2 is
 * epoll_pwait2(2) with those masks (count or -errno); needed only where
 * iostack_epoll_holds_ring(epfd) says so. IORING_OP_EPOLL_CTL and
 * IORING_OP_EPOLL_WAIT do all of this themselves. */
IOSTACK_API void iostack_epoll_ctl_done(int epfd, int op, int fd, const struct epoll_event* ev);
IOSTACK_API void iostack_epoll_forget_fd(int fd);
IOSTACK_API int iostack_epoll_holds_ring(int epfd);
IOSTACK_API int iostack_epoll_pwait2(int epfd, struct epoll_event* ev, int max,
                                     const struct timespec* timeout, const sigset_t* mask);

/* Handles now the poll wakeups that the caller's own system call (a write
 * to a pipe, an eventfd or a socket) caused on files iostack polls for a
 * ring, as the kernel handles them inside that call: a program that writes
 * and then looks at the CQ ring without entering finds the CQE there. For
 * a shim interposing write-like calls; cheap while nothing is polled. */
IOSTACK_API void iostack_io_uring_run_wakeups(void);

/* This process's own io_uring system calls are routed to iostack (an
 * interposer serves them): iostack then stops using the kernel's io_uring
 * underneath, which it otherwise does for Linux AIO on O_DIRECT files where
 * the kernel allows it. */
IOSTACK_API void iostack_io_uring_served_here(void);

/* Before an exec (for a shim wrapping the exec family): the requests this
 * process has in flight on rings it shares with others (a forked child's on
 * its parent's ring) are cancelled, their CQEs posted, as the kernel's exec
 * cancels a task's requests. Nothing in a vfork child. */
IOSTACK_API void iostack_io_uring_before_exec(void);

#ifdef __cplusplus
}
#endif

#endif
