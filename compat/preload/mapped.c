/* The plain file calls on files that `iostack exec --map PATH=SPEC` put on
 * iostack devices: open/openat/creat of a mapped path opens the device
 * (iostack/map.h), and read/write/pread/pwrite/readv/writev/preadv/pwritev,
 * lseek, fsync/fdatasync/sync_file_range, fallocate/ftruncate and fstat on
 * such a descriptor are served there. In a mapped directory (--map DIR/=SPEC)
 * rename/renameat/renameat2, unlink, mkdir and rmdir are the directory's,
 * and fsync of a directory's descriptor makes its names durable; the program's
 * children reach its directories through it (src/map/map_share.hpp). libc's wrappers are
 * interposed: a program that makes these system calls with its own `syscall` instruction reaches
 * the kernel (its io_uring and AIO calls are trapped as ever). Without --map every call goes
 * straight on to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iostack/map.h"
#include "shim.h"

static int map_on;

void mapped_init(void) {
  const int r = iostack_map_init();
  if (r < 0) exit(2);
  map_on = r > 0;
  /* Registered from the shim, so that it runs before libiostack's own
   * statics are torn down. */
  if (map_on) atexit(iostack_map_exit);
}

int mapped_on(void) { return map_on; }

/* A mapped file's descriptor; a mapped directory's (only its fsync is
 * iostack's) is `mine_any`. */
static int mine(int fd) { return map_on && fd >= 0 && iostack_map_fd(fd) == 1; }
static int mine_any(int fd) { return map_on && fd >= 0 && iostack_map_fd(fd) != 0; }
int mapped_mine(int fd) { return mine(fd); }
int mapped_mine_any(int fd) { return mine_any(fd); }

typedef int (*openat_fn)(int, const char*, int, ...);
static openat_fn real_openat;

static int open_common(int dirfd, const char* path, int flags, mode_t mode) {
  if (map_on) {
    const int r = iostack_map_open(dirfd, path, flags, mode);
    if (r != IOSTACK_MAP_NOT_MINE) return (int)shim_result(r);
  }
  SHIM_RESOLVE(real_openat, "openat");
  return real_openat(dirfd, path, flags, mode);
}

/* The mode is there only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)             \
  mode_t mode = 0;                         \
  if ((flags) & (O_CREAT | __O_TMPFILE)) { \
    va_list ap;                            \
    va_start(ap, last);                    \
    mode = (mode_t)va_arg(ap, unsigned);   \
    va_end(ap);                            \
  }

SHIM_EXPORT int open(const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  return open_common(AT_FDCWD, path, flags, mode);
}
SHIM_EXPORT int open64(const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  return open_common(AT_FDCWD, path, flags, mode);
}
SHIM_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  return open_common(dirfd, path, flags, mode);
}
SHIM_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags, flags);
  return open_common(dirfd, path, flags, mode);
}
SHIM_EXPORT int __open_2(const char* path, int flags) {
  return open_common(AT_FDCWD, path, flags, 0);
}
SHIM_EXPORT int __open64_2(const char* path, int flags) {
  return open_common(AT_FDCWD, path, flags, 0);
}
SHIM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  return open_common(dirfd, path, flags, 0);
}
SHIM_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  return open_common(dirfd, path, flags, 0);
}
SHIM_EXPORT int creat(const char* path, mode_t mode) {
  return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
SHIM_EXPORT int creat64(const char* path, mode_t mode) {
  return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

typedef int (*unlinkat_fn)(int, const char*, int);
static unlinkat_fn real_unlinkat;

SHIM_EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  if (map_on) {
    const int r =
        (flags & AT_REMOVEDIR) ? iostack_map_rmdir(dirfd, path) : iostack_map_unlink(dirfd, path);
    if (r != IOSTACK_MAP_NOT_MINE) return (int)shim_result(r);
  }
  SHIM_RESOLVE(real_unlinkat, "unlinkat");
  return real_unlinkat(dirfd, path, flags);
}
SHIM_EXPORT int unlink(const char* path) { return unlinkat(AT_FDCWD, path, 0); }
SHIM_EXPORT int rmdir(const char* path) { return unlinkat(AT_FDCWD, path, AT_REMOVEDIR); }

typedef int (*mkdirat_fn)(int, const char*, mode_t);
static mkdirat_fn real_mkdirat;

/* A subdirectory of a mapped directory is a name on its device. */
SHIM_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (map_on) {
    const int r = iostack_map_mkdir(dirfd, path, mode);
    if (r != IOSTACK_MAP_NOT_MINE) return (int)shim_result(r);
  }
  SHIM_RESOLVE(real_mkdirat, "mkdirat");
  return real_mkdirat(dirfd, path, mode);
}
SHIM_EXPORT int mkdir(const char* path, mode_t mode) { return mkdirat(AT_FDCWD, path, mode); }

typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);
static renameat2_fn real_renameat2;

SHIM_EXPORT int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                          unsigned flags) {
  if (map_on) {
    const int r = iostack_map_rename(olddirfd, oldpath, newdirfd, newpath, flags);
    if (r != IOSTACK_MAP_NOT_MINE) return (int)shim_result(r);
  }
  SHIM_RESOLVE(real_renameat2, "renameat2");
  return real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
SHIM_EXPORT int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  return renameat2(olddirfd, oldpath, newdirfd, newpath, 0);
}
SHIM_EXPORT int rename(const char* oldpath, const char* newpath) {
  return renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

/* Each I/O call: the mapped file's, or libc's own. */
#define REAL(type, name, ...) \
  static type real;           \
  SHIM_RESOLVE(real, name);   \
  return real(__VA_ARGS__)

/* The same for a write that may wake a file iostack polls (a pipe, an
 * eventfd, a socket): the wakeups are handled before the call returns. */
#define REAL_WAKING(type, name, ...)     \
  static type real;                      \
  SHIM_RESOLVE(real, name);              \
  const ssize_t ret = real(__VA_ARGS__); \
  if (ret > 0) shim_run_wakeups();       \
  return ret

typedef ssize_t (*read_fn)(int, void*, size_t);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*rwv_fn)(int, const struct iovec*, int);
typedef ssize_t (*prwv_fn)(int, const struct iovec*, int, off_t);

static ssize_t map_io(int fd, int write, void* buf, size_t n, long off) {
  struct iovec v = {buf, n};
  return (ssize_t)shim_result(iostack_map_rw(fd, write, &v, 1, off));
}

SHIM_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (mine(fd)) return map_io(fd, 0, buf, n, -1);
  REAL(read_fn, "read", fd, buf, n);
}
SHIM_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (mine(fd)) return map_io(fd, 1, (void*)buf, n, -1);
  REAL_WAKING(write_fn, "write", fd, buf, n);
}
SHIM_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (mine(fd)) return off < 0 ? (errno = EINVAL, -1) : map_io(fd, 0, buf, n, off);
  REAL(pread_fn, "pread", fd, buf, n, off);
}
SHIM_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  if (mine(fd)) return off < 0 ? (errno = EINVAL, -1) : map_io(fd, 0, buf, n, off);
  REAL(pread_fn, "pread64", fd, buf, n, off);
}
SHIM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (mine(fd)) return off < 0 ? (errno = EINVAL, -1) : map_io(fd, 1, (void*)buf, n, off);
  REAL(pwrite_fn, "pwrite", fd, buf, n, off);
}
SHIM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  if (mine(fd)) return off < 0 ? (errno = EINVAL, -1) : map_io(fd, 1, (void*)buf, n, off);
  REAL(pwrite_fn, "pwrite64", fd, buf, n, off);
}

