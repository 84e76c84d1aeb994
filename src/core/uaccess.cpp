// The fault side of core/uaccess (arch/x86/mm/extable.c): the exception
// table lookup, the SIGSEGV/SIGBUS handler that runs it, and the chaining
// to whatever handler was installed before.
#include "core/uaccess.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "core/uaccess_hook.h"

namespace {

// One entry of uaccess_x86_64.S's table: offsets from the fields themselves.
struct ExEntry {
  std::int32_t insn;
  std::int32_t fixup;
  std::uintptr_t insn_addr() const { return reinterpret_cast<std::uintptr_t>(&insn) + insn; }
  std::uintptr_t fixup_addr() const { return reinterpret_cast<std::uintptr_t>(&fixup) + fixup; }
};

}  // namespace

extern "C" {
extern const ExEntry iostack_uaccess_extable[];
extern const ExEntry iostack_uaccess_extable_end[];
}

namespace iostack::core {

std::atomic<bool> detail::g_uaccess_ready{false};

namespace {

constexpr int kSigs[2] = {SIGSEGV, SIGBUS};

// The handlers found when ours went in: where other faults go.
struct sigaction g_prev[2];

int sig_slot(int sig) { return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1; }

// rt_sigaction without libc, sanitizer or shim interposition in between:
// restoring the default action must reach the kernel, whoever wraps
// sigaction(). (No handler is installed this way, so no restorer.)
void set_default_action(int sig) {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    std::uint64_t mask;
  } ksa{};
  ksa.handler = reinterpret_cast<void*>(SIG_DFL);
  syscall(SYS_rt_sigaction, sig, &ksa, nullptr, sizeof(ksa.mask));
}

__attribute__((no_sanitize("thread"))) void on_fault(int sig, siginfo_t* info, void* uc) {
  if (iostack_uaccess_fixup(sig, info, uc)) return;
  const int slot = sig_slot(sig);
  if (slot >= 0) iostack_uaccess_deliver(&g_prev[slot], sig, info, uc);
}

void install() {
  using AddFn = int (*)(int (*)(int, siginfo_t*, void*));
  // Under the shim one dispatcher serves every engine copy in the process.
  if (auto add = reinterpret_cast<AddFn>(dlsym(RTLD_DEFAULT, IOSTACK_UACCESS_DISPATCH_SYMBOL));
      add && add(iostack_uaccess_fixup) == 0)
    return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  // SA_ONSTACK: a fault from stack overflow still reaches the previous
  // handler on the program's alternate stack. SA_NODEFER: a fault inside a
  // handler called from ours is still delivered.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 2; ++i) {
    // Record the previous handler before ours can run, then install.
    sigaction(kSigs[i], nullptr, &g_prev[i]);
    struct sigaction old;
    if (sigaction(kSigs[i], &sa, &old) == 0 && std::memcmp(&old, &g_prev[i], sizeof(old)) != 0)
      g_prev[i] = old;
  }
}

}  // namespace

void uaccess_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    install();
    detail::g_uaccess_ready.store(true, std::memory_order_release);
  });
}

void uaccess_thread_init() {
  uaccess_init();
  sigset_t faults;
  sigemptyset(&faults);
  sigaddset(&faults, SIGSEGV);
  sigaddset(&faults, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &faults, nullptr);
}

std::size_t copy_from_user_fail(void* to, std::size_t n, std::size_t left) {
  std::memset(static_cast<char*>(to) + (n - left), 0, left);
  return left;
}

long strncpy_from_user(char* dst, const char* src, long count) {
  detail::uaccess_ready();
  if (count <= 0) return 0;
  detail::check_engine_write(dst, static_cast<std::size_t>(count));
  const auto addr = reinterpret_cast<std::uint64_t>(src);
  if (addr >= kTaskSizeMax) return -EFAULT;
  // Reading stops at the end of user space, which counts as a fault.
  const auto room = static_cast<long>(kTaskSizeMax - addr);
  const long limit = count < room ? count : room;
  const long ret = iostack_strncpy_user(dst, src, limit);
  if (ret == limit && limit < count) return -EFAULT;
  return ret;
}

std::size_t fault_in_readable(const void* uaddr, std::size_t size) {
  detail::uaccess_ready();
  if (!size) return 0;
  if (!access_ok(uaddr, size)) return size;
  return size - iostack_probe_user(uaddr, size, 0);
}

std::size_t fault_in_writeable(void* uaddr, std::size_t size) {
  detail::uaccess_ready();
  if (!size) return 0;
  if (!access_ok(uaddr, size)) return size;
  return size - iostack_probe_user(uaddr, size, 1);
}

int copy_sigset_from_user(sigset_t* set, const void* uset) {
  std::uint64_t bits;
  if (get_user(bits, static_cast<const std::uint64_t*>(uset))) return -EFAULT;
  sigemptyset(set);
  for (int sig = 1; sig <= 64; ++sig)
    if (bits & (std::uint64_t{1} << (sig - 1))) sigaddset(set, sig);
  sigdelset(set, SIGSEGV);
  sigdelset(set, SIGBUS);
  return 0;
}

}  // namespace iostack::core

extern "C" void iostack_uaccess_init(void) { iostack::core::uaccess_init(); }

extern "C" __attribute__((no_sanitize("thread"))) int iostack_uaccess_fixup(int sig,
                                                                            siginfo_t* info,
                                                                            void* ucontext) {
  if ((sig != SIGSEGV && sig != SIGBUS) || !info || !ucontext) return 0;
  if (info->si_code <= 0) return 0;  // sent by kill() or raise(): not a fault
  auto* uc = static_cast<ucontext_t*>(ucontext);
  const auto ip = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  for (const ExEntry* e = iostack_uaccess_extable; e < iostack_uaccess_extable_end; ++e) {
    if (e->insn_addr() == ip) {
      uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(e->fixup_addr());
      return 1;
    }
  }
  return 0;
}

extern "C" __attribute__((no_sanitize("thread"))) void iostack_uaccess_deliver(
    struct sigaction* act, int sig, siginfo_t* info, void* ucontext) {
  const bool fault = info && info->si_code > 0;
  if (act->sa_handler == SIG_IGN && !fault) return;
  if (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN) {
    // The default action, for real: a fault happens again once we return;
    // a sent signal has to be sent again.
    iostack::core::set_default_action(sig);
    if (!fault) raise(sig);
    return;
  }
  sigset_t block = act->sa_mask;
  if (!(act->sa_flags & SA_NODEFER)) sigaddset(&block, sig);
  const bool siginfo = act->sa_flags & SA_SIGINFO;
  void (*handler)(int) = act->sa_handler;
  void (*action)(int, siginfo_t*, void*) = act->sa_sigaction;
  if (act->sa_flags & SA_RESETHAND) {
    act->sa_handler = SIG_DFL;
    act->sa_flags &= ~SA_SIGINFO;
  }
  sigset_t saved;
  pthread_sigmask(SIG_BLOCK, &block, &saved);
  if (siginfo)
    action(sig, info, ucontext);
  else
    handler(sig);
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}
