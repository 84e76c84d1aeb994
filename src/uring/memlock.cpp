// Locked-memory accounting (__io_account_mem / __io_unaccount_mem in
// io_uring/rsrc.c): ring pages count against the user's RLIMIT_MEMLOCK,
// shared by all rings of that user, unless the caller has CAP_IPC_LOCK.
#include <sys/resource.h>

#include <cerrno>
#include <unordered_map>

#include "core/mutex.hpp"
#include "core/process.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {
// user->locked_vm of every user with rings in this process.
struct LockedVm {
  core::Mutex mu;
  std::unordered_map<uid_t, std::size_t> pages;
};
LockedVm& locked_vm() { return core::Process::current().state<LockedVm>(); }
}  // namespace

int account_mem(uid_t uid, std::size_t pages) {
  if (!pages) return 0;
  struct rlimit rl;
  getrlimit(RLIMIT_MEMLOCK, &rl);
  const std::size_t limit =
      rl.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(rl.rlim_cur) / kPageSize;
  LockedVm& vm = locked_vm();
  core::LockGuard lock(vm.mu);
  std::size_t& cur = vm.pages[uid];
  if (cur + pages > limit || cur + pages < cur) return -ENOMEM;
  cur += pages;
  return 0;
}

void unaccount_mem(uid_t uid, std::size_t pages) {
  if (!pages) return;
  LockedVm& vm = locked_vm();
  core::LockGuard lock(vm.mu);
  std::size_t& cur = vm.pages[uid];
  cur = cur >= pages ? cur - pages : 0;
}

}  // namespace iostack::uring
