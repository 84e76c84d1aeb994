// One job thread (fio's thread_main and do_io): keeps up to iodepth I/Os in
// flight through the engine, submits in batches of iodepth_batch_submit,
// reaps at least iodepth_batch_complete_min when the queue is full, and
// measures submission, completion and total latency of each I/O. A writing
// job with verify reads everything back afterwards and checks it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "job/engine.hpp"
#include "job/io_gen.hpp"
#include "job/io_log.hpp"
#include "job/io_unit.hpp"
#include "job/job_builder.hpp"
#include "job/rand.hpp"
#include "job/targets.hpp"
#include "job/thread_stat.hpp"
#include "job/virtual_time.hpp"
#include "job/write_iolog.hpp"

namespace iostack::job {

// What the progress line reads while the job runs.
struct JobProgress {
  std::atomic<std::uint64_t> bytes[2]{};
  std::atomic<std::uint64_t> ios[2]{};
  std::atomic<int> state{0};           // 0 waiting, 1 ramp, 2 running, 3 verifying, 4 done
  std::atomic<unsigned> in_flight{0};  // I/Os handed to the engine, not yet reaped
};

class Worker {
 public:
  Worker(const JobDef& def, int clone, dev::BlockDevice* dev, const JobRange& range,
         std::uint64_t seed);
  ~Worker();
  // Engine and buffers, before any job starts. False with one line in *err.
  bool setup(std::string* err);
  // Replays count from `t` (now_ns) rather than from the thread's own start,
  // so that jobs replaying one trace keep their relative timing.
  void set_replay_epoch(std::uint64_t t) { replay_epoch_ = t; }
  // fio's thread_number (1-based, clones included), which names log files.
  void set_thread_number(int n) { thread_number_ = n; }
  // clock=virtual: the job runs as participant `id` of `vt` (before setup).
  void set_virtual_time(VirtualTime* vt, int id) {
    vt_ = vt;
    vt_id_ = id;
  }
  // The pid the report shows: the thread's tid, or in virtual time
  // VirtualTime::kPidBase + the thread number, the same on every run.
  int report_pid() const;
  int vt_id() const { return vt_id_; }
  // The thread body: waits for *go, runs, fills stat().
  void run(const std::atomic<bool>* go);

  const JobDef& def() const { return def_; }
  ThreadStat& stat() { return ts_; }
  JobProgress& progress() { return progress_; }
  const JobProgress& progress() const { return progress_; }
  // Bytes the job means to move (0 when time-based), for the ETA.
  std::uint64_t planned_bytes() const { return opts_.time_based ? 0 : io_limit_; }

 private:
  enum class Prep { kOk, kDone, kThrottled };

  void do_io(bool verify_phase);
  Prep prep_main(IoUnit* u, std::uint64_t now);
  Prep prep_verify(IoUnit* u);
  Prep prep_replay(IoUnit* u, std::uint64_t now);
  void do_trim(IoUnit* u, std::uint64_t now);
  void commit();
  void reap(unsigned min);
  void complete(IoUnit* u, std::uint64_t now);
  void end_ramp(std::uint64_t now);
  void sample(std::uint64_t now, bool force);
  void fail(int err, const std::string& what);
  void set_ioprio();
  void join_cgroup();
  void leave_cgroup();
  std::uint16_t job_ioprio() const;
  void print_engine_stats() const;
  void drain();
  void sync_file();
  void log_io(const IoUnit* u, std::uint64_t now);
  bool loop_end_sync() const;
  bool loop_verifies() const;
  void verify_phase();
  void plan_verify_only();
  void think();
  // Time on the job's clock: CLOCK_MONOTONIC, or the virtual clock.
  std::uint64_t clock_ns() const;
  bool stuck() const { return vt_ && vt_->stuck(); }
  // Waits until `t` on the job's clock (or, in virtual time, an earlier
  // completion of its own I/O); false when nothing is left to wait for.
  bool sleep_until(std::uint64_t t);

