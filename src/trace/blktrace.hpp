// Per-device blktrace writer: mirrors struct blk_trace and __blk_add_trace()
// (kernel/trace/blktrace.c) with the per-cpu relay files that the blktrace
// tool would have written, so blkparse and btt read the output unchanged.
// add*() and flush() may be called from any number of threads at once; each
// cpu has its own buffer and lock. Destroy it only after all callers stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "trace/blktrace_api.hpp"

namespace iostack::trace {

class BlkTrace {
 public:
  // Starts a trace of device `dev` (kernel_mkdev(major, minor)) into files
  // <dir>/<devname>.blktrace.<cpu>; '/' in devname becomes '_' as in the
  // kernel. Record times are ns since `start_time` on the caller's clock.
  // Returns nullptr and sets *err when the files cannot be created.
  // `simulated` (a device on a virtual clock): one file (cpu 0) and a
  // TIMESTAMP note of 0, so that a repeated simulation writes the same bytes.
  static std::unique_ptr<BlkTrace> open(const std::string& dir, const std::string& devname,
                                        std::uint32_t dev, core::Nanos start_time, std::string* err,
                                        bool simulated = false);

  // Flushes and closes; removes trailing cpu files that received nothing.
  ~BlkTrace();
  BlkTrace(const BlkTrace&) = delete;
  BlkTrace& operator=(const BlkTrace&) = delete;

  // Records one event on the calling thread's cpu. `action` is a kBlkTa*
  // value (rq_action() for request events); `cats` are tc_act()-shifted
  // category bits, usually from categories(). `pid` < 0 means the calling
  // thread. `error` is what the kernel stores: the errno as a negative int
  // truncated to 16 bits (0 on success).
  void add(core::Nanos now, std::uint64_t sector, std::uint32_t bytes, std::uint32_t cats,
           std::uint32_t action, std::uint16_t error, const void* pdu = nullptr,
           std::uint16_t pdu_len = 0, std::int32_t pid = -1);

  // Maps a bio/request's op and flags to tc_act()-shifted categories the way
  // __blk_add_trace() does. `write` is op_is_write(op); a discard is a write
  // op in the kernel, so discard implies WRITE here too.
  static std::uint32_t categories(bool write, bool sync, bool rahead, bool meta, bool preflush,
                                  bool fua, bool discard, bool flush_op);

  // P: plug started (sector 0, no size; the kernel's op 0 makes it READ).
  void add_plug(core::Nanos now, std::int32_t pid = -1);
  // U (explicit) or UT (timer/schedule): pdu is the big-endian u64 depth.
  void add_unplug(core::Nanos now, std::uint32_t depth, bool explicit_unplug,
                  std::int32_t pid = -1);
  // X: the bio at `sector` was split; `new_sector` (big-endian u64 pdu) is
  // where the remainder starts. sector/bytes/cats describe the front part.
  void add_split(core::Nanos now, std::uint64_t sector, std::uint32_t bytes, std::uint32_t cats,
                 std::uint64_t new_sector, std::uint16_t error = 0, std::int32_t pid = -1);
  // A: a bio now at `sector` on this device came from (dev_from, sector_from).
  void add_remap(core::Nanos now, std::uint64_t sector, std::uint32_t bytes, std::uint32_t cats,
                 std::uint32_t dev_from, std::uint64_t sector_from, std::int32_t pid = -1);

  // Writes buffered records to the files. False (and *err) on a write error.
  bool flush(std::string* err = nullptr);

  std::uint32_t device() const { return dev_; }
  // "<dir>/<devname>.blktrace." ; append the cpu number for a file name.
  const std::string& path_prefix() const { return prefix_; }
  // Records lost to write errors (the kernel's "dropped" file).
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  // One cpu's relay channel: its own lock, sequence counter and output file, so
  // submitters and completers on different cpus never contend.
  struct CpuBuf {
    core::Mutex mu;
    std::uint32_t cpu = 0;
    int fd = -1;
    std::string path;
    std::uint32_t sequence GUARDED_BY(mu) = 0;  // last event number used
    bool started GUARDED_BY(mu) = false;        // TIMESTAMP note written, buffer allocated
    // sorted; a PROCESS note was written for these
    std::vector<std::int32_t> pids GUARDED_BY(mu);
    std::vector<char> buf GUARDED_BY(mu);
    std::size_t used GUARDED_BY(mu) = 0;
    // records in buf, counted as dropped if the write fails
    std::uint64_t pending GUARDED_BY(mu) = 0;
    std::string error GUARDED_BY(mu);  // first write error
  };

  BlkTrace(std::string prefix, std::uint32_t dev, core::Nanos start_time, int ncpus);
  CpuBuf& this_cpu();
  void note(CpuBuf& b, std::uint64_t time, std::uint32_t pid, std::uint32_t action,
            const void* data, std::uint16_t len) REQUIRES(b.mu);
  void append(CpuBuf& b, const void* data, std::size_t len) REQUIRES(b.mu);
  bool write_out(CpuBuf& b) REQUIRES(b.mu);

  const std::string prefix_;
  const std::uint32_t dev_;
  const core::Nanos start_time_;
  std::uint32_t wall_sec_ = 0;  // wall clock at start, for the TIMESTAMP note
  std::uint32_t wall_nsec_ = 0;
  std::vector<std::unique_ptr<CpuBuf>> cpus_;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace iostack::trace
