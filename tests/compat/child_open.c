/* `child_open DIR`: a forked child opens DIR/f, which the parent then
 * unlinks and follows with new files; the child, holding the file through
 * its own open (and then only through a dup of it), still reads the old
 * data, as a file lives on while any process holds it open. One line per
 * step. On a real directory it prints what the kernel does; under `iostack
 * exec --map DIR/=...` the output must be the same
 * (tests/compat/map_exec_test.cpp). Exit status 0, or 1 when a call that
 * must work failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[4096];

static const char* at(const char* dir, const char* name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static void die(const char* what) {
  fprintf(stderr, "child_open: %s\n", what);
  exit(1);
}

/* Writes `data` into a new file DIR/name. */
static void put(const char* dir, const char* name, const char* data) {
  const int fd = open(at(dir, name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, data, strlen(data)) != (long)strlen(data)) die("put");
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: child_open DIR\n");
    return 2;
  }
  const char* d = argv[1];
  put(d, "f", "old data");
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) die("pipe");
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    const int fd = open(at(d, "f"), O_RDONLY);
    if (fd < 0) die("child open");
    const int copy = dup(fd);
    char c = 1;
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) die("child pipe");
    char buf[32] = {0};
    long n = pread(fd, buf, sizeof buf - 1, 0);
    printf("child after the unlink: read %ld '%s'\n", n, n > 0 ? buf : "");
    close(fd);
    memset(buf, 0, sizeof buf);
    n = pread(copy, buf, sizeof buf - 1, 0);
    printf("child, through the dup only: read %ld '%s'\n", n, n > 0 ? buf : "");
    struct stat st;
    if (fstat(copy, &st) != 0) die("fstat");
    printf("child: fstat size %ld\n", (long)st.st_size);
    fflush(stdout);
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) die("pipe");
  if (unlink(at(d, "f")) != 0) die("unlink");
  put(d, "g", "new g");
  put(d, "h", "new h");
  if (write(go[1], &c, 1) != 1) die("pipe");
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child");
  put(d, "i", "new i");
  char buf[32] = {0};
  const int fd = open(at(d, "i"), O_RDONLY);
  const long n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  printf("parent: i holds %ld '%s'\n", n, n > 0 ? buf : "");
  return 0;
}
