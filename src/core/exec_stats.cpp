// Counting and printing of ExecStats.
#include "core/exec_stats.hpp"

#include <unistd.h>

#include <iterator>

#include "core/aio_wait_stats.hpp"
#include "core/process.hpp"
#include "iostack/stats.h"

namespace iostack::core {
namespace {

constexpr const char* kThreadNames[] = {"timer",      "io-wq",     "sqpoll", "poll",
                                        "aio-wq",     "aio-poll",  "device", "host-aio",
                                        "host-uring", "ring-share"};
static_assert(std::size(kThreadNames) == static_cast<std::size_t>(ThreadKind::kCount));

// IORING_OP_* and IOCB_CMD_* names, by number.
constexpr const char* kUringNames[] = {"NOP",
                                       "READV",
                                       "WRITEV",
                                       "FSYNC",
                                       "READ_FIXED",
                                       "WRITE_FIXED",
                                       "POLL_ADD",
                                       "POLL_REMOVE",
                                       "SYNC_FILE_RANGE",
                                       "SENDMSG",
                                       "RECVMSG",
                                       "TIMEOUT",
                                       "TIMEOUT_REMOVE",
                                       "ACCEPT",
                                       "ASYNC_CANCEL",
                                       "LINK_TIMEOUT",
                                       "CONNECT",
                                       "FALLOCATE",
                                       "OPENAT",
                                       "CLOSE",
                                       "FILES_UPDATE",
                                       "STATX",
                                       "READ",
                                       "WRITE",
                                       "FADVISE",
                                       "MADVISE",
                                       "SEND",
                                       "RECV",
                                       "OPENAT2",
                                       "EPOLL_CTL",
                                       "SPLICE",
                                       "PROVIDE_BUFFERS",
                                       "REMOVE_BUFFERS",
                                       "TEE",
                                       "SHUTDOWN",
                                       "RENAMEAT",
                                       "UNLINKAT",
                                       "MKDIRAT",
                                       "SYMLINKAT",
                                       "LINKAT",
                                       "MSG_RING",
                                       "FSETXATTR",
                                       "SETXATTR",
                                       "FGETXATTR",
                                       "GETXATTR",
                                       "SOCKET",
                                       "URING_CMD",
                                       "SEND_ZC",
                                       "SENDMSG_ZC",
                                       "READ_MULTISHOT",
                                       "WAITID",
                                       "FUTEX_WAIT",
                                       "FUTEX_WAKE",
                                       "FUTEX_WAITV",
                                       "FIXED_FD_INSTALL",
                                       "FTRUNCATE",
                                       "BIND",
                                       "LISTEN",
                                       "RECV_ZC",
                                       "EPOLL_WAIT",
                                       "READV_FIXED",
                                       "WRITEV_FIXED",
                                       "PIPE"};
constexpr const char* kAioNames[] = {"PREAD", "PWRITE", "FSYNC",  "FDSYNC", "POLL",
                                     "NOOP",  "7",      "PREADV", "PWRITEV"};

void add_bytes(ExecStats* s, std::int64_t res, bool read, bool write) {
  if (res <= 0) return;
  if (read) s->bytes_read.fetch_add(static_cast<std::uint64_t>(res), std::memory_order_relaxed);
  if (write) s->bytes_written.fetch_add(static_cast<std::uint64_t>(res), std::memory_order_relaxed);
}

}  // namespace

std::atomic<bool> ExecStats::enabled_{false};

ExecStats& exec_stats() { return Process::current().state<ExecStats>(); }

AioWaitStats& aio_wait_stats() { return Process::current().state<AioWaitStats>(); }

void ExecStats::count_uring(unsigned opcode, std::int64_t res, bool read, bool write) {
  if (opcode < kUringOps) uring_ops[opcode].fetch_add(1, std::memory_order_relaxed);
  add_bytes(this, res, read, write);
}

void ExecStats::count_aio(unsigned cmd, std::int64_t res, bool read, bool write) {
  if (cmd < kAioCmds) aio_ops[cmd].fetch_add(1, std::memory_order_relaxed);
  add_bytes(this, res, read, write);
}

void ExecStats::thread_started(ThreadKind kind) {
  const int k = static_cast<int>(kind);
  threads_started[k].fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t live = threads_live[k].fetch_add(1, std::memory_order_relaxed) + 1;
  std::uint32_t peak = threads_peak[k].load(std::memory_order_relaxed);
  while (live > peak &&
         !threads_peak[k].compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

const char* ExecStats::thread_kind_name(ThreadKind kind) {
  return kThreadNames[static_cast<int>(kind)];
}

void ExecStats::thread_ended(ThreadKind kind) {
  threads_live[static_cast<int>(kind)].fetch_sub(1, std::memory_order_relaxed);
}

void ExecStats::print(int fd) const {
  // Formatted on the stack and written in one go: no allocation, no stdio,
  // so it may run from an _exit() interposer.
  char buf[4096];
  std::size_t n = 0;
  auto put = [&](const char* fmt, auto... args) {
    if (n < sizeof(buf)) {
      int w;
      if constexpr (sizeof...(args) == 0)
        w = std::snprintf(buf + n, sizeof(buf) - n, "%s", fmt);  // no format of its own
      else
        w = std::snprintf(buf + n, sizeof(buf) - n, fmt, args...);
      if (w > 0) n += static_cast<std::size_t>(w);
    }
  };
  put("iostack: pid %d\n  io_uring:", static_cast<int>(getpid()));
  bool any = false;
  for (int i = 0; i < kUringOps; ++i) {
    const std::uint64_t c = uring_ops[i].load(std::memory_order_relaxed);
    if (!c) continue;
    const char* name = iostack_io_uring_op_name(static_cast<unsigned>(i));
    put(" %s=%llu", name ? name : "?", static_cast<unsigned long long>(c));
    any = true;
  }
  put("%s\n  aio:", any ? "" : " none");
  any = false;
  for (int i = 0; i < kAioCmds; ++i) {
    const std::uint64_t c = aio_ops[i].load(std::memory_order_relaxed);
    if (!c) continue;
    const char* name = i < static_cast<int>(std::size(kAioNames)) ? kAioNames[i] : "?";
    put(" %s=%llu", name, static_cast<unsigned long long>(c));
    any = true;
  }
  put("%s\n  bytes: read=%llu written=%llu\n  threads started (peak):", any ? "" : " none",
      static_cast<unsigned long long>(bytes_read.load(std::memory_order_relaxed)),
      static_cast<unsigned long long>(bytes_written.load(std::memory_order_relaxed)));
  for (int k = 0; k < static_cast<int>(ThreadKind::kCount); ++k)
    put(" %s=%u(%u)", kThreadNames[k], threads_started[k].load(std::memory_order_relaxed),
        threads_peak[k].load(std::memory_order_relaxed));
  put("\n");
  const AioWaitStats& w = aio_wait_stats();
  const std::uint64_t taken = w.taken.load(std::memory_order_relaxed);
  const std::uint64_t reaped = w.reaped.load(std::memory_order_relaxed);
  if (taken != 0 || reaped != 0) {
    auto avg_us = [](std::uint64_t ns, std::uint64_t count) {
      return count != 0 ? static_cast<double>(ns) / 1000.0 / static_cast<double>(count) : 0.0;
    };
    put("  aio waits: worker queue %llu x %.1f us, ring %llu x %.1f us, io_getevents sleeps %llu,"
        " runs %llu, workers woken %llu x %.1f us\n",
        static_cast<unsigned long long>(taken),
        avg_us(w.queued_ns.load(std::memory_order_relaxed), taken),
        static_cast<unsigned long long>(reaped),
        avg_us(w.ring_ns.load(std::memory_order_relaxed), reaped),
        static_cast<unsigned long long>(w.sleeps.load(std::memory_order_relaxed)),
        static_cast<unsigned long long>(w.caller_runs.load(std::memory_order_relaxed)),
        static_cast<unsigned long long>(w.woken.load(std::memory_order_relaxed)),
        avg_us(w.wake_ns.load(std::memory_order_relaxed), w.woken.load(std::memory_order_relaxed)));
  }
  if (n > sizeof(buf)) n = sizeof(buf);
  for (std::size_t off = 0; off < n;) {
    const ssize_t w = write(fd, buf + off, n - off);
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
}

}  // namespace iostack::core

extern "C" {

void iostack_stats_enable(void) { iostack::core::ExecStats::enable(); }

void iostack_stats_print(int fd) { iostack::core::exec_stats().print(fd); }

const char* iostack_io_uring_op_name(unsigned op) {
  using iostack::core::kUringNames;
  return op < std::size(kUringNames) ? kUringNames[op] : nullptr;
}

}  // extern "C"
