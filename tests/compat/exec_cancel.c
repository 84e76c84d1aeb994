/* `exec_cancel`: a forked child submits to the ring it shares with its
 * parent (a 10 s TIMEOUT linked to a NOP) and execs /bin/true; the exec
 * cancels the child's requests (io_uring_task_cancel), so the parent finds
 * both CQEs with -ECANCELED at once. Prints them; exit status 0, or 1 when
 * a call that must work failed or a CQE did not come within 5 s. */
#define _GNU_SOURCE
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "exec_cancel: %s\n", what);
  exit(1);
}

int main(void) {
  struct io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) < 0) die("io_uring_queue_init");
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    struct __kernel_timespec ts = {.tv_sec = 10, .tv_nsec = 0};
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    sqe->flags |= IOSQE_IO_LINK;
    sqe->user_data = 1;
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    sqe->user_data = 2;
    if (io_uring_submit(&ring) != 2) _exit(2);
    execl("/bin/true", "true", (char*)NULL);
    _exit(3);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) die("child");
  for (int i = 0; i < 2; ++i) {
    struct __kernel_timespec wait = {.tv_sec = 5, .tv_nsec = 0};
    struct io_uring_cqe* cqe;
    if (io_uring_wait_cqe_timeout(&ring, &cqe, &wait) != 0) die("no CQE within 5 s");
    printf("cqe %llu: %d\n", (unsigned long long)cqe->user_data, cqe->res);
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);
  return 0;
}
