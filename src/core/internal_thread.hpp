// Threads iostack starts for its own work (AIO workers, the AIO poller):
// detached, named, and deaf to every signal but the synchronous ones, so no
// handler meant for the program ever runs on them and signals a system call
// raises there (SIGXFSZ from a write past RLIMIT_FSIZE) stay pending instead
// of killing the process.
#pragma once

#include <signal.h>

namespace iostack::core {

// The signals an internal thread leaves unblocked: those the kernel raises
// on the faulting thread itself, which cannot wait (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGSYS).
const sigset_t& synchronous_signals();

// Starts fn(arg) on a new detached thread whose signal mask blocks every
// other signal from its first instruction. `name` (at most 15 characters)
// shows in /proc/self/task/*/comm. 0, or -errno when no thread could start.
int start_internal_thread(const char* name, void (*fn)(void*), void* arg);

}  // namespace iostack::core
