// What iostack did in this process, for `iostack exec --stats`: requests
// per io_uring opcode and AIO command, bytes moved, and the internal threads
// started. Counting is off until enabled; then it costs relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>

namespace iostack::core {

enum class ThreadKind : int {
  kTimer,
  kIoWq,
  kSqPoll,
  kPoll,
  kAio,
  kAioPoll,
  kDevice,
  kHostAio,
  kHostUring,
  kRingShare,
  kCount
};

struct ExecStats {
  static constexpr int kUringOps = 64;
  static constexpr int kAioCmds = 16;

  std::atomic<std::uint64_t> uring_ops[kUringOps] = {};
  std::atomic<std::uint64_t> aio_ops[kAioCmds] = {};
  std::atomic<std::uint64_t> bytes_read{0};
  std::atomic<std::uint64_t> bytes_written{0};
  std::atomic<std::uint32_t> threads_started[static_cast<int>(ThreadKind::kCount)] = {};
  std::atomic<std::uint32_t> threads_live[static_cast<int>(ThreadKind::kCount)] = {};
  std::atomic<std::uint32_t> threads_peak[static_cast<int>(ThreadKind::kCount)] = {};

  // On for the whole process image, forked children included.
  static bool enabled() { return enabled_.load(std::memory_order_relaxed); }
  static void enable() { enabled_.store(true, std::memory_order_relaxed); }
  void count_uring(unsigned opcode, std::int64_t res, bool read, bool write);
  void count_aio(unsigned cmd, std::int64_t res, bool read, bool write);
  void thread_started(ThreadKind kind);
  void thread_ended(ThreadKind kind);
  static const char* thread_kind_name(ThreadKind kind);
  // Writes the counters to `fd` as a few readable lines.
  void print(int fd) const;

 private:
  static std::atomic<bool> enabled_;
};

// This process's counters.
ExecStats& exec_stats();

}  // namespace iostack::core
