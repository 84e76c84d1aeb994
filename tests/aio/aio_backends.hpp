// The two AIO implementations the tests compare: the kernel's (raw system
// calls) and iostack's (the C API), behind one table of function pointers,
// plus small helpers for iocbs and temporary files.
#pragma once

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/host_uring.hpp"
#include "iostack/aio.h"

namespace iostack::aio::testing {

struct AioBackend {
  const char* name;
  long (*setup)(unsigned nr_events, aio_context_t* ctxp);
  long (*destroy)(aio_context_t ctx);
  long (*submit)(aio_context_t ctx, long nr, struct iocb** iocbpp);
  long (*getevents)(aio_context_t ctx, long min_nr, long nr, struct io_event* ev,
                    struct timespec* ts);
  long (*pgetevents)(aio_context_t ctx, long min_nr, long nr, struct io_event* ev,
                     struct timespec* ts, const void* usig);
  long (*cancel)(aio_context_t ctx, struct iocb* iocb, struct io_event* res);
};

inline long sys_ret(long r) { return r < 0 ? -errno : r; }

inline const AioBackend& kernel_aio() {
  static const AioBackend b = {
      "kernel",
      [](unsigned n, aio_context_t* c) { return sys_ret(::syscall(SYS_io_setup, n, c)); },
      [](aio_context_t c) { return sys_ret(::syscall(SYS_io_destroy, c)); },
      [](aio_context_t c, long nr, struct iocb** p) {
        return sys_ret(::syscall(SYS_io_submit, c, nr, p));
      },
      [](aio_context_t c, long mn, long nr, struct io_event* e, struct timespec* t) {
        return sys_ret(::syscall(SYS_io_getevents, c, mn, nr, e, t));
      },
      [](aio_context_t c, long mn, long nr, struct io_event* e, struct timespec* t, const void* s) {
        return sys_ret(::syscall(SYS_io_pgetevents, c, mn, nr, e, t, s));
      },
      [](aio_context_t c, struct iocb* i, struct io_event* r) {
        return sys_ret(::syscall(SYS_io_cancel, c, i, r));
      },
  };
  return b;
}

inline const AioBackend& iostack_aio() {
  static const AioBackend b = {
      "iostack",
      [](unsigned n, aio_context_t* c) { return static_cast<long>(iostack_io_setup(n, c)); },
      [](aio_context_t c) { return static_cast<long>(iostack_io_destroy(c)); },
      [](aio_context_t c, long nr, struct iocb** p) { return iostack_io_submit(c, nr, p); },
      [](aio_context_t c, long mn, long nr, struct io_event* e, struct timespec* t) {
        return iostack_io_getevents(c, mn, nr, e, t);
      },
      [](aio_context_t c, long mn, long nr, struct io_event* e, struct timespec* t, const void* s) {
        return iostack_io_pgetevents(c, mn, nr, e, t,
                                     static_cast<const struct iostack_aio_sigset*>(s));
      },
      [](aio_context_t c, struct iocb* i, struct io_event* r) {
        return static_cast<long>(iostack_io_cancel(c, i, r));
      },
  };
  return b;
}

// For tests of iostack's worker pool: O_DIRECT I/O goes to the workers
// while this lives, not to the kernel's io_uring.
struct WorkersServeDirectIo {
  WorkersServeDirectIo() { core::host_uring_allow(false); }
  ~WorkersServeDirectIo() { core::host_uring_allow(true); }
  WorkersServeDirectIo(const WorkersServeDirectIo&) = delete;
  WorkersServeDirectIo& operator=(const WorkersServeDirectIo&) = delete;
};

using AioRingHeader = iostack_aio_ring;
inline AioRingHeader* ring_of(aio_context_t ctx) { return reinterpret_cast<AioRingHeader*>(ctx); }

// Whether the event of `cb` is in the ring now (between head and tail),
// read the way a program reaping from the ring reads it.
inline bool event_in_ring(aio_context_t ctx, const struct iocb* cb) {
  AioRingHeader* r = ring_of(ctx);
  const unsigned nr = r->nr;
  unsigned head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  const unsigned tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
  const auto* ev = reinterpret_cast<const struct io_event*>(r + 1);
  for (; head != tail; head = (head + 1) % nr) {
    if (ev[head].obj == reinterpret_cast<std::uintptr_t>(cb)) return true;
  }
  return false;
}

// Whether this kernel serves the AIO system calls here (a seccomp profile
// or a kernel without CONFIG_AIO refuses them).
inline bool kernel_has_aio() {
  aio_context_t ctx = 0;
  if (kernel_aio().setup(1, &ctx) != 0) return false;
  kernel_aio().destroy(ctx);
  return true;
}

inline struct iocb make_iocb(int fd, int opcode, void* buf = nullptr, std::uint64_t nbytes = 0,
                             std::int64_t offset = 0, std::uint64_t data = 0) {
  struct iocb cb;
  std::memset(&cb, 0, sizeof(cb));
  cb.aio_fildes = static_cast<std::uint32_t>(fd);
  cb.aio_lio_opcode = static_cast<std::uint16_t>(opcode);
  cb.aio_buf = reinterpret_cast<std::uintptr_t>(buf);
  cb.aio_nbytes = nbytes;
  cb.aio_offset = offset;
  cb.aio_data = data;
  return cb;
}

// Submits one iocb.
inline long submit1(const AioBackend& b, aio_context_t ctx, struct iocb* cb) {
  struct iocb* p = cb;
  return b.submit(ctx, 1, &p);
}

// Waits (1 s at most) for exactly one event.
inline long reap1(const AioBackend& b, aio_context_t ctx, struct io_event* ev) {
  struct timespec ts = {1, 0};
  return b.getevents(ctx, 1, 1, ev, &ts);
}

// A file in a directory on a real file system (O_DIRECT needs one), removed
// on destruction.
class TempFile {
 public:
  // In `dir`, or IOSTACK_TEST_DIR, or /var/tmp.
  explicit TempFile(std::size_t size = 0, const char* dir = nullptr) {
    if (dir == nullptr) dir = std::getenv("IOSTACK_TEST_DIR");
    path_ = std::string(dir != nullptr ? dir : "/var/tmp") + "/iostack-aio-XXXXXX";
    fd_ = ::mkstemp(path_.data());
    if (fd_ >= 0 && size > 0) {
      std::string pattern(size, '\0');
      for (std::size_t i = 0; i < size; ++i) pattern[i] = static_cast<char>('a' + (i * 7) % 26);
      ssize_t w = ::pwrite(fd_, pattern.data(), size, 0);
      (void)w;
      ::fsync(fd_);
    }
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  int reopen(int flags) const { return ::open(path_.c_str(), flags); }

 private:
  std::string path_;
  int fd_ = -1;
};

// Pins the calling thread to one CPU, so per-CPU request budgets compare.
class PinCpu {
 public:
  PinCpu() {
    ::sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    ok_ = ::sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinCpu() { ::sched_setaffinity(0, sizeof(old_), &old_); }
  bool ok() const { return ok_; }

 private:
  cpu_set_t old_;
  bool ok_ = false;
};

}  // namespace iostack::aio::testing
