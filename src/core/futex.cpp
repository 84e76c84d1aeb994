// futex(2) on process-private words (FUTEX_PRIVATE_FLAG: never shared across processes).
#include "core/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace iostack::core {

int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               const struct timespec* deadline) {
  // FUTEX_WAIT_BITSET takes an absolute timeout on CLOCK_MONOTONIC.
  const long r = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word),
                           FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, deadline, nullptr,
                           FUTEX_BITSET_MATCH_ANY);
  if (r == 0 || errno == EAGAIN) return 0;
  return -errno;
}

void futex_wake(std::atomic<std::uint32_t>* word, int n) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
            nullptr, nullptr, 0);
}

}  // namespace iostack::core
