/* The AIO ABI pieces <linux/aio_abi.h> leaves to fs/aio.c: struct aio_ring
 * and struct __aio_sigset. Free of struct iocb and struct io_event, so C
 * code built against <libaio.h> (which defines those again) includes it too. */
#ifndef IOSTACK_AIO_ABI_H
#define IOSTACK_AIO_ABI_H

#include <signal.h>
#include <stddef.h>

/* AIO_RING_MAGIC, AIO_RING_COMPAT_FEATURES, AIO_RING_INCOMPAT_FEATURES. */
#define IOSTACK_AIO_RING_MAGIC 0xa10a10a1u
#define IOSTACK_AIO_RING_COMPAT_FEATURES 1u
#define IOSTACK_AIO_RING_INCOMPAT_FEATURES 0u

/* struct aio_ring (fs/aio.c): the 32-byte header at the address io_setup
 * returns as the context id; nr struct io_event slots follow it. A program
 * may reap events itself: those from head to tail (mod nr), advancing head. */
struct iostack_aio_ring {
  unsigned id;   /* index in the process's context table */
  unsigned nr;   /* capacity in events */
  unsigned head; /* advanced by the reader (user space or io_getevents) */
  unsigned tail; /* advanced by completions */
  unsigned magic;
  unsigned compat_features;
  unsigned incompat_features;
  unsigned header_length; /* sizeof(struct iostack_aio_ring) */
};

/* struct __aio_sigset of fs/aio.c (not in every uapi header): sigsetsize
 * must be 8, the kernel's sigset size. */
struct iostack_aio_sigset {
  const sigset_t* sigmask;
  size_t sigsetsize;
};

#endif /* IOSTACK_AIO_ABI_H */
