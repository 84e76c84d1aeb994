// Locked-memory accounting (__io_account_mem / __io_unaccount_mem in
// io_uring/rsrc.c): ring pages count against the user's RLIMIT_MEMLOCK,
// shared by all rings of that user, unless the caller has CAP_IPC_LOCK.
#include <sys/resource.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {
std::mutex g_mu;
std::unordered_map<uid_t, std::size_t>& locked_vm() {
  static auto* m = new std::unordered_map<uid_t, std::size_t>;
  return *m;
}
}  // namespace

int account_mem(uid_t uid, std::size_t pages) {
  if (!pages) return 0;
  struct rlimit rl;
  getrlimit(RLIMIT_MEMLOCK, &rl);
  const std::size_t limit =
      rl.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(rl.rlim_cur) / kPageSize;
  std::lock_guard lock(g_mu);
  std::size_t& cur = locked_vm()[uid];
  if (cur + pages > limit || cur + pages < cur) return -ENOMEM;
  cur += pages;
  return 0;
}

void unaccount_mem(uid_t uid, std::size_t pages) {
  if (!pages) return;
  std::lock_guard lock(g_mu);
  std::size_t& cur = locked_vm()[uid];
  cur = cur >= pages ? cur - pages : 0;
}

}  // namespace iostack::uring
