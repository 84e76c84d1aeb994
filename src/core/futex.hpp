// futex(2) waits and wakes on 32-bit words: the one wrapper every layer's sleeps use.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <ctime>

namespace iostack::core {

// Sleeps while *word == expected, until woken, a signal (-EINTR) or the
// absolute CLOCK_MONOTONIC `deadline` (null: none; -ETIMEDOUT). Returns 0
// when woken or when the word had already changed (EAGAIN), else -errno.
int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               const struct timespec* deadline);
// The CLOCK_MONOTONIC deadline `sec` seconds and `nsec` nanoseconds from
// now, for futex_wait.
struct timespec futex_deadline_after(std::int64_t sec, std::int64_t nsec);
// Wakes up to `n` sleepers on `word`.
void futex_wake(std::atomic<std::uint32_t>* word, int n);
inline void futex_wake_all(std::atomic<std::uint32_t>* word) { futex_wake(word, INT_MAX); }
// The same on a word in memory shared with other processes (no
// FUTEX_PRIVATE_FLAG): a wake reaches sleepers in every process mapping it.
int futex_wait_shared(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      const struct timespec* deadline);
void futex_wake_shared(std::atomic<std::uint32_t>* word, int n);

}  // namespace iostack::core
