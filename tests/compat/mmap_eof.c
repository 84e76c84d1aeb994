/* `mmap_eof FILE`: loads and stores through a MAP_SHARED mapping of FILE
 * around the end of the file, as ftruncate and writes move it, one line per
 * step: a page wholly past the end raises SIGBUS (the handler prints its
 * code and the offset of the address), the last partial page is there up to
 * its end with zeros past the end of the file; a forked child's mapping
 * follows the same end, and so does a MAP_PRIVATE mapping's. On a real file it prints what the
 * kernel does; under `iostack exec --map FILE=...` the output must be the same
 * (tests/compat/map_exec_test.cpp). Exit status 0, or 1 when a call that
 * must work failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aio_call.h"

enum { kMapLen = 20480 };

static int fd;
static char* map;
static sigjmp_buf jump;
static volatile sig_atomic_t bus_code;
static volatile long bus_off;

static void die(const char* what) {
  fprintf(stderr, "mmap_eof: %s\n", what);
  exit(1);
}

static void on_bus(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  (void)uc;
  bus_code = si->si_code;
  bus_off = (char*)si->si_addr - map;
  siglongjmp(jump, 1);
}

static const char* code_name(int code) {
  return code == BUS_ADRERR ? "BUS_ADRERR" : code == BUS_ADRALN ? "BUS_ADRALN" : "other";
}

static long size(void) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  return (long)st.st_size;
}

/* A load (store 0) or a store of `c` at `off`, and what came of it. */
static void touch(const char* who, long off, int store, char c) {
  if (sigsetjmp(jump, 1) == 0) {
    if (store) {
      ((volatile char*)map)[off] = c;
      printf("%s: store '%c' at %ld (size %ld): ok\n", who, c, off, size());
    } else {
      const char got = ((volatile char*)map)[off];
      printf("%s: load at %ld (size %ld): %d\n", who, off, size(), got);
    }
  } else {
    printf("%s: %s at %ld (size %ld): SIGBUS %s at +%ld\n", who, store ? "store" : "load", off,
           size(), code_name(bus_code), bus_off);
  }
  fflush(stdout);
}

static void load(long off) { touch("parent", off, 0, 0); }
static void store(long off, char c) { touch("parent", off, 1, c); }

static void show_pread(long off) {
  char c = 0;
  const long n = pread(fd, &c, 1, off);
  printf("pread 1 at %ld: %ld '%c'\n", off, n, n == 1 ? c : '-');
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mmap_eof FILE\n");
    return 2;
  }
  fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  char a[5000];
  memset(a, 'a', sizeof a);
  if (write(fd, a, sizeof a) != (long)sizeof a) die("write");
  struct sigaction sa = {0};
  sa.sa_sigaction = on_bus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, NULL) != 0) die("sigaction");
  map = mmap(NULL, kMapLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) die("mmap");

  /* The last partial page is there to its end, zeros past the file. */
  load(4999);
  load(5000);
  load(8191);
  load(8192);
  store(8192, 'X');
  load(20479);
  store(6000, 'Z');
  show_pread(6000);

  /* ftruncate grows the reach, and shrinks it. */
  if (ftruncate(fd, 10000) != 0) die("ftruncate 10000");
  load(8192);
  load(12287);
  load(12288);
  store(9000, 'G');
  show_pread(9000);
  if (ftruncate(fd, 4096) != 0) die("ftruncate 4096");
  load(4095);
  load(4096);
  store(4096, 'Y');
  if (ftruncate(fd, 12288) != 0) die("ftruncate 12288");
  load(9000);

  /* A write past the end grows it too; so does an AIO write. */
  if (pwrite(fd, "w", 1, 13000) != 1) die("pwrite");
  load(13000);
  load(16383);
  load(16384);
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) == 0) {
    printf("aio write 3 at 17000: %lld\n", aio_call(ctx, IOCB_CMD_PWRITE, fd, "aio", 3, 17000));
    syscall(SYS_io_destroy, ctx);
    load(17001);
    load(20479);
  }

  /* A forked child's mapping ends where the file does. */
  if (ftruncate(fd, 8000) != 0) die("ftruncate 8000");
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    touch("child", 7999, 0, 0);
    touch("child", 8192, 0, 0);
    touch("child", 8192, 1, 'C');
    if (ftruncate(fd, 9000) != 0) die("child ftruncate");
    touch("child", 8192, 1, 'C');
    _exit(0);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child");
  load(8192);
  show_pread(8192);
  munmap(map, kMapLen);

  /* A private mapping ends where the file does too; its stores stay its
   * own, and a page it has not stored to shows the file's later writes. */
  if (ftruncate(fd, 5000) != 0) die("ftruncate 5000");
  map = mmap(NULL, kMapLen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) die("mmap private");
  touch("private", 4999, 0, 0);
  touch("private", 8191, 0, 0);
  touch("private", 8192, 0, 0);
  touch("private", 8192, 1, 'P');
  touch("private", 100, 1, 'P');
  show_pread(100);
  if (pwrite(fd, "Q", 1, 4500) != 1) die("pwrite Q");
  touch("private", 4500, 0, 0);
  if (ftruncate(fd, 12000) != 0) die("ftruncate 12000");
  touch("private", 8192, 0, 0);
  touch("private", 12288, 0, 0);
  munmap(map, kMapLen);
  close(fd);
  return 0;
}
