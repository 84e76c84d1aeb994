/* The plain file calls on mapped files (`iostack exec --map`) that do not
 * come through libc's exported functions: libc's own internal calls (stdio's
 * fopen, fflush, fread, fseek and fclose make them), a program's syscall(),
 * and `syscall` instructions the trap catches (trap.c). Each is served as
 * mapped.c serves the function of the same name; a call on anything else is
 * left to the kernel. Results are the kernel's: a value or -errno. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "iostack/fd.h"
#include "iostack/map.h"
#include "iostack/uring.h"
#include "raw.h"
#include "serve.h"
#include "shim.h"

/* mapped.c */
int mapped_on(void);
int mapped_mine(int fd);
int mapped_mine_any(int fd);
void mapped_fix_stat(int fd, struct stat* st);
int mapped_fix_path_stat(int r, int dirfd, const char* path, struct stat* st);
int mapped_fix_statx(int r, int dirfd, const char* path, int flags, struct statx* stx);

static const int plain_nrs[] = {
    __NR_read,       __NR_write,    __NR_open,     __NR_close,           __NR_fstat,
    __NR_lseek,      __NR_pread64,  __NR_pwrite64, __NR_readv,           __NR_writev,
    __NR_dup,        __NR_dup2,     __NR_fcntl,    __NR_fsync,           __NR_fdatasync,
    __NR_ftruncate,  __NR_rename,   __NR_creat,    __NR_unlink,          __NR_openat,
    __NR_newfstatat, __NR_unlinkat, __NR_renameat, __NR_sync_file_range, __NR_fallocate,
    __NR_dup3,       __NR_preadv,   __NR_pwritev,  __NR_renameat2,       __NR_preadv2,
    __NR_pwritev2,   __NR_statx,    __NR_mkdir,    __NR_mkdirat,         __NR_rmdir,
};

int mapped_plain_nrs(const int** nrs) {
  *nrs = plain_nrs;
  return (int)(sizeof(plain_nrs) / sizeof(plain_nrs[0]));
}

/* The -errno convention of a libc-style result (-1 with errno). */
static long kernel_result(long r) { return r == -1 ? -(long)errno : r; }

static long rw(int fd, int write, const struct iovec* iov, long cnt, long off) {
  if (off < -1) return -EINVAL;
  if (cnt < 0 || cnt > 1024) return -EINVAL;
  return iostack_map_rw(fd, write, iov, (int)cnt, off);
}

static long rw1(int fd, int write, long buf, long n, long off) {
  struct iovec v = {(void*)buf, (size_t)n};
  return rw(fd, write, &v, 1, off);
}

/* After the real call made `copy` a duplicate of `fd` (fds.c does the same
 * for libc's dup functions). */
static long dup_done(int fd, long copy) {
  if (copy >= 0) {
    iostack_fd_dup(fd, (int)copy);
    iostack_map_dup(fd, (int)copy);
  }
  return copy;
}

static int open_call(int dirfd, long path, long flags, long mode, long* ret) {
  const int r = iostack_map_open(dirfd, (const char*)path, (int)flags, (unsigned)mode);
  if (r == IOSTACK_MAP_NOT_MINE) return 0;
  *ret = r;
  return 1;
}

static int path_call(int r, long* ret) {
  if (r == IOSTACK_MAP_NOT_MINE) return 0;
  *ret = r;
  return 1;
}

