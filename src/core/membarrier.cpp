// Registration and the heavy side of core's asymmetric barriers.
#include "core/membarrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace iostack::core {
namespace {

long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

bool register_expedited() {
  if (g_membarrier_ready.load(std::memory_order_acquire)) return true;
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return false;
  g_membarrier_ready.store(true, std::memory_order_release);
  return true;
}

// At load time, so that light barriers are cheap from the start; one that
// ran before (or without) the registration fenced for itself.
[[maybe_unused]] const bool g_registered_at_start = register_expedited();

}  // namespace

void heavy_barrier() {
  full_fence();
  // Once ready, light barriers may have skipped their fence: from then on
  // only a membarrier covers them.
  if (!register_expedited()) return;  // every light barrier fences
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  // Registered, yet refused (a seccomp filter added since?): the global
  // command needs no registration; it waits for a grace period.
  if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0) return;
  std::fputs("iostack: membarrier(2) failed after registration; cannot order queue freezes\n",
             stderr);
  std::abort();
}

}  // namespace iostack::core
