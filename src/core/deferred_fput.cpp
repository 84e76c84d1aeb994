// Files held until the end of the submission that closed them (see
// deferred_fput.hpp).
#include "core/deferred_fput.hpp"

#include <sys/syscall.h>

#include "core/fd_high.hpp"
#include "core/process.hpp"
#include "core/raw_syscall.h"

namespace iostack::core {

namespace {
// A batch rarely closes more; past this its files are released at once.
constexpr int kMaxHeld = 16;
thread_local int t_depth = 0;
thread_local int t_nheld = 0;
thread_local int t_held[kMaxHeld];

void release(int fd) { iostack_raw_syscall6(SYS_close, fd, 0, 0, 0, 0, 0); }
}  // namespace

DeferredFputScope::DeferredFputScope() { ++t_depth; }

DeferredFputScope::~DeferredFputScope() {
  if (--t_depth) return;
  while (t_nheld) release(t_held[--t_nheld]);
}

int close_fd_deferred(int fd) {
  if (!t_depth || t_nheld == kMaxHeld) return close_fd(fd);
  const int held = dup_high_raw(fd);
  const int ret = close_fd(fd);
  if (held >= 0) {
    if (ret == 0)
      t_held[t_nheld++] = held;
    else
      release(held);
  }
  return ret;
}

}  // namespace iostack::core
