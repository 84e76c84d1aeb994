/* A program with its own SIGSEGV handler that also hands bad pointers to
 * io_uring and AIO system calls (through libc's syscall()). On the kernel
 * the bad pointers are -EFAULT and the program's handler sees only the
 * program's own faults; under the LD_PRELOAD shim the same must hold, the
 * handler having been installed before and after iostack's first use, by
 * sigaction() and by signal(), for calls through syscall() and for a raw
 * syscall instruction. Prints one line per step. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigjmp_buf back;
static volatile sig_atomic_t caught;

static void on_segv_info(int sig, siginfo_t* info, void* uc) {
  (void)uc;
  caught = sig == SIGSEGV && info->si_addr == (void*)8 ? 1 : 2;
  siglongjmp(back, 1);
}

static void on_segv_plain(int sig) {
  caught = sig == SIGSEGV ? 3 : 4;
  siglongjmp(back, 1);
}

static long sys(long nr, long a, long b, long c) {
  const long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
}

/* A system call made without libc, as fio and libaio do: under the shim it
 * traps (SIGSYS) and the engine runs inside that signal handler, where a
 * bad pointer faults once more. */
static long raw_syscall2(long nr, long a, long b) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}

/* A fault of the program's own: does its handler run? */
static int own_fault(void) {
  caught = 0;
  if (sigsetjmp(back, 1) == 0) {
    volatile int* volatile p = (volatile int*)8;
    *p = 1;
  }
  return caught;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char* gone = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(gone, 4096);

  struct sigaction sa, old;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_segv_info;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  printf("setup bad params %ld\n", sys(__NR_io_uring_setup, 4, (long)gone, 0));
  printf("own fault %d\n", own_fault());
  printf("raw setup bad params %ld\n", raw_syscall2(__NR_io_uring_setup, 4, (long)gone));

  /* Installed again after the first use; the old action is the program's. */
  sigaction(SIGSEGV, &sa, &old);
  printf("old is mine %d\n", old.sa_sigaction == on_segv_info);
  printf("io_setup bad ctxp %ld\n", sys(__NR_io_setup, 4, (long)gone, 0));
  printf("own fault %d\n", own_fault());

  /* signal() as well. */
  signal(SIGSEGV, on_segv_plain);
  aio_context_t ctx = 0;
  printf("io_setup %ld\n", sys(__NR_io_setup, 4, (long)&ctx, 0));
  printf("io_submit bad array %ld\n", sys(__NR_io_submit, (long)ctx, 1, (long)gone));
  printf("own fault %d\n", own_fault());
  printf("signal returns mine %d\n", signal(SIGSEGV, SIG_DFL) == on_segv_plain);
  printf("io_submit bad array %ld\n", sys(__NR_io_submit, (long)ctx, 1, (long)gone));
  sys(__NR_io_destroy, (long)ctx, 0, 0);
  return 0;
}
