/* CHECK for the compat tests' C client programs: prints a FAIL line and
 * counts it in `failures`, which the program turns into its exit status. */
#ifndef IOSTACK_TESTS_COMPAT_CHECK_H
#define IOSTACK_TESTS_COMPAT_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) {                  \
      printf("FAIL: " __VA_ARGS__); \
      printf("\n");                 \
      ++failures;                   \
    }                               \
  } while (0)

#endif
