// Thin futex(2) wrappers for the AIO engine's sleeps: io_getevents waiters,
// idle workers and io_destroy waiting for its requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace iostack::aio {

// Sleeps while *word == expected, until woken, a signal (returns -EINTR) or
// the absolute CLOCK_MONOTONIC `deadline` (null: none; returns -ETIMEDOUT).
int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               const struct timespec* deadline);
void futex_wake(std::atomic<std::uint32_t>* word, int n);

}  // namespace iostack::aio
