/* `dotdot DIR`: paths with ".." components below DIR (open, stat, rename,
 * unlink, mkdir, relative to a working directory below DIR too), one line
 * per step with the result; ".." resolves where the kernel's path walk
 * takes it, and fails where a component before it is missing (ENOENT) or
 * not a directory (ENOTDIR). Leaves DIR/last holding "bye". On a real
 * directory it prints what the kernel does; under `iostack exec --map
 * DIR/=...` the output must be the same (tests/compat/map_exec_test.cpp).
 * Exit status 0, or 1 when a call that must work failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4096];

static const char* at(const char* dir, const char* rel) {
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return path;
}

static const char* res(int r) { return r < 0 ? strerror(errno) : "ok"; }

/* stat's answer for `p`: its size, or the error. */
static void show_stat(const char* what, const char* p) {
  struct stat st;
  if (stat(p, &st) != 0)
    printf("%s: stat %s\n", what, strerror(errno));
  else
    printf("%s: stat size %ld\n", what, (long)st.st_size);
}

/* open and read of `p`: what it holds, or the error. */
static void show_read(const char* what, const char* p) {
  const int fd = open(p, O_RDONLY);
  if (fd < 0) {
    printf("%s: open %s\n", what, strerror(errno));
    return;
  }
  char buf[64] = {0};
  const long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: read %ld '%s'\n", what, n, n > 0 ? buf : "");
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: dotdot DIR\n");
    return 2;
  }
  const char* d = argv[1];
  printf("mkdir sub: %s\n", res(mkdir(at(d, "sub"), 0755)));
  int fd = open(at(d, "sub/../f"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "hello", 5) != 5) return 1;
  close(fd);
  show_stat("sub/../f created, f", at(d, "f"));
  show_read("f", at(d, "f"));
  show_read("sub/../f", at(d, "sub/../f"));
  show_read("sub/./../sub/../f", at(d, "sub/./../sub/../f"));
  show_read("nosuch/../f", at(d, "nosuch/../f"));
  show_read("f/../f", at(d, "f/../f"));
  show_stat("sub/..", at(d, "sub/.."));
  if (chdir(at(d, "sub")) != 0) return 1;
  show_read("in sub: ../f", "../f");
  printf("in sub: rename ../f ../g: %s\n", res(rename("../f", "../g")));
  show_stat("g", "../g");
  show_stat("f", "../f");
  printf("in sub: mkdir ../sub2: %s\n", res(mkdir("../sub2", 0755)));
  printf("in sub: rename ../g ../sub2/../sub/h: %s\n", res(rename("../g", "../sub2/../sub/h")));
  show_stat("sub/h", "h");
  printf("in sub: unlink ./../sub/h: %s\n", res(unlink("./../sub/h")));
  show_stat("sub/h", "h");
  printf("in sub: rmdir ../sub2/../sub2: %s\n", res(rmdir("../sub2/../sub2")));
  fd = open("../sub/../last", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "bye", 3) != 3) return 1;
  printf("in sub: fsync ../last: %s\n", res(fsync(fd)));
  close(fd);
  fd = open("..", O_RDONLY | O_DIRECTORY);
  printf("in sub: fsync ..: %s\n", res(fd < 0 ? -1 : fsync(fd)));
  if (fd >= 0) close(fd);
  show_read("last", at(d, "last"));
  return 0;
}
