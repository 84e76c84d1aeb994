/* seccomp_exec [--uring-only] PROGRAM [ARGS...]: runs PROGRAM with the
 * kernel's io_uring system calls answering EPERM, as Docker's default
 * seccomp profile does, and its Linux AIO system calls too, as stricter
 * profiles (and gVisor without AIO) do, unless --uring-only (Docker's
 * profile exactly).
 * A hand-written BPF filter (no libseccomp) installed after
 * PR_SET_NO_NEW_PRIVS, so no privilege is needed; the filter survives exec. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DENY(nr)                                   \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

int main(int argc, char** argv) {
  const int uring_only = argc > 1 && strcmp(argv[1], "--uring-only") == 0;
  if (uring_only) argv++, argc--;
  if (argc < 2) {
    fprintf(stderr, "usage: seccomp_exec [--uring-only] PROGRAM [ARGS...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      /* Other architectures (x86 compat via int 0x80) are let through. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      DENY(__NR_io_uring_setup),
      DENY(__NR_io_uring_enter),
      DENY(__NR_io_uring_register),
      /* With --uring-only the filter ends here (see below). */
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      DENY(__NR_io_setup),
      DENY(__NR_io_destroy),
      DENY(__NR_io_submit),
      DENY(__NR_io_cancel),
      DENY(__NR_io_getevents),
      DENY(__NR_io_pgetevents),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof(filter) / sizeof(filter[0])), filter};
  if (!uring_only) {
    /* Drop the early ALLOW: shift the AIO part over it. */
    const size_t at = 4 + 3 * 2; /* arch check, nr load, three DENYs */
    memmove(&filter[at], &filter[at + 1], (prog.len - at - 1) * sizeof(filter[0]));
    prog.len--;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    perror("seccomp_exec: installing the filter");
    return 2;
  }
  execvp(argv[1], argv + 1);
  perror("seccomp_exec: exec");
  return 127;
}
