/* The classic atomic update of a file: write a new version to a temporary
 * file, fsync it, rename it over the old one, fsync the directory (or, in
 * the "nodirsync" variant, forget to), then acknowledge the update in a
 * second file, as a program telling its user would. `check` says whether a
 * directory left by a crash is consistent with what was acknowledged.
 *   rename_update write DIR good|nodirsync
 *   rename_update check DIR   (exit 0: consistent, 1: not, with the reason)
 * `ops DIR` makes, renames, unlinks and copies files in DIR and checks that
 * every open of a file (and a dup) is one inode, as fstat shows it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kSize = 10000 }; /* more than two pages: a torn file shows */

static void die(const char* what, const char* path) {
  fprintf(stderr, "rename_update: %s %s: ", what, path);
  perror(NULL);
  exit(2);
}

static void fill(char* buf, int version) {
  for (int i = 0; i < kSize; ++i) buf[i] = (char)('0' + version);
}

static void write_file(const char* path, const char* buf, size_t n) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open", path);
  for (size_t at = 0; at < n;) {
    const ssize_t w = write(fd, buf + at, n - at < 4000 ? n - at : 4000);
    if (w <= 0) die("write", path);
    at += (size_t)w;
  }
  if (fsync(fd) != 0) die("fsync", path);
  if (close(fd) != 0) die("close", path);
}

static void sync_dir(const char* dir) {
  const int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) die("open", dir);
  if (fsync(fd) != 0) die("fsync", dir);
  close(fd);
}

static int do_write(const char* dir, int dirsync) {
  char data[4096], tmp[4096], ack[4096];
  snprintf(data, sizeof data, "%s/data", dir);
  snprintf(tmp, sizeof tmp, "%s/data.tmp", dir);
  snprintf(ack, sizeof ack, "%s/ack", dir);
  static char buf[kSize];
  /* Version 1, made durable the right way in both variants, and acknowledged. */
  fill(buf, 1);
  write_file(data, buf, kSize);
  write_file(ack, "", 0);
  sync_dir(dir);
  write_file(ack, "1\n", 2);
  /* The update to version 2. */
  fill(buf, 2);
  write_file(tmp, buf, kSize);
  if (rename(tmp, data) != 0) die("rename", tmp);
  if (dirsync) sync_dir(dir);
  write_file(ack, "2\n", 2);
  return 0;
}

/* 0: `path` holds a whole version (its number in *version); 1: it is
 * missing; 2: it is torn or of another size. */
static int read_version(const char* path, int* version) {
  static char buf[kSize + 1];
  const int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  const ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n != kSize) return 2;
  for (int i = 1; i < kSize; ++i)
    if (buf[i] != buf[0]) return 2;
  *version = buf[0] - '0';
  return 0;
}

static int do_check(const char* dir) {
  char data[4096], ack[4096], said[8] = "";
  snprintf(data, sizeof data, "%s/data", dir);
  snprintf(ack, sizeof ack, "%s/ack", dir);
  const int fd = open(ack, O_RDONLY);
  if (fd >= 0) {
    const ssize_t n = read(fd, said, sizeof said - 1);
    said[n > 0 ? n : 0] = 0;
    close(fd);
  }
  const int acked = said[0] ? said[0] - '0' : 0;
  int version = 0;
  const int st = read_version(data, &version);
  if (st == 2) {
    fprintf(stderr, "rename_update: %s is torn\n", data);
    return 1;
  }
  if (st == 1 && acked) {
    fprintf(stderr, "rename_update: %s is missing after version %d was acknowledged\n", data,
            acked);
    return 1;
  }
  if (st == 0 && version < acked) {
    fprintf(stderr, "rename_update: %s holds version %d after version %d was acknowledged\n", data,
            version, acked);
    return 1;
  }
  return 0;
}

static int same_inode(int a, int b) {
  struct stat x, y;
  return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev &&
         x.st_size == y.st_size;
}

static int do_ops(const char* dir) {
  char a[4096], b[4096], c[4096], d[4096], buf[64];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  snprintf(c, sizeof c, "%s/c", dir);
  snprintf(d, sizeof d, "%s/d", dir);
  write_file(a, "one\n", 4);
  write_file(b, "two\n", 4);
  if (rename(a, c) != 0) die("rename", a);
  if (unlink(b) != 0) die("unlink", b);
  const int in = open(c, O_RDONLY), again = open(c, O_RDWR), copy = dup(in);
  if (in < 0 || again < 0 || copy < 0) die("open", c);
  if (!same_inode(in, again) || !same_inode(in, copy)) {
    fprintf(stderr, "rename_update: two opens of %s are not one inode\n", c);
    return 1;
  }
  const ssize_t n = read(copy, buf, sizeof buf);
  if (n != 4) die("read", c);
  write_file(d, buf, (size_t)n);
  if (open(b, O_RDONLY) >= 0 || open(a, O_RDONLY) >= 0) {
    fprintf(stderr, "rename_update: a name that is gone still opens\n");
    return 1;
  }
  close(in);
  close(again);
  close(copy);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "ops") == 0) return do_ops(argv[2]);
  if (argc == 4 && strcmp(argv[1], "write") == 0 &&
      (strcmp(argv[3], "good") == 0 || strcmp(argv[3], "nodirsync") == 0))
    return do_write(argv[2], strcmp(argv[3], "good") == 0);
  if (argc == 3 && strcmp(argv[1], "check") == 0) return do_check(argv[2]);
  fprintf(stderr, "usage: rename_update write DIR good|nodirsync | check DIR | ops DIR\n");
  return 2;
}
