/* io_uring and AIO requests on a file from a forked child and from a child
 * that executed a program, on the descriptor it inherited and on one it
 * opened itself, printed step by step with what the parent then reads
 * (compared between a real file and a mapped one). Aligned 4 KiB steps,
 * which direct I/O takes too; the raw AIO system calls, as libaio makes
 * them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char* buf;

static int uring(int fd, int op, char fill, long off) {
  struct io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) != 0) return -1000;
  memset(buf, fill, 4096);
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (op == 'w')
    io_uring_prep_write(sqe, fd, buf, 4096, off);
  else if (op == 'r')
    io_uring_prep_read(sqe, fd, buf, 4096, off);
  else
    io_uring_prep_fsync(sqe, fd, 0);
  io_uring_submit(&ring);
  struct io_uring_cqe* cqe;
  int res = -1001;
  if (io_uring_wait_cqe(&ring, &cqe) == 0) {
    res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);
  return res;
}

static long aio_write(int fd, char fill, long off) {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 4, &ctx) != 0) return -1000;
  memset(buf, fill, 4096);
  struct iocb cb = {0};
  cb.aio_fildes = (unsigned)fd;
  cb.aio_lio_opcode = IOCB_CMD_PWRITE;
  cb.aio_buf = (unsigned long)buf;
  cb.aio_nbytes = 4096;
  cb.aio_offset = off;
  struct iocb* list[1] = {&cb};
  long res = -1001;
  if (syscall(SYS_io_submit, ctx, 1, list) == 1) {
    struct io_event ev;
    if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1) res = (long)ev.res;
  }
  syscall(SYS_io_destroy, ctx);
  return res;
}

/* What a child does: `fd` inherited, `path` opened anew. */
static void child(const char* who, int fd, const char* path) {
  printf("%s: io_uring write c at 4096: %d\n", who, uring(fd, 'w', 'c', 4096));
  const int r = uring(fd, 'r', 0, 0);
  printf("%s: io_uring read at 0: %d '%c'\n", who, r, buf[0]);
  printf("%s: io_uring fsync: %d\n", who, uring(fd, 'f', 0, 0));
  printf("%s: aio write e at 8192: %ld\n", who, aio_write(fd, 'e', 8192));
  const int own = open(path, O_RDWR);
  const int r2 = uring(own, 'r', 0, 8192);
  printf("%s: own open, io_uring read at 8192: %d '%c'\n", who, r2, buf[0]);
  printf("%s: own open, io_uring write f at 12288: %d\n", who, uring(own, 'w', 'f', 12288));
  close(own);
  fflush(stdout);
}

static void parent_reads(const char* after, int fd) {
  char c[4] = {0};
  pread(fd, &c[0], 1, 4096);
  pread(fd, &c[1], 1, 8192);
  pread(fd, &c[2], 1, 12288);
  struct stat st;
  fstat(fd, &st);
  printf("parent after %s: 4096 '%c', 8192 '%c', 12288 '%c', size %ld\n", after, c[0], c[1], c[2],
         (long)st.st_size);
}

int main(int argc, char** argv) {
  if (posix_memalign((void**)&buf, 4096, 4096) != 0) return 1;
  if (argc == 4 && strcmp(argv[1], "exec-child") == 0) {
    child("executed child", atoi(argv[2]), argv[3]);
    return 0;
  }
  if (argc < 2) return 2;
  const int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  memset(buf, 'a', 4096);
  if (write(fd, buf, 4096) != 4096 || write(fd, buf, 4096) != 4096) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    child("forked child", fd, argv[1]);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  parent_reads("the forked child", fd);
  ftruncate(fd, 8192);
  pwrite(fd, "aaaa", 4, 4096);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    execl("/proc/self/exe", argv[0], "exec-child", num, argv[1], (char*)NULL);
    _exit(127);
  }
  waitpid(pid, &st, 0);
  parent_reads("the executed child", fd);
  return 0;
}
