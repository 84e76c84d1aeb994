// The process as iostack sees it, one object owning what the kernel keeps
// per process (files_struct, mm->ioctx_table, the io_uring and AIO service
// threads): the descriptor table and one instance of each layer's
// process-wide state. A child made by fork() gets a fresh one, because the
// parent's threads, and the locks they held at the fork, do not exist there.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

#include "core/fd_table.hpp"

namespace iostack::core {

class Process {
 public:
  // The calling process's (created on first use, replaced in a forked child).
  static Process& current();

  FdTable& files() { return files_; }
  // The open files iostack holds for the program's own descriptors, by
  // descriptor number (held_file.cpp).
  FdTable& held_files() { return held_files_; }

  // The process-wide instance of T (a layer's service thread, its tables),
  // made on first use with T's default constructor. Never destroyed: threads
  // of the process may use it while static objects are torn down at exit.
  template <class T>
  T& state() {
    void* p = slots_[slot_of<T>()].load(std::memory_order_acquire);
    if (!p) p = make(slot_of<T>(), [] { return static_cast<void*>(new T()); });
    return *static_cast<T*>(p);
  }
  // The instance of T if one was made already, else null.
  template <class T>
  T* find_state() {
    return static_cast<T*>(slots_[slot_of<T>()].load(std::memory_order_acquire));
  }

  // How many times this process image has been forked from: thread-local
  // caches of per-process facts (the thread id) compare against it.
  static unsigned fork_generation();

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

 private:
  static constexpr std::size_t kMaxSlots = 64;

  Process() = default;
  ~Process() = default;
  static std::size_t next_slot();
  template <class T>
  static std::size_t slot_of() {
    static const std::size_t slot = next_slot();
    return slot;
  }
  void* make(std::size_t slot, void* (*create)());
  static void fork_child();

  FdTable files_;
  FdTable held_files_;
  std::atomic<void*> slots_[kMaxSlots]{};
  std::once_flag once_[kMaxSlots];
};

// close(2) of a descriptor that may hold an iostack file: the file leaves
// the table first (so no lookup finds it at a number the OS may reuse) and
// is released once its last reference goes. 0 or -errno.
int close_fd(int fd);

// gettid() and getpid(), cached and correct in a forked child.
int current_tid();
int current_pid();

}  // namespace iostack::core