static ssize_t map_iov(int fd, int write, const struct iovec* iov, int cnt, long off) {
  if (off < -1) {
    errno = EINVAL;
    return -1;
  }
  return (ssize_t)shim_result(iostack_map_rw(fd, write, iov, cnt, off));
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  if (mine(fd)) return map_iov(fd, 0, iov, cnt, -1);
  REAL(rwv_fn, "readv", fd, iov, cnt);
}
SHIM_EXPORT ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  if (mine(fd)) return map_iov(fd, 1, iov, cnt, -1);
  REAL_WAKING(rwv_fn, "writev", fd, iov, cnt);
}
SHIM_EXPORT ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (mine(fd)) return map_iov(fd, 0, iov, cnt, off < 0 ? -2 : off);
  REAL(prwv_fn, "preadv", fd, iov, cnt, off);
}
SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (mine(fd)) return map_iov(fd, 0, iov, cnt, off < 0 ? -2 : off);
  REAL(prwv_fn, "preadv64", fd, iov, cnt, off);
}
SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (mine(fd)) return map_iov(fd, 1, iov, cnt, off < 0 ? -2 : off);
  REAL(prwv_fn, "pwritev", fd, iov, cnt, off);
}
SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (mine(fd)) return map_iov(fd, 1, iov, cnt, off < 0 ? -2 : off);
  REAL(prwv_fn, "pwritev64", fd, iov, cnt, off);
}

/* mmap of a mapped file maps the shared memory that holds the file's
 * cached pages (iostack_map_mmap), whose length follows the file's size:
 * MAP_SHARED so that stores and loads are the page cache's, written to the
 * device by write-back, fsync and msync(MS_SYNC) as dirty pages are;
 * MAP_PRIVATE copy-on-write, as the kernel's private file mappings: a page
 * shows the file until the mapping stores to it, its stores stay its own
 * (so no write permission on the file is needed), and past the end of the
 * file both raise SIGBUS. `real` maps the memory. Returns the address, or
 * -errno. */
long mapped_mmap(void* (*real)(void*, size_t, int, int, int, off_t), void* addr, size_t len,
                 int prot, int flags, int fd, off_t off) {
  const int type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE && type != MAP_PRIVATE) return -EINVAL;
  int owned = 0;
  const int mem =
      iostack_map_mmap(fd, off, len, type == MAP_PRIVATE ? prot & ~PROT_WRITE : prot, &owned);
  if (mem < 0) return mem;
  void* p = real(addr, len, prot, flags, mem, off);
  const long r = p == MAP_FAILED ? -errno : (long)p;
  if (owned) close(mem);
  return r;
}

/* msync(MS_SYNC) of a shared mapping of a mapped file writes its dirty
 * pages in the range back and flushes, as vfs_fsync_range. */
typedef int (*msync_fn)(void*, size_t, int);
SHIM_EXPORT int msync(void* addr, size_t len, int flags) {
  static msync_fn real;
  SHIM_RESOLVE(real, "msync");
  const int r = real(addr, len, flags);
  if (r != 0 || !map_on) return r;
  return (int)shim_result(iostack_map_msync(addr, len, flags));
}

/* The data is not in the real file: programs copying with copy_file_range
 * fall back to read and write on EXDEV, as across file systems. */
typedef ssize_t (*cfr_fn)(int, off_t*, int, off_t*, size_t, unsigned);
SHIM_EXPORT ssize_t copy_file_range(int in, off_t* in_off, int out, off_t* out_off, size_t n,
                                    unsigned flags) {
  if (mine(in) || mine(out)) {
    errno = EXDEV;
    return -1;
  }
  REAL(cfr_fn, "copy_file_range", in, in_off, out, out_off, n, flags);
}

typedef off_t (*lseek_fn)(int, off_t, int);
int __fxstat(int ver, int fd, struct stat* st);
int __fxstat64(int ver, int fd, struct stat64* st);
SHIM_EXPORT off_t lseek(int fd, off_t off, int whence) {
  if (mine(fd)) return (off_t)shim_result(iostack_map_lseek(fd, off, whence));
  REAL(lseek_fn, "lseek", fd, off, whence);
}
SHIM_EXPORT off_t lseek64(int fd, off_t off, int whence) {
  if (mine(fd)) return (off_t)shim_result(iostack_map_lseek(fd, off, whence));
  REAL(lseek_fn, "lseek64", fd, off, whence);
}

