/* The compat tests' step-by-step programs run with `fork` do everything in
 * a forked child, whose engines and mappings reach a mapped file through
 * the process that holds it under iostack. */
#ifndef IOSTACK_TESTS_COMPAT_IN_CHILD_H
#define IOSTACK_TESTS_COMPAT_IN_CHILD_H

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Forks: the child gets -1 and goes on with the work; the parent waits for
 * it and gets its exit status (1 when fork failed or the child died). */
static int in_child(void) {
  const pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) return -1;
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 1;
  return WEXITSTATUS(st);
}

#endif
