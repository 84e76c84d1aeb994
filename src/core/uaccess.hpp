// Access to the program's memory with the kernel's uaccess semantics
// (include/linux/uaccess.h, arch/x86/include/asm/uaccess.h, mm/gup.c): a bad
// pointer makes these return an error instead of crashing the process, so
// the engine answers -EFAULT where the kernel does.
//
// How: the accessors are a few assembly routines (uaccess_x86_64.S) whose
// faulting instructions are listed in an exception table; a SIGSEGV/SIGBUS
// handler, installed once on first use, resumes a fault at such an
// instruction at its fixup, and passes every other fault on to the handler
// that was there before it, as if it were not there. No system call on the
// fast path.
//
// Limits: a thread that blocks SIGSEGV/SIGBUS dies on a bad pointer (the
// kernel forces the default action on a blocked fault); a handler the
// program installs after iostack's replaces it unless the program runs with
// the LD_PRELOAD shim, whose sigaction() keeps iostack's handler first.
#pragma once

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <type_traits>

extern "C" {
std::size_t iostack_copy_user(void* dst, const void* src, std::size_t n);
long iostack_strncpy_user(char* dst, const char* src, long count);
std::size_t iostack_probe_user(const void* p, std::size_t n, int write);
#if defined(__SANITIZE_ADDRESS__)
void __asan_loadN(void* addr, std::size_t size);
void __asan_storeN(void* addr, std::size_t size);
#endif
#if defined(__SANITIZE_THREAD__)
void __tsan_read_range(void* addr, unsigned long size);
void __tsan_write_range(void* addr, unsigned long size);
#endif
}

namespace iostack::core {

// TASK_SIZE_MAX of x86-64 with 4-level page tables: user addresses lie below.
constexpr std::uint64_t kTaskSizeMax = 0x00007ffffffff000ull;
constexpr std::size_t kPageSize = 4096;  // PAGE_SIZE: the granule of a fault

// Installs the fault handler (once; later calls return at once). The
// accessors below call it themselves.
void uaccess_init();
// For an engine thread that uses the accessors: unblocks SIGSEGV and SIGBUS,
// which it may have inherited blocked from whoever created it.
void uaccess_thread_init();

namespace detail {
extern std::atomic<bool> g_uaccess_ready;
inline void uaccess_ready() {
  if (__builtin_expect(!g_uaccess_ready.load(std::memory_order_acquire), 0)) uaccess_init();
}
// The engine's side of a copy is ordinary memory: let the sanitizers see
// the access the assembly makes there (kasan_check_read/write).
inline void check_engine_read(const void* p, std::size_t n) {
#if defined(__SANITIZE_ADDRESS__)
  if (n) __asan_loadN(const_cast<void*>(p), n);
#endif
#if defined(__SANITIZE_THREAD__)
  if (n) __tsan_read_range(const_cast<void*>(p), n);
#endif
  (void)p;
  (void)n;
}
inline void check_engine_write(void* p, std::size_t n) {
#if defined(__SANITIZE_ADDRESS__)
  if (n) __asan_storeN(p, n);
#endif
#if defined(__SANITIZE_THREAD__)
  if (n) __tsan_write_range(p, n);
#endif
  (void)p;
  (void)n;
}
}  // namespace detail

// access_ok(): [addr, addr + size) lies in user space (no wrap, below
// TASK_SIZE_MAX). Says nothing about what is mapped there.
inline bool access_ok(const void* addr, std::size_t size) {
  const auto a = reinterpret_cast<std::uint64_t>(addr);
  return a < kTaskSizeMax && size <= kTaskSizeMax - a;
}

// The address of the `T` at byte `offset` of a user object or array, made
// without member access or array indexing: a user pointer may be null,
// misaligned or wild, which C++ does not allow those on.
template <typename T>
T* user_field(const void* base, std::size_t offset) {
  return reinterpret_cast<T*>(reinterpret_cast<std::uintptr_t>(base) + offset);
}

// Returns how many bytes were NOT copied: 0 on success. The bytes before the
// faulting one are copied; the rest of `to` is zeroed (as the kernel's
// copy_from_user does, so no stale data leaks).
std::size_t copy_from_user_fail(void* to, std::size_t n, std::size_t left);
[[nodiscard]] inline std::size_t copy_from_user(void* to, const void* from, std::size_t n) {
  detail::uaccess_ready();
  detail::check_engine_write(to, n);
  if (!access_ok(from, n)) return copy_from_user_fail(to, n, n);
  const std::size_t left = iostack_copy_user(to, from, n);
  return __builtin_expect(left != 0, 0) ? copy_from_user_fail(to, n, left) : 0;
}

// Returns how many bytes were NOT copied: 0 on success; the bytes before the
// faulting one are written.
[[nodiscard]] inline std::size_t copy_to_user(void* to, const void* from, std::size_t n) {
  detail::uaccess_ready();
  detail::check_engine_read(from, n);
  if (!access_ok(to, n)) return n;
  return iostack_copy_user(to, from, n);
}

// get_user / put_user: 0 or -EFAULT (get_user zeroes `x` on a fault).
template <typename T>
[[nodiscard]] int get_user(T& x, const T* uptr) {
  static_assert(std::is_trivially_copyable_v<T>);
  return copy_from_user(&x, uptr, sizeof(T)) ? -EFAULT : 0;
}
template <typename T>
[[nodiscard]] int put_user(const T& x, T* uptr) {
  static_assert(std::is_trivially_copyable_v<T>);
  return copy_to_user(uptr, &x, sizeof(T)) ? -EFAULT : 0;
}

// strncpy_from_user (lib/strncpy_from_user.c): copies a NUL-terminated
// string of at most `count` bytes into `dst`. Returns its length without
// the NUL; `count` when there is no NUL within `count` bytes (`dst` is then
// not terminated); -EFAULT when the string runs into memory that cannot be
// read.
[[nodiscard]] long strncpy_from_user(char* dst, const char* src, long count);

// The pin check of get_user_pages / pin_user_pages (mm/gup.c) for memory a
// driver will access later, maybe from another thread: touches every page
// of [uaddr, uaddr + size) for reading (the device reads it: a write I/O)
// or for writing (a read I/O; nothing is changed). Like the kernel's
// fault_in_readable / fault_in_writeable, returns how many bytes at the END
// of the range are not accessible: 0 when all are, else size minus the
// offset of the first page that faulted.
[[nodiscard]] std::size_t fault_in_readable(const void* uaddr, std::size_t size);
[[nodiscard]] std::size_t fault_in_writeable(void* uaddr, std::size_t size);

// The sigset_t copy of set_user_sigmask(): the kernel's 8-byte mask into a
// libc sigset_t; 0 or -EFAULT. SIGSEGV and SIGBUS are left out of it: the
// kernel never holds back a fault, and the engine keeps using the accessors
// while the mask is in force.
[[nodiscard]] int copy_sigset_from_user(sigset_t* set, const void* uset);

}  // namespace iostack::core