typedef int (*fsync_fn)(int);
SHIM_EXPORT int fsync(int fd) {
  if (mine_any(fd)) return (int)shim_result(iostack_map_fsync(fd, 0));
  REAL(fsync_fn, "fsync", fd);
}
SHIM_EXPORT int fdatasync(int fd) {
  if (mine_any(fd)) return (int)shim_result(iostack_map_fsync(fd, 1));
  REAL(fsync_fn, "fdatasync", fd);
}

typedef int (*sfr_fn)(int, off_t, off_t, unsigned);
SHIM_EXPORT int sync_file_range(int fd, off_t off, off_t n, unsigned flags) {
  if (mine(fd)) return (int)shim_result(iostack_map_sync_file_range(fd, off, n, flags));
  REAL(sfr_fn, "sync_file_range", fd, off, n, flags);
}

typedef int (*falloc_fn)(int, int, off_t, off_t);
SHIM_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  if (mine(fd)) return (int)shim_result(iostack_map_fallocate(fd, mode, off, len));
  REAL(falloc_fn, "fallocate", fd, mode, off, len);
}
SHIM_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) {
  if (mine(fd)) return (int)shim_result(iostack_map_fallocate(fd, mode, off, len));
  REAL(falloc_fn, "fallocate64", fd, mode, off, len);
}
typedef int (*pfalloc_fn)(int, off_t, off_t);
/* posix_fallocate returns the error number instead of setting errno. */
SHIM_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  if (mine(fd)) return -iostack_map_fallocate(fd, 0, off, len);
  REAL(pfalloc_fn, "posix_fallocate", fd, off, len);
}
SHIM_EXPORT int posix_fallocate64(int fd, off_t off, off_t len) {
  if (mine(fd)) return -iostack_map_fallocate(fd, 0, off, len);
  REAL(pfalloc_fn, "posix_fallocate64", fd, off, len);
}

typedef int (*ftruncate_fn)(int, off_t);
SHIM_EXPORT int ftruncate(int fd, off_t len) {
  if (mine(fd)) return (int)shim_result(iostack_map_ftruncate(fd, len));
  REAL(ftruncate_fn, "ftruncate", fd, len);
}
SHIM_EXPORT int ftruncate64(int fd, off_t len) {
  if (mine(fd)) return (int)shim_result(iostack_map_ftruncate(fd, len));
  REAL(ftruncate_fn, "ftruncate64", fd, len);
}

/* fstat of a mapped file: the device descriptor's, with the file's size. */
void mapped_fix_stat(int fd, struct stat* st) {
  const long size = (long)iostack_map_size(fd);
  if (size < 0) return;
  uint64_t dev, ino;
  if (iostack_map_ident(fd, &dev, &ino) == 0) {
    st->st_dev = (dev_t)dev;
    st->st_ino = (ino_t)ino;
  }
  st->st_size = size;
  st->st_blocks = (size + 511) / 512;
  st->st_blksize = 4096;
  st->st_nlink = 1;
  st->st_mode = (st->st_mode & 07777) | S_IFREG;
}

typedef int (*fstat_fn)(int, struct stat*);
typedef int (*fxstat_fn)(int, int, struct stat*);
typedef int (*fstatat_fn)(int, const char*, struct stat*, int);
SHIM_EXPORT int fstat(int fd, struct stat* st) {
  static fstat_fn real;
  SHIM_RESOLVE(real, "fstat");
  const int r = real(fd, st);
  if (r == 0 && mine(fd)) mapped_fix_stat(fd, st);
  return r;
}
SHIM_EXPORT int fstat64(int fd, struct stat64* st64) {
  struct stat* st = (struct stat*)st64; /* one layout on LP64 */
  static fstat_fn real;
  SHIM_RESOLVE(real, "fstat64");
  const int r = real(fd, st);
  if (r == 0 && mine(fd)) mapped_fix_stat(fd, st);
  return r;
}
SHIM_EXPORT int __fxstat(int ver, int fd, struct stat* st) {
  static fxstat_fn real;
  SHIM_RESOLVE(real, "__fxstat");
  const int r = real(ver, fd, st);
  if (r == 0 && mine(fd)) mapped_fix_stat(fd, st);
  return r;
}
SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat64* st64) {
  struct stat* st = (struct stat*)st64;
  static fxstat_fn real;
  SHIM_RESOLVE(real, "__fxstat64");
  const int r = real(ver, fd, st);
  if (r == 0 && mine(fd)) mapped_fix_stat(fd, st);
  return r;
}

