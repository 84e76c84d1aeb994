/* Writes a file the ways that never pass through libc's exported write():
 * `stdio_sync stdio FILE` with fopen/fprintf/fflush/fsync (stdio writes
 * from inside libc), `stdio_sync raw FILE` with `syscall` instructions of
 * its own (and one syscall()). Each writes "durable\n", fsyncs, writes "volatile\n", reads the
 * file back (printing what it read on stdout), and fsyncs again: a power
 * cut at that second fsync must leave "durable\n" only. `stdio_sync fork
 * FILE` writes the first line in the parent and the second in a forked
 * child (sharing the file position), and the parent reads both back after
 * the child has exited. `stdio_sync mmap FILE` writes a line, maps the file
 * privately and prints what the mapping holds, then maps it shared and
 * prints what that holds (the file's bytes, not the private copy's). `stdio_sync lock FILE`
 * write-locks the file and has a forked child, opening it anew, try the same lock (it must
 * conflict) and a read lock on another range (it must not). Exit status 0, or 1 with a message. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long sys4(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}

static int fail(const char* what) {
  fprintf(stderr, "stdio_sync: %s\n", what);
  return 1;
}

static int with_stdio(const char* path) {
  FILE* f = fopen(path, "w+");
  if (!f) return fail("fopen");
  fprintf(f, "durable\n");
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) return fail("first fsync");
  fprintf(f, "volatile\n");
  if (fflush(f) != 0) return fail("fflush");
  rewind(f);
  char line[64];
  while (fgets(line, sizeof line, f)) printf("read: %s", line);
  fflush(stdout);
  if (fsync(fileno(f)) != 0) return fail("second fsync");
  return fclose(f) == 0 ? 0 : fail("fclose");
}

static int with_raw(const char* path) {
  const long fd = sys4(SYS_openat, AT_FDCWD, (long)path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("openat");
  if (sys4(SYS_write, fd, (long)"durable\n", 8, 0) != 8) return fail("write");
  /* The first fsync through libc's syscall(), the rest with instructions. */
  if (syscall(SYS_fsync, fd) != 0) return fail("first fsync");
  if (sys4(SYS_write, fd, (long)"volatile\n", 9, 0) != 9) return fail("second write");
  char buf[64];
  const long n = sys4(SYS_pread64, fd, (long)buf, sizeof buf, 0);
  if (n < 0) return fail("pread64");
  printf("read: %.*s", (int)n, buf);
  fflush(stdout);
  if (sys4(SYS_fsync, fd, 0, 0, 0) != 0) return fail("second fsync");
  return sys4(SYS_close, fd, 0, 0, 0) == 0 ? 0 : fail("close");
}

static int with_fork(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  if (write(fd, "parent\n", 7) != 7) return fail("write");
  const pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    /* The child's write lands after the parent's, at the shared position. */
    FILE* f = fdopen(fd, "w");
    if (!f) _exit(1);
    fprintf(f, "child\n");
    _exit(fflush(f) == 0 && fsync(fd) == 0 ? 0 : 1);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail("the child failed");
  char buf[64];
  const ssize_t n = pread(fd, buf, sizeof buf, 0);
  if (n < 0) return fail("pread");
  printf("read: %.*s", (int)n, buf);
  printf("position: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
  return close(fd) == 0 ? 0 : fail("close");
}

static int with_mmap(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  if (write(fd, "mapped\n", 7) != 7) return fail("write");
  char* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return fail("private mmap");
  p[0] = 'M'; /* the copy's, not the file's */
  printf("private: %.7s", p);
  munmap(p, 4096);
  char back[8] = {0};
  if (pread(fd, back, 7, 0) != 7) return fail("pread");
  printf("file: %s", back);
  p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("shared mmap");
  printf("shared: %.7s", p);
  munmap(p, 4096);
  return close(fd) == 0 ? 0 : fail("close");
}

static int set_lock(int fd, short type, off_t start, off_t len) {
  struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, F_SETLK, &l) == 0 ? 0 : errno;
}

static int with_lock(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return fail("open");
  if (set_lock(fd, F_WRLCK, 0, 100) != 0) return fail("lock");
  const pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    const int own = open(path, O_RDWR);
    if (own < 0) _exit(1);
    const int conflict = set_lock(own, F_WRLCK, 50, 10);
    const int other = set_lock(own, F_RDLCK, 200, 10);
    printf("child: same range %s, other range %s\n", conflict ? strerror(conflict) : "locked",
           other ? strerror(other) : "locked");
    fflush(stdout);
    _exit(0);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail("the child failed");
  return close(fd) == 0 ? 0 : fail("close");
}

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: stdio_sync stdio|raw|fork|mmap|lock FILE");
  if (strcmp(argv[1], "stdio") == 0) return with_stdio(argv[2]);
  if (strcmp(argv[1], "raw") == 0) return with_raw(argv[2]);
  if (strcmp(argv[1], "fork") == 0) return with_fork(argv[2]);
  if (strcmp(argv[1], "mmap") == 0) return with_mmap(argv[2]);
  if (strcmp(argv[1], "lock") == 0) return with_lock(argv[2]);
  return fail("usage: stdio_sync stdio|raw|fork|mmap|lock FILE");
}
