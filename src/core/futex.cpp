// futex(2) on process-private words (FUTEX_PRIVATE_FLAG) and on words shared across processes.
#include "core/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace iostack::core {

namespace {

int wait_op(std::atomic<std::uint32_t>* word, int op, std::uint32_t expected,
            const struct timespec* deadline) {
  // FUTEX_WAIT_BITSET takes an absolute timeout on CLOCK_MONOTONIC.
  const long r =
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET | op, expected,
                deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == 0 || errno == EAGAIN) return 0;
  return -errno;
}

}  // namespace

int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               const struct timespec* deadline) {
  return wait_op(word, FUTEX_PRIVATE_FLAG, expected, deadline);
}

int futex_wait_shared(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      const struct timespec* deadline) {
  return wait_op(word, 0, expected, deadline);
}

void futex_wake_shared(std::atomic<std::uint32_t>* word, int n) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

struct timespec futex_deadline_after(std::int64_t sec, std::int64_t nsec) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::int64_t ns = now.tv_nsec + nsec;
  return {static_cast<time_t>(now.tv_sec + sec + ns / 1000000000),
          static_cast<long>(ns % 1000000000)};
}

void futex_wake(std::atomic<std::uint32_t>* word, int n) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
            nullptr, nullptr, 0);
}

}  // namespace iostack::core
