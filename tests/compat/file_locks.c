/* `file_locks FILE`: POSIX record locks, OFD locks and flock on FILE, one
 * line per step with its result ("ok" or the errno's name), taken by this
 * process, by descriptors it dups or opens again, and probed by forked
 * children that inherit a descriptor or open FILE anew. Run on a real file
 * it prints what the kernel does; under `iostack exec --map FILE=...` the
 * output must be the same (tests/compat/map_exec_test.cpp). Exit status 0,
 * or 1 when a call that must work failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* path;
static int inherited = -1; /* the descriptor a child's step uses, or -1: open anew */

static const char* name(int e) {
  switch (e) {
    case 0:
      return "ok";
    case EAGAIN:
      return "EAGAIN";
    case EACCES:
      return "EACCES";
    case EBADF:
      return "EBADF";
    case EINVAL:
      return "EINVAL";
    case EDEADLK:
      return "EDEADLK";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "errno %d", e);
      return buf;
    }
  }
}

static int open_rw(void) {
  const int fd = open(path, O_RDWR);
  if (fd < 0) {
    perror("file_locks: open");
    exit(1);
  }
  return fd;
}

static int set(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &l) == 0 ? 0 : errno;
}

/* F_GETLK or F_OFD_GETLK: what holds [start, start+len), with l_pid as
 * the parent, -1 or other. */
static const char* get(int fd, int cmd, off_t start, off_t len, pid_t parent) {
  static char buf[96];
  struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  if (fcntl(fd, cmd, &l) != 0) return name(errno);
  if (l.l_type == F_UNLCK) return "unlocked";
  snprintf(buf, sizeof buf, "%s [%lld,+%lld) pid=%s", l.l_type == F_WRLCK ? "write" : "read",
           (long long)l.l_start, (long long)l.l_len,
           l.l_pid == parent ? "parent"
           : l.l_pid == -1   ? "-1"
                             : "other");
  return buf;
}

static void step(const char* what, int e) { printf("%s: %s\n", what, name(e)); }

/* A step in a forked child: `fn` gets a descriptor (the inherited one or a
 * new open of FILE) and returns an errno; the child exits with it. */
typedef int (*child_fn)(int fd);
static void in_child(const char* what, child_fn fn) {
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    perror("file_locks: fork");
    exit(1);
  }
  if (pid == 0) _exit(fn(inherited >= 0 ? inherited : open_rw()));
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
    fprintf(stderr, "file_locks: child of '%s' failed\n", what);
    exit(1);
  }
  step(what, WEXITSTATUS(st));
}

static int posix_w_0_10(int fd) { return set(fd, F_SETLK, F_WRLCK, 0, 10); }
static int posix_w_10_10(int fd) { return set(fd, F_SETLK, F_WRLCK, 10, 10); }
static int posix_w_45_5(int fd) { return set(fd, F_SETLK, F_WRLCK, 45, 5); }
static int posix_w_30_15(int fd) { return set(fd, F_SETLK, F_WRLCK, 30, 15); }
static int ofd_w_0_10(int fd) { return set(fd, F_OFD_SETLK, F_WRLCK, 0, 10); }
static int flock_ex(int fd) { return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno; }

static pid_t parent;
static int posix_getlk(int fd) {
  printf("  child F_GETLK: %s\n", get(fd, F_GETLK, 0, 10, parent));
  fflush(stdout);
  return 0;
}

static void posix_locks(void) {
  int fd1 = open_rw();
  step("posix: write lock [0,10)", set(fd1, F_SETLK, F_WRLCK, 0, 10));
  in_child("posix: other process, write [0,10)", posix_w_0_10);
  in_child("posix: other process, write [10,20)", posix_w_10_10);
  in_child("posix: other process, F_GETLK", posix_getlk);
  const int fd2 = open_rw();
  step("posix: same process, second open, write [0,10)", set(fd2, F_SETLK, F_WRLCK, 0, 10));
  printf("posix: same process F_GETLK: %s\n", get(fd2, F_GETLK, 0, 10, parent));
  close(fd2);
  in_child("posix: after close of the second open, other process", posix_w_0_10);
  step("posix: lock again", set(fd1, F_SETLK, F_WRLCK, 0, 10));
  in_child("posix: other process", posix_w_0_10);
  close(dup(fd1));
  in_child("posix: after close of a dup, other process", posix_w_0_10);
  step("posix: write lock [0,100)", set(fd1, F_SETLK, F_WRLCK, 0, 100));
  step("posix: unlock [40,60)", set(fd1, F_SETLK, F_UNLCK, 40, 20));
  in_child("posix: other process, write [45,50)", posix_w_45_5);
  in_child("posix: other process, write [30,45)", posix_w_30_15);
  inherited = fd1;
  in_child("posix: child with the inherited descriptor, write [30,45)", posix_w_30_15);
  inherited = -1;
  in_child("posix: the child's exit left the parent's lock", posix_w_30_15);
  step("posix: unlock all", set(fd1, F_SETLK, F_UNLCK, 0, 0));
  in_child("posix: other process after unlock", posix_w_30_15);
  close(fd1);
}

