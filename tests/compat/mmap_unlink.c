/* `mmap_unlink FILE`: a MAP_SHARED mapping of FILE after FILE is unlinked,
 * one line per step: the file lives on while it is open or mapped, so the
 * mapping keeps reading and writing its data, a descriptor still open sees
 * the same bytes, a forked child shares them, and a new file created under
 * the name is another one. On a real file it prints what the kernel does;
 * under `iostack exec --map FILE=...` the output must be the same
 * (tests/compat/map_exec_test.cpp). Exit status 0, or 1 when a call that
 * must work failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMapLen = 8192 };

static void die(const char* what) {
  fprintf(stderr, "mmap_unlink: %s\n", what);
  exit(1);
}

static void show(const char* what, const char* map, long off) {
  printf("%s: load at %ld '%c'\n", what, off, map[off] ? map[off] : '.');
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mmap_unlink FILE\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  char a[5000];
  memset(a, 'a', sizeof a);
  if (write(fd, a, sizeof a) != (long)sizeof a) die("write");
  char* map = mmap(NULL, kMapLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) die("mmap");
  if (unlink(argv[1]) != 0) die("unlink");
  show("unlinked", map, 0);
  show("unlinked", map, 4999);
  map[10] = 'S';
  char c = 0;
  const long n = (long)pread(fd, &c, 1, 10);
  printf("store S at 10, pread: %ld '%c'\n", n, c);
  if (pwrite(fd, "W", 1, 20) != 1) die("pwrite");
  show("pwrite W at 20", map, 20);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  printf("fstat size %ld\n", (long)st.st_size);
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    show("child", map, 10);
    map[30] = 'C';
    fflush(stdout);
    _exit(0);
  }
  int ws;
  if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) die("child");
  show("after the child's store", map, 30);
  close(fd);
  show("closed", map, 10);
  map[40] = 'T';
  show("closed, store T at 40", map, 40);
  fd = open(argv[1], O_RDWR);
  printf("open without O_CREAT: %s\n", fd < 0 ? strerror(errno) : "opened");
  if (fd >= 0) close(fd);
  fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  if (fd < 0) die("open O_CREAT");
  if (fstat(fd, &st) != 0) die("fstat new");
  printf("a new file: size %ld\n", (long)st.st_size);
  if (write(fd, "new", 3) != 3) die("write new");
  show("after writing the new file", map, 0);
  show("after writing the new file", map, 10);
  munmap(map, kMapLen);
  close(fd);
  unlink(argv[1]);
  return 0;
}
