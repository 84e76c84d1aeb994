/* iostack's objects behind the program's descriptors (io_uring rings, block
 * devices) as the program's own descriptor calls see them: for a shim that
 * interposes close(2), dup(2) and friends, so that a dup of a ring is the
 * same ring (as on the kernel, where both name one file) and a closed
 * descriptor's number is never mistaken for the object it named. */
#ifndef IOSTACK_FD_H
#define IOSTACK_FD_H

#include "iostack/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when `fd` names an iostack object, else 0. */
IOSTACK_API int iostack_fd_is_iostack(int fd);

/* The program closed `fd` without iostack, or changed its file status flags
 * (fcntl F_SETFL): iostack forgets what it learned of the file behind it. */
IOSTACK_API void iostack_fd_changed(int fd);

/* After close(2) of a descriptor that is not iostack's (whatever it
 * returned): what iostack held of the file through it is let go. */
IOSTACK_API void iostack_fd_closed(int fd);

/* The caller reports every close of the process from now on (close through
 * iostack_fd_closed, dup2/dup3 through iostack_fd_dup, close_range through
 * iostack_fd_close_range). iostack then holds a regular file through one
 * descriptor of its own per program descriptor, closed only when the
 * program's is, instead of one per request, whose close would drop the
 * program's POSIX (fcntl) locks on the file. */
IOSTACK_API void iostack_fd_track_closes(void);

/* close(2) of any descriptor: 0 or -errno. The object goes once nothing
 * else refers to it (a ring's requests are cancelled or waited for then). */
IOSTACK_API int iostack_fd_close(int fd);

/* After dup(2), dup2(2), dup3(2) or fcntl(F_DUPFD*) made `newfd` a copy of
 * `oldfd`: newfd names what oldfd names (and no longer what it named
 * before, which dup2 closed). */
IOSTACK_API void iostack_fd_dup(int oldfd, int newfd);

/* After close_range(2) (without CLOSE_RANGE_CLOEXEC) closed [first, last]. */
IOSTACK_API void iostack_fd_close_range(unsigned first, unsigned last);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_FD_H */