static void errors(void) {
  const int r = open(path, O_RDONLY), w = open(path, O_WRONLY), rw = open_rw();
  if (r < 0 || w < 0) exit(1);
  step("errors: write lock on a read-only descriptor", set(r, F_SETLK, F_WRLCK, 0, 1));
  step("errors: read lock on a write-only descriptor", set(w, F_SETLK, F_RDLCK, 0, 1));
  step("errors: ofd write lock on a read-only descriptor", set(r, F_OFD_SETLK, F_WRLCK, 0, 1));
  step("errors: bad l_type", set(rw, F_SETLK, 99, 0, 1));
  struct flock l = {.l_type = F_WRLCK, .l_whence = 7, .l_start = 0, .l_len = 1};
  step("errors: bad l_whence", fcntl(rw, F_SETLK, &l) == 0 ? 0 : errno);
  step("errors: negative start", set(rw, F_SETLK, F_WRLCK, -1, 1));
  struct flock o = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
  step("errors: ofd lock with l_pid", fcntl(rw, F_OFD_SETLK, &o) == 0 ? 0 : errno);
  step("errors: flock LOCK_NB alone", flock(rw, LOCK_NB) == 0 ? 0 : errno);
  step("errors: flock of no operation", flock(rw, 0) == 0 ? 0 : errno);
  step("errors: read lock on a read-only descriptor", set(r, F_SETLK, F_RDLCK, 0, 1));
  close(r);
  close(w);
  close(rw);
}

static void ofd_locks(void) {
  const int a = open_rw(), b = open_rw();
  step("ofd: write lock [0,10)", set(a, F_OFD_SETLK, F_WRLCK, 0, 10));
  step("ofd: same process, second open", set(b, F_OFD_SETLK, F_WRLCK, 0, 10));
  printf("ofd: F_OFD_GETLK of the second open: %s\n", get(b, F_OFD_GETLK, 0, 10, parent));
  printf("ofd: F_GETLK of the second open: %s\n", get(b, F_GETLK, 0, 10, parent));
  step("ofd: posix lock of the same process", set(b, F_SETLK, F_WRLCK, 0, 10));
  const int c = dup(a);
  step("ofd: through a dup", set(c, F_OFD_SETLK, F_WRLCK, 0, 10));
  close(c);
  step("ofd: after close of the dup, second open", set(b, F_OFD_SETLK, F_WRLCK, 0, 10));
  inherited = a;
  in_child("ofd: child with the inherited descriptor", ofd_w_0_10);
  inherited = -1;
  in_child("ofd: child opening anew", ofd_w_0_10);
  close(a);
  step("ofd: after the last close, second open", set(b, F_OFD_SETLK, F_WRLCK, 0, 10));
  in_child("ofd: child opening anew while the second open holds it", ofd_w_0_10);
  step("ofd: unlock", set(b, F_OFD_SETLK, F_UNLCK, 0, 10));
  close(b);
}

static void flocks(void) {
  const int a = open_rw(), b = open_rw();
  step("flock: exclusive", flock(a, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
  step("flock: second open, exclusive", flock(b, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
  step("flock: second open, shared", flock(b, LOCK_SH | LOCK_NB) == 0 ? 0 : errno);
  const int c = dup(a);
  step("flock: through a dup", flock(c, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
  inherited = a;
  in_child("flock: child with the inherited descriptor", flock_ex);
  inherited = -1;
  in_child("flock: child opening anew", flock_ex);
  in_child("flock: posix lock beside it", posix_w_0_10);
  close(c);
  step("flock: after close of the dup, second open", flock(b, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
  step("flock: downgrade to shared", flock(a, LOCK_SH | LOCK_NB) == 0 ? 0 : errno);
  step("flock: second open, shared beside it", flock(b, LOCK_SH | LOCK_NB) == 0 ? 0 : errno);
  close(a);
  step("flock: after the last close, second open exclusive",
       flock(b, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
  step("flock: unlock", flock(b, LOCK_UN) == 0 ? 0 : errno);
  close(b);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: file_locks FILE\n");
    return 2;
  }
  path = argv[1];
  parent = getpid();
  const int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0 || write(fd, "0123456789abcdefghij", 20) != 20) {
    perror("file_locks: create");
    return 1;
  }
  close(fd);
  posix_locks();
  errors();
  ofd_locks();
  flocks();
  return 0;
}
