// Asymmetric memory barriers over membarrier(2): the fast side of a
// store-then-load handshake pays a compiler barrier, the rare side makes
// every running thread of the process execute a full barrier. This is
// what RCU's grace period gives the kernel's percpu_ref on a kill.
#pragma once

#include <atomic>

namespace iostack::core {

// True once MEMBARRIER_CMD_PRIVATE_EXPEDITED is registered for the process
// (never false again: fork keeps the registration).
inline constinit std::atomic<bool> g_membarrier_ready{false};

// A full fence. ThreadSanitizer does not follow fences (GCC says so under
// -Wtsan); the ordering here is for the hardware, and the happens-before
// edges TSan needs come from the release/acquire pairs around it.
inline void full_fence() {
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

// The frequent side: orders the caller's earlier stores before its later
// loads with respect to heavy_barrier() callers.
inline void light_barrier() {
  if (g_membarrier_ready.load(std::memory_order_relaxed)) [[likely]]
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    full_fence();
}

// The rare side: a full barrier on every thread of the process, so that
// each light_barrier() caller either had its stores seen by the caller's
// later loads or will see the caller's earlier stores. Microseconds.
void heavy_barrier();

}  // namespace iostack::core
