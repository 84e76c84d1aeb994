/* sendmsg/sendmmsg: the kernel refuses an io_uring descriptor in SCM_RIGHTS
 * (EINVAL), and an iostack ring is an ordinary descriptor to it, so the
 * refusal is made here. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "iostack/uring.h"
#include "shim.h"

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr*, int);
typedef int (*sendmmsg_fn)(int, struct mmsghdr*, unsigned, int);

static sendmsg_fn real_sendmsg;
static sendmmsg_fn real_sendmmsg;

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  const int err = iostack_io_uring_scm_check(msg);
  if (err) return shim_result(err);
  SHIM_RESOLVE(real_sendmsg, "sendmsg");
  return real_sendmsg(fd, msg, flags);
}

/* Messages go in order: the ones before a refused one are sent, and their
 * count is the answer; a refused first one is the error. */
SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr* vec, unsigned vlen, int flags) {
  unsigned ok = 0;
  int err = 0;
  if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV; /* as the kernel takes them */
  for (; ok < vlen; ++ok) {
    err = iostack_io_uring_scm_check(&vec[ok].msg_hdr);
    if (err) break;
  }
  if (err && ok == 0) return (int)shim_result(err);
  SHIM_RESOLVE(real_sendmmsg, "sendmmsg");
  return real_sendmmsg(fd, vec, ok, flags);
}
