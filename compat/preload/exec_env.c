/* What `iostack exec` asked of this process through its environment:
 * IOSTACK_EXEC_SERVE=uring|aio|all (default all) names the system call
 * families iostack serves (the others go to the kernel), and IOSTACK_STATS=1
 * prints iostack's counters on stderr when the process exits. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iostack/aio.h"
#include "iostack/map.h"
#include "iostack/stats.h"
#include "iostack/uring.h"
#include "serve.h"
#include "shim.h"

static int serve_uring = 1;
static int serve_aio = 1;

static int stats_on;
static void print_stats(void) { iostack_stats_print(STDERR_FILENO); }

typedef void (*exit_fn)(int);
static exit_fn real_exit, real_Exit;

/* Processes that end with _exit() (fio's job processes do, and dash) print
 * too, and the kernel would write back their mapped files' pages all the
 * same. */
SHIM_EXPORT void _exit(int status) {
  iostack_map_exit();
  if (stats_on) print_stats();
  SHIM_RESOLVE(real_exit, "_exit");
  real_exit(status);
  __builtin_unreachable();
}

SHIM_EXPORT void _Exit(int status) {
  iostack_map_exit();
  if (stats_on) print_stats();
  SHIM_RESOLVE(real_Exit, "_Exit");
  real_Exit(status);
  __builtin_unreachable();
}

/* Runs before trap.c's constructor (lower priority numbers run first). */
__attribute__((constructor(101))) static void exec_env_init(void) {
  const char* serve = getenv("IOSTACK_EXEC_SERVE");
  if (serve && strcmp(serve, "uring") == 0) serve_aio = 0;
  if (serve && strcmp(serve, "aio") == 0) serve_uring = 0;
  /* Served here, a family's kernel calls are not iostack's back end either;
   * IOSTACK_EXEC_WORKERS=1 (iostack exec --workers) leaves out both. */
  const char* workers = getenv("IOSTACK_EXEC_WORKERS");
  const int no_host = workers && strcmp(workers, "1") == 0;
  if (serve_aio || no_host) iostack_aio_served_here();
  if (serve_uring || no_host) iostack_io_uring_served_here();
  mapped_init();
  const char* stats = getenv("IOSTACK_STATS");
  if (stats && strcmp(stats, "1") == 0) {
    iostack_stats_enable();
    stats_on = 1;
    atexit(print_stats);
  }
}

int preload_serves(long nr) {
  switch (nr) {
    case __NR_io_uring_setup:
    case __NR_io_uring_enter:
    case __NR_io_uring_register:
      return serve_uring;
    case __NR_io_setup:
    case __NR_io_destroy:
    case __NR_io_submit:
    case __NR_io_getevents:
    case __NR_io_pgetevents:
    case __NR_io_cancel:
      return serve_aio;
    case __NR_mmap:   /* of a ring */
    case __NR_munmap: /* of a ring's mapping, which holds the ring */
      return serve_uring;
    case __NR_close: /* of a ring or an iostack device */
      return 1;
    default:
      return 0;
  }
}