/* stat of a mapped path: its placeholder's, with the file's size (sqlite
 * looks for a hot journal by its size); a name the mapped directory does
 * not hold is not there. Returns the call's result. */
int mapped_fix_path_stat(int r, int dirfd, const char* path, struct stat* st) {
  if (r != 0 || !map_on || !S_ISREG(st->st_mode)) return r;
  const int64_t size = iostack_map_path_size(dirfd, path);
  if (size == IOSTACK_MAP_NOT_MINE) return r;
  if (size < 0) return (int)shim_result(size);
  st->st_size = size;
  st->st_blocks = (size + 511) / 512;
  return r;
}

typedef int (*stat_fn)(const char*, struct stat*);
SHIM_EXPORT int stat(const char* path, struct stat* st) {
  static stat_fn real;
  SHIM_RESOLVE(real, "stat");
  return mapped_fix_path_stat(real(path, st), AT_FDCWD, path, st);
}
SHIM_EXPORT int stat64(const char* path, struct stat64* st64) {
  static stat_fn real;
  SHIM_RESOLVE(real, "stat64");
  return mapped_fix_path_stat(real(path, (struct stat*)st64), AT_FDCWD, path, (struct stat*)st64);
}
SHIM_EXPORT int lstat(const char* path, struct stat* st) {
  static stat_fn real;
  SHIM_RESOLVE(real, "lstat");
  return mapped_fix_path_stat(real(path, st), AT_FDCWD, path, st);
}
SHIM_EXPORT int lstat64(const char* path, struct stat64* st64) {
  static stat_fn real;
  SHIM_RESOLVE(real, "lstat64");
  return mapped_fix_path_stat(real(path, (struct stat*)st64), AT_FDCWD, path, (struct stat*)st64);
}
SHIM_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  static fstatat_fn real;
  SHIM_RESOLVE(real, "fstatat");
  const int r = real(dirfd, path, st, flags);
  if ((flags & AT_EMPTY_PATH) && !*path) return r;
  return mapped_fix_path_stat(r, dirfd, path, st);
}
SHIM_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st64, int flags) {
  static fstatat_fn real;
  SHIM_RESOLVE(real, "fstatat64");
  struct stat* st = (struct stat*)st64;
  const int r = real(dirfd, path, st, flags);
  if ((flags & AT_EMPTY_PATH) && !*path) return r;
  return mapped_fix_path_stat(r, dirfd, path, st);
}

/* statx of a mapped path or descriptor: the file's size. Returns the
 * call's result. */
int mapped_fix_statx(int r, int dirfd, const char* path, int flags, struct statx* stx) {
  if (r != 0 || !map_on || !S_ISREG(stx->stx_mode)) return r;
  const int64_t size = ((flags & AT_EMPTY_PATH) && !*path)
                           ? (mine(dirfd) ? iostack_map_size(dirfd) : IOSTACK_MAP_NOT_MINE)
                           : iostack_map_path_size(dirfd, path);
  if (size == IOSTACK_MAP_NOT_MINE) return r;
  if (size < 0) return (int)shim_result(size);
  stx->stx_size = (uint64_t)size;
  stx->stx_blocks = (uint64_t)(size + 511) / 512;
  return r;
}

typedef int (*statx_fn)(int, const char*, int, unsigned, struct statx*);
SHIM_EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* stx) {
  static statx_fn real;
  SHIM_RESOLVE(real, "statx");
  return mapped_fix_statx(real(dirfd, path, flags, mask, stx), dirfd, path, flags, stx);
}
