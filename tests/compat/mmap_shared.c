/* MAP_SHARED mappings of a file, printed step by step: stores and loads
 * through the mapping against read/write, a mapping inherited by a forked
 * child and one a child made, msync, and mmap's errors (compared between a real file and a
 * mapped one). With "cut" as a second argument: a store synced by msync,
 * then one that is not, then fsync (where `--powercut=fsync=3` cuts). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* err(int r) {
  if (r == 0) return "ok";
  switch (errno) {
    case EACCES:
      return "EACCES";
    case EINVAL:
      return "EINVAL";
    case ENODEV:
      return "ENODEV";
    default:
      return strerror(errno);
  }
}

static char byte_at(int fd, off_t off) {
  char c = '?';
  if (pread(fd, &c, 1, off) != 1) return '-';
  return c ? c : '0';
}

static long size_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static int cut(const char* path) {
  static char buf[8192];
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  memset(buf, 'a', sizeof buf);
  if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) != 0) return 1;
  char* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return 1;
  p[0] = 'M';
  if (msync(p, 4096, MS_SYNC) != 0) return 1;
  p[4096] = 'N';
  return fsync(fd) != 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* path = argv[1];
  if (argc > 2 && strcmp(argv[2], "cut") == 0) return cut(path);
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  char buf[10000];
  memset(buf, 'a', sizeof buf);
  if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) return 1;

  char* p = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap shared 12288: %s\n", err(p == MAP_FAILED ? -1 : 0));
  if (p == MAP_FAILED) return 0;
  printf("load 0 and 9999: %c %c, past the end: %d\n", p[0], p[9999], p[10000]);
  p[100] = 'X';
  printf("store X at 100, pread: %c\n", byte_at(fd, 100));
  pwrite(fd, "Y", 1, 200);
  printf("pwrite Y at 200, load: %c\n", p[200]);
  lseek(fd, 300, SEEK_SET);
  write(fd, "W", 1);
  printf("write W at 300, load: %c\n", p[300]);
  printf("msync MS_SYNC: %s\n", err(msync(p, 12288, MS_SYNC)));
  printf("msync MS_ASYNC: %s\n", err(msync(p, 4096, MS_ASYNC)));
  printf("msync MS_SYNC|MS_ASYNC: %s\n", err(msync(p, 4096, MS_SYNC | MS_ASYNC)));
  printf("ftruncate 11000: %s\n", err(ftruncate(fd, 11000)));
  p[10500] = 'Z';
  printf("store Z at 10500, pread: %c, size %ld\n", byte_at(fd, 10500), size_of(fd));
  printf("fsync: %s\n", err(fsync(fd)));

  const pid_t child = fork();
  if (child == 0) {
    p[1000] = 'C';
    _exit(0);
  }
  int st;
  waitpid(child, &st, 0);
  printf("child stored C at 1000, pread: %c\n", byte_at(fd, 1000));
  const pid_t other = fork();
  if (other == 0) {
    const int own = open(path, O_RDWR);
    char* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
    if (m == MAP_FAILED) _exit(1);
    m[2000] = 'K';
    _exit(m[100] == 'X' ? 0 : 2);
  }
  waitpid(other, &st, 0);
  printf("child's own mapping stored K at 2000: exit %d, pread: %c\n", WEXITSTATUS(st),
         byte_at(fd, 2000));
  printf("munmap: %s\n", err(munmap(p, 12288)));
  printf("after munmap, pread 100 and 1000: %c %c\n", byte_at(fd, 100), byte_at(fd, 1000));

  char* q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 8192);
  printf("mmap shared at 8192: %s, load 2308: %c\n", err(q == MAP_FAILED ? -1 : 0),
         q == MAP_FAILED ? '-' : q[2308]);
  if (q != MAP_FAILED) {
    pwrite(fd, "V", 1, 8200);
    printf("pwrite V at 8200, load: %c\n", q[8]);
    munmap(q, 4096);
  }
  q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1);
  printf("mmap at offset 1: %s\n", err(q == MAP_FAILED ? -1 : 0));

  const int ro = open(path, O_RDONLY);
  q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
  printf("read-only open, PROT_WRITE shared: %s\n", err(q == MAP_FAILED ? -1 : 0));
  q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
  printf("read-only open, PROT_READ shared: %s, load 100: %c\n", err(q == MAP_FAILED ? -1 : 0),
         q == MAP_FAILED ? '-' : q[100]);
  if (q != MAP_FAILED) munmap(q, 4096);
  close(ro);
  const int wo = open(path, O_WRONLY);
  q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, wo, 0);
  printf("write-only open, shared: %s\n", err(q == MAP_FAILED ? -1 : 0));
  close(wo);
  const int ap = open(path, O_RDWR | O_APPEND);
  q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0);
  printf("O_APPEND open, PROT_WRITE shared: %s\n", err(q == MAP_FAILED ? -1 : 0));
  close(ap);
  printf("size %ld\n", size_of(fd));
  close(fd);
  return 0;
}
