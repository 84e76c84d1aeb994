// core::Mutex, core::SpinLock, their guards and core::CondVar: locks whose rules clang checks.
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "core/thread_safety.hpp"

namespace iostack::core {

// How many of these locks the calling thread holds (shared holds aside).
// Code the program's own calls reach from inside the engine (a write the
// engine makes through an interposed libc) asks before taking others.
// Initial-exec: a lock is taken per I/O, a TLS lookup call would cost more.
[[gnu::tls_model("initial-exec")]] inline thread_local int t_locks_held = 0;
inline bool holds_locks() { return t_locks_held != 0; }

// Debug builds remember which thread holds a lock, so that assert_held()
// (the kernel's lockdep_assert_held) can check it at run time; release
// builds keep only the count above. The analysis checks the same statically.
class LockOwner {
 public:
#ifndef NDEBUG
  void set() {
    ++t_locks_held;
    owner_.store(self(), std::memory_order_relaxed);
  }
  void clear() {
    --t_locks_held;
    owner_.store(nullptr, std::memory_order_relaxed);
  }
  bool mine() const { return owner_.load(std::memory_order_relaxed) == self(); }

 private:
  static const void* self() {
    static thread_local const char me = 0;
    return &me;
  }
  std::atomic<const void*> owner_{nullptr};
#else
  void set() { ++t_locks_held; }
  void clear() { --t_locks_held; }
  bool mine() const { return true; }
#endif
};

// A sleeping lock (the kernel's struct mutex, or a spinlock_t taken where
// sleeping is fine): std::mutex with its rules visible to the analysis.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    owner_.set();
  }
  void unlock() RELEASE() {
    owner_.clear();
    mu_.unlock();
  }
  bool try_lock() TRY_ACQUIRE(true) {
    if (!mu_.try_lock()) return false;
    owner_.set();
    return true;
  }
  // lockdep_assert_held: checked in debug builds; from here on the analysis
  // treats the lock as held.
  void assert_held() const ASSERT_CAPABILITY(this) { assert(owner_.mine()); }

 private:
  friend class CondVar;
  std::mutex mu_;
  LockOwner owner_;
};

// spinlock_t for short sections on hot paths (completion_lock,
// timeout_lock): spins, then yields the CPU.
class CAPABILITY("spinlock") SpinLock {
 public:
  SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() ACQUIRE() {
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) break;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          std::this_thread::yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
    owner_.set();
  }
  void unlock() RELEASE() {
    owner_.clear();
    locked_.store(false, std::memory_order_release);
  }
  // Someone holds it now (a hint: it may be free by the time this returns).
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }
  bool try_lock() TRY_ACQUIRE(true) {
    if (locked_.load(std::memory_order_relaxed) ||
        locked_.exchange(true, std::memory_order_acquire))
      return false;
    owner_.set();
    return true;
  }
  void assert_held() const ASSERT_CAPABILITY(this) { assert(owner_.mine()); }

 private:
  std::atomic<bool> locked_{false};
  LockOwner owner_;
};

// A reader-writer lock (rw_semaphore): lookups share it, changes own it.
class CAPABILITY("rwlock") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() {
    mu_.lock();
    owner_.set();
  }
  void unlock() RELEASE() {
    owner_.clear();
    mu_.unlock();
  }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }
  // Debug builds check an exclusive hold only (readers are not recorded).
  void assert_held() const ASSERT_CAPABILITY(this) { assert(owner_.mine()); }

 private:
  std::shared_mutex mu_;
  LockOwner owner_;
};

// lockdep_assert_held(&lock) spelled as the kernel spells it.
inline void lockdep_assert_held(const Mutex& m) ASSERT_CAPABILITY(m) { m.assert_held(); }
inline void lockdep_assert_held(const SpinLock& l) ASSERT_CAPABILITY(l) { l.assert_held(); }

// Holds `m` for a scope (guard(mutex) / scoped_guard in the kernel).
template <typename M>
class SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(M& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~LockGuard() RELEASE() { m_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  M& m_;
};

// Holds `m` shared for a scope (down_read / up_read).
template <typename M>
class SCOPED_CAPABILITY SharedLockGuard {
 public:
  explicit SharedLockGuard(M& m) ACQUIRE_SHARED(m) : m_(m) { m_.lock_shared(); }
  ~SharedLockGuard() RELEASE() { m_.unlock_shared(); }
  SharedLockGuard(const SharedLockGuard&) = delete;
  SharedLockGuard& operator=(const SharedLockGuard&) = delete;

 private:
  M& m_;
};

// Holds `m` for a scope but may drop and retake it (and wait on a CondVar).
template <typename M>
class SCOPED_CAPABILITY UniqueLock {
 public:
  explicit UniqueLock(M& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~UniqueLock() RELEASE() {
    if (owns_) m_.unlock();
  }
  UniqueLock(const UniqueLock&) = delete;
  UniqueLock& operator=(const UniqueLock&) = delete;

  void lock() ACQUIRE() {
    m_.lock();
    owns_ = true;
  }
  void unlock() RELEASE() {
    owns_ = false;
    m_.unlock();
  }
  M& mutex() const { return m_; }

 private:
  M& m_;
  bool owns_ = true;
};

// A condition variable on a core::Mutex. The waits take no predicate: a
// caller loops on its condition itself, where the analysis sees the lock
// held (a predicate lambda would be checked as a function of its own).
class CondVar {
 public:
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

  void wait(UniqueLock<Mutex>& l) {
    Adopted a(l.mutex());
    cv_.wait(a.lock);
  }
  template <typename Clock, typename Duration>
  std::cv_status wait_until(UniqueLock<Mutex>& l,
                            const std::chrono::time_point<Clock, Duration>& deadline) {
    Adopted a(l.mutex());
    return cv_.wait_until(a.lock, deadline);
  }
  template <typename Rep, typename Period>
  std::cv_status wait_for(UniqueLock<Mutex>& l, const std::chrono::duration<Rep, Period>& d) {
    return wait_until(l, std::chrono::steady_clock::now() + d);
  }

 private:
  // The std::mutex under `m`, held by this thread, lent to the wait.
  static std::mutex& native(Mutex& m) { return m.mu_; }
  static LockOwner& owner(Mutex& m) { return m.owner_; }
  struct Adopted {
    explicit Adopted(Mutex& m) : m_(m), lock(native(m), std::adopt_lock) { owner(m_).clear(); }
    ~Adopted() {
      lock.release();
      owner(m_).set();
    }
    Mutex& m_;
    std::unique_lock<std::mutex> lock;
  };
  std::condition_variable cv_;
};

}  // namespace iostack::core
