// Runs a test step in a forked child, so that it starts with no AIO
// workers, may change process-wide state (resource limits, capabilities,
// signal dispositions, the worker pool's bounds) and may be killed by a
// signal, all without touching the test binary. The child is bounded by an
// alarm; its result comes back through a pipe.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>

#include "threads.hpp"

namespace iostack::aio::testing {

// Under the sanitizers (GCC 12's runtimes) the child of a process that has
// threads already -- an earlier test's workers, when the whole binary runs in
// one process -- cannot reliably start threads: ThreadSanitizer refuses, and
// AddressSanitizer's allocator locks are copied in whatever state the other
// threads held them. ctest runs each test in a fresh, single-threaded
// process.
inline bool child_cannot_start_threads() {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  return process_threads().size() > 1;
#else
  return false;
#endif
}

#define SKIP_IF_CHILD_CANNOT_START_THREADS()                                              \
  do {                                                                                    \
    if (::iostack::aio::testing::child_cannot_start_threads())                            \
      GTEST_SKIP() << "sanitizer runtime: no threads in the child of a threaded process"; \
  } while (0)

template <typename R>
struct ChildOutcome {
  bool got_result = false;  // the child finished `fn` and reported
  int exit_status = -1;     // when it exited
  int signal = 0;           // when a signal ended it
  R result{};
};

// Calls fn(R&) in a child that ends with _exit(0); after `timeout_s`
// seconds SIGALRM ends it instead (a deadlock shows as signal SIGALRM).
template <typename R, typename Fn>
ChildOutcome<R> run_in_child(Fn fn, unsigned timeout_s = 30) {
  static_assert(std::is_trivially_copyable_v<R>);
  ChildOutcome<R> out;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return out;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    ::signal(SIGALRM, SIG_DFL);
    ::alarm(timeout_s);
    R r{};
    fn(r);
    const ssize_t n = ::write(p[1], &r, sizeof(r));
    ::_exit(n == static_cast<ssize_t>(sizeof(r)) ? 0 : 125);
  }
  ::close(p[1]);
  R r{};
  std::size_t got = 0;
  while (got < sizeof(r)) {
    const ssize_t n = ::read(p[0], reinterpret_cast<char*>(&r) + got, sizeof(r) - got);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.got_result = got == sizeof(r);
  out.result = r;
  if (WIFEXITED(status)) out.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

}  // namespace iostack::aio::testing