  const JobDef& def_;
  const JobOptions& opts_;
  dev::BlockDevice* dev_;
  JobRange range_;
  std::unique_ptr<Engine> engine_;
  IoGen gen_;
  std::uint64_t seed_;
  Rand rand_verify_;

  std::uint8_t* mem_ = nullptr;
  std::vector<IoUnit> units_;
  std::vector<IoUnit*> free_;
  std::vector<IoUnit*> queued_;
  std::vector<IoUnit*> events_;
  unsigned iodepth_ = 1, batch_ = 1, complete_min_ = 1, iodepth_low_ = 1;
  unsigned cur_depth_ = 0;

  std::uint64_t io_limit_ = 0;
  std::uint64_t number_ios_ = 0;  // I/Os to issue at most (0: no limit)
  std::uint64_t bytes_issued_ = 0, ios_issued_ = 0;
  std::uint32_t numberio_ = 0;
  std::uint64_t stats_start_ = 0;
  bool in_ramp_ = false;
  std::uint64_t rate_period_[kRwDirs] = {0, 0, 0};  // rate_iops: ns per I/O
  std::uint64_t rate_next_[kRwDirs] = {0, 0, 0};
  // rate=: the next I/O is due rate_bytes_ * 1e9 / bps after rate_base_.
  std::uint64_t rate_base_[kRwDirs] = {0, 0, 0};
  std::uint64_t rate_bytes_[kRwDirs] = {0, 0, 0};
  // thinktime: blocks issued and completed, and the count at the last think.
  std::uint64_t think_issued_ = 0, think_done_ = 0, think_last_ = 0;

  // Replay: the log (shared by clones; offsets are moved onto this job's
  // range as each I/O is issued), the next entry, and when the replay
  // started (entries are due relative to it).
  const std::vector<ReplayIo>* replay_log_ = nullptr;
  std::uint32_t replay_align_ = 512;
  std::size_t replay_pos_ = 0;
  bool replaying_ = false;
  std::uint64_t replay_start_ = 0;
  std::uint64_t replay_epoch_ = 0;

  // Blocks written for the verify phase, as fio's io_piece log keeps them:
  // with a random map in the order issued (each block is written once), else
  // by offset (offset -> length), the newest write of a range winning.
  std::map<std::uint64_t, std::uint32_t> written_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> written_list_;
  bool verify_in_order_ = false;
  std::vector<std::pair<std::uint64_t, std::uint32_t>>::const_iterator verify_it_;
  // A write to remember for the verify phase.
  void log_write(std::uint64_t off, std::uint32_t len);
  bool verify_reads_ = false;  // reads are checked as they complete

  std::uint64_t win_start_ = 0;
  std::uint64_t win_bytes_[2] = {0, 0}, win_ios_[2] = {0, 0};
  std::uint64_t done_bytes_[2] = {0, 0}, done_ios_[2] = {0, 0};

  // fio's log files, when the job asks for any; times count from log_epoch_.
  std::unique_ptr<JobLogs> logs_;
  std::uint64_t log_epoch_ = 0;
  std::uint16_t default_ioprio_ = 0;
  int thread_number_ = 1;
  // write_iolog: every I/O as it is issued.
  std::unique_ptr<IologWriter> iolog_;
  bool last_was_sync_ = false;  // fio's: no fsync right after one
  // A loop ended and its end_fsync/verify are due (loop_end_), or were done
  // and the next loop may start (loop_ended_).
  bool loop_end_ = false, loop_ended_ = false;
  bool loop_actions_done_ = false;  // the last loop's end_fsync and verify ran
  unsigned loops_done_ = 0;
  bool another_loop() const;

  ThreadStat ts_;
  JobProgress progress_;
  VirtualTime* vt_ = nullptr;
  int vt_id_ = -1;
};

}  // namespace iostack::job
