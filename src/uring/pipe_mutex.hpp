// A pipe's mutex (pipe_inode_info::mutex, fs/pipe.c) as splice(2) and
// tee(2) on io-wq meet it. The host's pipe is never locked across a wait
// here (the worker waits on poll, so that a cancel can end it), so the
// mutex a kernel splice holds while it waits for a socket is kept here.
#pragma once

#include <sys/types.h>

namespace iostack::uring {

// A pipe, by its inode: both of its ends name the same one.
struct PipeId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool valid() const { return ino != 0; }
  bool operator==(const PipeId&) const = default;
};

// Holds the mutexes of up to two pipes; released at destruction.
class PipeMutexGuard {
 public:
  PipeMutexGuard() = default;
  ~PipeMutexGuard() { unlock(); }
  PipeMutexGuard(const PipeMutexGuard&) = delete;
  PipeMutexGuard& operator=(const PipeMutexGuard&) = delete;

  // Takes `a` and `b` (invalid ids are skipped) once no one else holds
  // either. On an io-wq worker the wait sleeps as mutex_lock does, which a
  // cancel does not end: true when one came meanwhile (the kernel's splice
  // sees the cancel's signal once it has the mutex).
  bool lock(PipeId a, PipeId b);
  void unlock();

 private:
  PipeId held_[2];
};

}  // namespace iostack::uring