int mapped_serve(long nr, const long a[6], long* ret) {
  if (!mapped_on()) return 0;
  const int fd = (int)a[0];
  switch (nr) {
    case __NR_open:
      return open_call(AT_FDCWD, a[0], a[1], a[2], ret);
    case __NR_creat:
      return open_call(AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1], ret);
    case __NR_openat:
      return open_call(fd, a[1], a[2], a[3], ret);
    case __NR_unlink:
      return path_call(iostack_map_unlink(AT_FDCWD, (const char*)a[0]), ret);
    case __NR_unlinkat:
      if (a[2] & AT_REMOVEDIR) return path_call(iostack_map_rmdir(fd, (const char*)a[1]), ret);
      return path_call(iostack_map_unlink(fd, (const char*)a[1]), ret);
    case __NR_rmdir:
      return path_call(iostack_map_rmdir(AT_FDCWD, (const char*)a[0]), ret);
    case __NR_mkdir:
      return path_call(iostack_map_mkdir(AT_FDCWD, (const char*)a[0], (unsigned)a[1]), ret);
    case __NR_mkdirat:
      return path_call(iostack_map_mkdir(fd, (const char*)a[1], (unsigned)a[2]), ret);
    case __NR_rename:
      return path_call(
          iostack_map_rename(AT_FDCWD, (const char*)a[0], AT_FDCWD, (const char*)a[1], 0), ret);
    case __NR_renameat:
      return path_call(iostack_map_rename(fd, (const char*)a[1], (int)a[2], (const char*)a[3], 0),
                       ret);
    case __NR_renameat2:
      return path_call(
          iostack_map_rename(fd, (const char*)a[1], (int)a[2], (const char*)a[3], (unsigned)a[4]),
          ret);
    case __NR_close:
      /* The table forgets it; serve.c closes it (an iostack descriptor) or
       * leaves it to the kernel. */
      iostack_epoll_forget_fd(fd);
      iostack_map_close(fd);
      return 0;
    case __NR_dup:
      *ret = dup_done(fd, preload_raw6(nr, a[0], 0, 0, 0, 0, 0));
      return 1;
    case __NR_dup2:
    case __NR_dup3:
      *ret = dup_done(fd, preload_raw6(nr, a[0], a[1], a[2], 0, 0, 0));
      return 1;
    case __NR_fcntl:
      if (a[1] == F_SETFL) { /* as fds.c: iostack's view of the flags follows */
        *ret = preload_raw6(nr, a[0], a[1], a[2], 0, 0, 0);
        if (*ret >= 0) iostack_fd_changed(fd);
        return 1;
      }
      if (a[1] != F_DUPFD && a[1] != F_DUPFD_CLOEXEC) return 0;
      *ret = dup_done(fd, preload_raw6(nr, a[0], a[1], a[2], 0, 0, 0));
      return 1;
    case __NR_newfstatat: {
      if (!a[1]) return 0;
      const int empty = (a[3] & AT_EMPTY_PATH) && !*(const char*)a[1];
      if (empty && !mapped_mine(fd)) return 0;
      struct stat* st = (struct stat*)a[2];
      long r = preload_raw6(nr, a[0], a[1], a[2], a[3], 0, 0);
      if (r == 0 && empty) mapped_fix_stat(fd, st);
      if (r == 0 && !empty) r = kernel_result(mapped_fix_path_stat(0, fd, (const char*)a[1], st));
      *ret = r;
      return 1;
    }
    case __NR_statx: {
      if (!a[1]) return 0;
      long r = preload_raw6(nr, a[0], a[1], a[2], a[3], a[4], 0);
      if (r == 0)
        r = kernel_result(
            mapped_fix_statx(0, fd, (const char*)a[1], (int)a[2], (struct statx*)a[4]));
      *ret = r;
      return 1;
    }
    case __NR_fsync:
    case __NR_fdatasync:
      if (!mapped_mine_any(fd)) return 0;
      *ret = iostack_map_fsync(fd, nr == __NR_fdatasync);
      return 1;
    default:
      break;
  }
  if (!mapped_mine(fd)) return 0;
  switch (nr) {
    case __NR_read:
    case __NR_write:
      *ret = rw1(fd, nr == __NR_write, a[1], a[2], -1);
      return 1;
    case __NR_pread64:
    case __NR_pwrite64:
      *ret = a[3] < 0 ? -EINVAL : rw1(fd, nr == __NR_pwrite64, a[1], a[2], a[3]);
      return 1;
    case __NR_readv:
    case __NR_writev:
      *ret = rw(fd, nr == __NR_writev, (const struct iovec*)a[1], a[2], -1);
      return 1;
    case __NR_preadv:
    case __NR_pwritev: /* pos_l holds the whole offset on 64-bit */
      *ret = a[3] < 0 ? -EINVAL : rw(fd, nr == __NR_pwritev, (const struct iovec*)a[1], a[2], a[3]);
      return 1;
    case __NR_preadv2:
    case __NR_pwritev2: /* offset -1: the file position */
      *ret = rw(fd, nr == __NR_pwritev2, (const struct iovec*)a[1], a[2], a[3]);
      return 1;
    case __NR_lseek:
      *ret = iostack_map_lseek(fd, a[1], (int)a[2]);
      return 1;
    case __NR_fstat:
      *ret = preload_raw6(nr, a[0], a[1], 0, 0, 0, 0);
      if (*ret == 0) mapped_fix_stat(fd, (struct stat*)a[1]);
      return 1;
    case __NR_sync_file_range:
      *ret = iostack_map_sync_file_range(fd, a[1], a[2], (unsigned)a[3]);
      return 1;
    case __NR_fallocate:
      *ret = iostack_map_fallocate(fd, (int)a[1], a[2], a[3]);
      return 1;
    case __NR_ftruncate:
      *ret = iostack_map_ftruncate(fd, a[1]);
      return 1;
    default:
      return 0;
  }
}
