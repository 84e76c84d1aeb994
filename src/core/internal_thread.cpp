// The signal mask of iostack's own threads.
#include "core/internal_thread.hpp"

namespace iostack::core {

sigset_t internal_thread_sigmask() {
  sigset_t mask;
  sigfillset(&mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, SIGTRAP}) sigdelset(&mask, sig);
  return mask;
}

}  // namespace iostack::core
