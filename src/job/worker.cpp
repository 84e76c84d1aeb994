// One job's thread: queue, reap, verify, account.
#include "job/worker.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "job/discard.hpp"
#include "job/fio_rand.hpp"
#include "job/now.hpp"
#include "job/verify.hpp"
#include "task/blkcg.hpp"
#include "task/current.hpp"
#include "task/ioprio.hpp"
#include "task/ioprio_syscalls.hpp"

namespace iostack::job {
namespace {

constexpr std::uint64_t kSampleNs = 500ull * 1000 * 1000;  // fio's bw_avg_time
constexpr std::size_t kBufAlign = 4096;
// Replay sleeps until this close to an I/O's due time, then spins; and naps
// at most kReplayNapNs while I/O is in flight, so completions are reaped
// (and timed) promptly, as fio's iolog_delay polls for them.
constexpr std::uint64_t kReplaySpinNs = 100 * 1000;
constexpr std::uint64_t kReplayNapNs = 20 * 1000;

std::uint32_t max_buf(const JobOptions& o) {
  std::uint32_t m = 512;
  for (int d = kRead; d <= kWrite; ++d) m = std::max(m, o.max_bs[d]);
  return (m + kBufAlign - 1) / kBufAlign * kBufAlign;
}

std::uint64_t ms(std::uint64_t ns) { return ns / 1000000; }

// rem * 1e9 / bps for rem < bps, without overflow for any rate.
std::uint64_t ns_of(std::uint64_t rem, std::uint64_t bps) {
  if (rem <= ~0ull / 1000000000ull) return rem * 1000000000ull / bps;
  return static_cast<std::uint64_t>(static_cast<long double>(rem) * 1e9L /
                                    static_cast<long double>(bps));
}

constexpr const char* kStuck = "virtual time: nothing left that could complete the job's I/O";

}  // namespace

std::uint64_t Worker::clock_ns() const { return vt_ ? vt_->clock().now() : now_ns(); }

int Worker::report_pid() const {
  return vt_ ? VirtualTime::kPidBase + thread_number_ : static_cast<int>(gettid());
}

bool Worker::sleep_until(std::uint64_t t) {
  if (vt_) {
    while (clock_ns() < t)
      if (!vt_->sleep_until(vt_id_, t)) return false;
    return true;
  }
  const std::uint64_t n = now_ns();
  if (t > n) std::this_thread::sleep_for(std::chrono::nanoseconds(t - n));
  return true;
}

Worker::Worker(const JobDef& def, int /*clone*/, dev::BlockDevice* dev, const JobRange& range,
               std::uint64_t seed)
    : def_(def),
      opts_(def.opts),
      dev_(dev),
      range_(range),
      gen_(def.opts, range.offset, range.size, seed),
      seed_(seed),
      rand_verify_(seed ^ 0x5eed) {}

Worker::~Worker() { std::free(mem_); }

bool Worker::setup(std::string* err) {
  const JobOptions& o = opts_;
  ts_.name = o.name;
  ts_.description = o.description;
  ts_.groupid = def_.groupid;
  ts_.job_options = o.given;
  std::string e;
  engine_ = make_engine(o.ioengine, &e);
  if (!engine_) {
    *err = o.engine_loc.str() + ": " + e;
    return false;
  }
  iodepth_ = engine_->sync() ? 1 : o.iodepth;
  logs_ = JobLogs::make(o, thread_number_);
  if (logs_ && !logs_->create(&e)) {
    *err = def_.loc.str() + ": job '" + o.name + "': " + e;
    return false;
  }
  if (!o.write_iolog.empty()) {
    iolog_ = std::make_unique<IologWriter>();
    if (!iolog_->open(o.write_iolog, &e)) {
      *err = o.write_iolog_loc.str() + ": " + e;
      return false;
    }
  }
  default_ioprio_ = job_ioprio();
  ts_.iodepth = o.iodepth;
  batch_ = o.iodepth_batch ? std::min(o.iodepth_batch, iodepth_) : iodepth_;
  complete_min_ = std::min(o.iodepth_batch_complete_min, iodepth_);
  iodepth_low_ = o.iodepth_low ? std::min(o.iodepth_low, iodepth_) : iodepth_;

  const std::uint32_t bufsz = max_buf(o);
  mem_ = static_cast<std::uint8_t*>(std::aligned_alloc(kBufAlign, std::size_t{bufsz} * iodepth_));
  if (!mem_) {
    *err = def_.loc.str() + ": job '" + o.name + "': cannot allocate I/O buffers";
    return false;
  }
  units_.resize(iodepth_);
  for (unsigned i = 0; i < iodepth_; ++i) {
    units_[i].index = i;
    units_[i].buf = mem_ + std::size_t{bufsz} * i;
    // Writes carry random data (or the pattern) unless verify refills them.
    fill_data(o, units_[i].buf, bufsz, rand_verify_.next());
    free_.push_back(&units_[i]);
  }
  queued_.reserve(iodepth_);
  for (DirStat& d : ts_.dir) d.prios.reserve(8);  // the job's priority and its cmdprio ones
  events_.resize(iodepth_);

  EngineSetup s;
  s.disk = dev_->disk();
  s.iodepth = iodepth_;
  s.nr_units = iodepth_;
  s.direct = o.direct;
  s.opts = &o;
  for (const IoUnit& u : units_) s.bufs.push_back(iovec{u.buf, bufsz});
  s.ioprio = job_ioprio();
  // cmdprio draws from fio's seed slot for it, so picks repeat fio's.
  s.seed = o.randrepeat || o.randseed_set ? fio_rand_seed(o.randseed, thread_number_, kSeedPrioCmds)
                                          : seed_;
  s.vt = vt_;
  s.vt_id = vt_id_;
  if (engine_->init(s, &e) < 0) {
    *err = o.engine_loc.str() + ": ioengine=" + o.ioengine + ": " + e;
    return false;
  }

  io_limit_ = o.io_size ? o.io_size : range_.size;
  if (o.dir_trim && o.dir_write) io_limit_ *= 2;  // trimwrite: each block trimmed, then written
  io_limit_ *= o.loops;
  gen_.seed_fio(thread_number_, o.filename, dev_->disk()->capacity() << block::kSectorShift);
  verify_in_order_ = gen_.random_map();
  // number_ios counts over all loops (trimwrite: a trim and a write per
  // block); time_based jobs run their time whatever it says, as in fio.
  if (o.number_ios && !o.time_based)
    number_ios_ = o.number_ios * o.loops * (o.dir_trim && o.dir_write ? 2 : 1);
  if (o.replay) {
    replay_log_ = o.replay.get();
    replay_align_ = dev_->queue()->limits().logical_block_size;
    io_limit_ = 0;
    for (std::size_t i = 0; i < replay_log_->size(); ++i) {
      const ReplayIo& r = (*replay_log_)[i];
      if (r.len > range_.size) {
        *err = def_.loc.str() + ": job '" + o.name + "': I/O " + std::to_string(i) + " of " +
               std::to_string(r.len) + " bytes is larger than the device's " +
               std::to_string(range_.size);
        return false;
      }
      io_limit_ += r.len;
    }
    replaying_ = true;
  }
  for (int d = 0; d < kRwDirs; ++d)
    if (o.rate_iops[d]) rate_period_[d] = 1000000000ull / o.rate_iops[d];
  verify_reads_ = o.verify != VerifyType::kNone && !o.dir_write;
  return true;
}

void Worker::fail(int err, const std::string& what) {
  if (ts_.error) return;
  ts_.error = err;
  ts_.verror = what;
}

std::uint16_t Worker::job_ioprio() const {
  const JobOptions& o = opts_;
  if (o.prio < 0 && o.prioclass < 0) return 0;
  // prio alone is a best-effort level, as ionice -n is.
  const int cls = o.prioclass >= 0 ? o.prioclass : task::kClassBe;
  const int level = o.prio >= 0 ? o.prio : (cls == task::kClassNone ? 0 : task::kNorm);
  return static_cast<std::uint16_t>(task::prio_value(cls, cls == task::kClassNone ? 0 : level));
}

void Worker::set_ioprio() {
  const JobOptions& o = opts_;
  if (o.prio < 0 && o.prioclass < 0) return;
  const int rc = task::ioprio_set(task::current(), task::kWhoProcess, 0, job_ioprio());
  if (rc < 0) fail(-rc, std::string("ioprio_set: ") + std::strerror(-rc));
}

// cgroup_setup: the job's thread joins its cgroup, after the weight is
// written (as fio writes blkio.weight, then the pid).
void Worker::join_cgroup() {
  const JobOptions& o = opts_;
  if (o.cgroup.empty()) return;
  task::Blkcg* cg = nullptr;
  int rc = task::blkcg_lookup_create(o.cgroup, &cg);
  if (rc == 0 && o.cgroup_weight)
    rc = task::blkcg_write_bfq_weight(cg, std::to_string(o.cgroup_weight));
  if (rc < 0) {
    fail(-rc, "cgroup " + o.cgroup + ": " + std::strerror(-rc));
    return;
  }
  task::blkcg_attach(task::current(), cg);
}

// cgroup_shutdown: back to the root cgroup.
void Worker::leave_cgroup() {
  if (!opts_.cgroup.empty()) task::blkcg_attach(task::current(), nullptr);
}

void Worker::end_ramp(std::uint64_t now) {
  const ThreadStat keep = ts_;
  ts_ = ThreadStat{};
  ts_.name = keep.name;
  ts_.description = keep.description;
  ts_.groupid = keep.groupid;
  ts_.job_options = keep.job_options;
  ts_.iodepth = keep.iodepth;
  ts_.pid = keep.pid;
  ts_.error = keep.error;
  ts_.verror = keep.verror;
  in_ramp_ = false;
  stats_start_ = now;
  bytes_issued_ = ios_issued_ = 0;
  gen_.reset();
  win_start_ = now;
  for (int d = 0; d < 2; ++d) win_bytes_[d] = win_ios_[d] = done_bytes_[d] = done_ios_[d] = 0;
  if (logs_) {
    for (int d = 0; d < 2; ++d) logs_->win_bytes[d] = logs_->win_ios[d] = 0;
    logs_->win_t_ms = ms(now - log_epoch_);
    if (logs_->hist) logs_->hist->restart();
  }
  progress_.state.store(2, std::memory_order_relaxed);
}

void Worker::sample(std::uint64_t now, bool force) {
  if (in_ramp_ || (!force && now - win_start_ < kSampleNs)) return;
  const std::uint64_t span_ms = ms(now - win_start_);
  if (span_ms == 0) return;
  for (int d = kRead; d <= kWrite; ++d) {
    const bool on =
        d == kRead ? (opts_.dir_read || opts_.verify != VerifyType::kNone) : opts_.dir_write;
    if (on && (win_ios_[d] || !force)) {
      ts_.dir[d].bw.add(win_bytes_[d] * 1000 / span_ms / 1024);
      ts_.dir[d].iops.add(win_ios_[d] * 1000 / span_ms);
    }
    win_bytes_[d] = win_ios_[d] = 0;
  }
  win_start_ = now;
}

Worker::Prep Worker::prep_replay(IoUnit* u, std::uint64_t now) {
  if (replay_pos_ >= replay_log_->size()) return Prep::kDone;
  const ReplayIo& r = (*replay_log_)[replay_pos_];
  if (now < replay_start_ + r.due_ns) return Prep::kThrottled;
  ++replay_pos_;
  u->ddir = r.ddir;
  u->datasync = false;
  u->offset = r.ddir == kSync
                  ? 0
                  : remap_offset(r.offset, r.len, range_.offset, range_.size, replay_align_);
  u->len = r.len;
  u->verify_read = false;
  if (r.ddir == kWrite && opts_.verify != VerifyType::kNone)
    verify_fill(opts_, u->buf, u->len, u->offset, rand_verify_.next(), numberio_++,
                VerifyStamp{static_cast<std::uint16_t>(thread_number_), now});
  if (r.ddir == kSync) {
    ts_.total_sync++;
  } else {
    bytes_issued_ += r.len;
    ts_.dir[r.ddir].total_io_u++;
    ++think_issued_;
  }
  ++ios_issued_;
  return Prep::kOk;
}

// Trims go down synchronously whatever the engine, as fio's do_io_u_trim does.
void Worker::do_trim(IoUnit* u, std::uint64_t now) {
  commit();  // what is queued goes first, keeping the order
  u->issue_ns = now;
  ts_.mark_depth(cur_depth_ + 1, 1);
  const int r = discard_range(dev_->disk(), u->offset, u->len);
  u->error = r < 0 ? -r : 0;
  if (!engine_->sync()) ++cur_depth_;  // complete() takes it off again
  ts_.mark_submit(1);
  ts_.mark_complete(1);
  complete(u, clock_ns());
}

Worker::Prep Worker::prep_main(IoUnit* u, std::uint64_t now) {
  const JobOptions& o = opts_;
  if (replaying_) return prep_replay(u, now);
  // fio's get_rw_ddir: a sync when the writes issued are a multiple of
  // fsync (else fdatasync) and the last I/O to complete was not a sync. At
  // depth, syncs go out back to back until one completes, as in fio.
  const std::uint64_t writes = ts_.dir[kWrite].total_io_u;
  if (o.dir_write && !last_was_sync_ && writes) {
    const bool fsync = o.fsync_blocks && writes % o.fsync_blocks == 0;
    if (fsync || (o.fdatasync_blocks && writes % o.fdatasync_blocks == 0)) {
      u->ddir = kSync;
      u->datasync = !fsync;
      u->len = 0;  // the offset stays the unit's last, as fio's io_u does
      ts_.total_sync++;
      return Prep::kOk;
    }
  }
  int ddir = gen_.next_ddir();
  auto rated = [&](int d) { return rate_period_[d] || o.rate_bps[d]; };
  // Over its rate: do the other direction if that one may go (fio's rate_ddir).
  if (rated(ddir) && now < rate_next_[ddir] && o.dir_read && o.dir_write) {
    const int other = ddir == kRead ? kWrite : kRead;
    if (!rated(other) || now >= rate_next_[other]) ddir = other;
  }
  if (rated(ddir) && now < rate_next_[ddir]) return Prep::kThrottled;
  std::uint32_t bs;
  std::uint64_t off;
  // Back from the end of a loop (run() did its end_fsync and verify with
  // nothing in flight): the pass is over, whatever a new draw would say.
  if (loop_ended_ || !gen_.next(ddir, &bs, &off)) {
    // No offset left: fio closes the file there (set_io_u_file), and its
    // io_u keeps the offset it was refused, which a following sync shows.
    if (!o.time_based && !loop_ended_) {
      if (iolog_) iolog_->close_file(now);
      gen_.refused_offset(&u->offset);
    }
    const bool new_loop = !o.time_based && !in_ramp_;
    if (new_loop) {
      if (!loop_ended_) {
        loop_end_ = true;
        return Prep::kDone;
      }
      loop_ended_ = false;
      ++loops_done_;
      if (!another_loop()) return Prep::kDone;
      loop_actions_done_ = false;
      // The file is closed for the next loop, reopened by its first I/O
      // (fio's clear_io_state).
      if (iolog_) iolog_->close_file(now);
    }
    gen_.reset(new_loop);
    if (new_loop) ddir = gen_.next_ddir();
    if (!gen_.next(ddir, &bs, &off)) return Prep::kDone;
  }
  // The last I/O may run past io_size (fio does not shorten it).
  if (rated(ddir)) {
    // Due times count from the start, so the average stays exact across
    // sleep overshoot; after a long stall (a second behind) start afresh
    // rather than burst. rate= (bytes) goes before rate_iops, as in fio.
    if (o.rate_bps[ddir]) {
      rate_bytes_[ddir] += bs;
      const std::uint64_t b = rate_bytes_[ddir], bps = o.rate_bps[ddir];
      rate_next_[ddir] = rate_base_[ddir] + b / bps * 1000000000ull + ns_of(b % bps, bps);
    } else {
      rate_next_[ddir] += rate_period_[ddir];
    }
    if (now > rate_next_[ddir] + 1000000000ull) {
      rate_next_[ddir] = rate_base_[ddir] = now;
      rate_bytes_[ddir] = 0;
    }
  }
  u->ddir = ddir;
  u->offset = off;
  u->len = bs;
  u->verify_read = false;
  ++think_issued_;
  if (ddir == kWrite) {
    if (o.verify != VerifyType::kNone) {
      verify_fill(o, u->buf, bs, off, rand_verify_.next(), numberio_++,
                  VerifyStamp{static_cast<std::uint16_t>(thread_number_), now});
      if (verify_in_order_ && o.do_verify) log_write(off, bs);  // as issued, as fio logs it
    }
  }
  bytes_issued_ += bs;
  ++ios_issued_;
  ts_.dir[ddir].total_io_u++;
  return Prep::kOk;
}

Worker::Prep Worker::prep_verify(IoUnit* u) {
  if (verify_it_ == written_list_.end()) return Prep::kDone;
  u->ddir = kRead;
  u->offset = verify_it_->first;
  u->len = verify_it_->second;
  u->verify_read = true;
  ++verify_it_;
  ts_.dir[kRead].total_io_u++;
  return Prep::kOk;
}

void Worker::commit() {
  if (queued_.empty()) return;
  const auto n = static_cast<unsigned>(queued_.size());
  ts_.mark_depth(cur_depth_, n);
  engine_->commit();
  const std::uint64_t t = clock_ns();
  for (IoUnit* u : queued_) {
    u->issue_ns = t;
    if (u->ddir != kSync && u->start_ns >= stats_start_) {
      ts_.dir[u->ddir].slat.add(t - u->start_ns);
      if (logs_)
        logs_->slat_sample(ms(t - log_epoch_), t - u->start_ns, u->ddir, u->len, u->offset,
                           u->ioprio ? u->ioprio : default_ioprio_);
    }
  }
  ts_.mark_submit(n);
  queued_.clear();
  progress_.in_flight.store(cur_depth_, std::memory_order_relaxed);
}

void Worker::reap(unsigned min) {
  commit();
  if (!cur_depth_) return;
  const unsigned n = engine_->getevents(min, cur_depth_, events_.data());
  if (n < min && stuck()) fail(EIO, kStuck);
  const std::uint64_t t = clock_ns();
  ts_.mark_complete(n);
  for (unsigned i = 0; i < n; ++i) complete(events_[i], t);
  progress_.in_flight.store(cur_depth_, std::memory_order_relaxed);
  for (int d = 0; d < 2; ++d) {
    progress_.bytes[d].store(done_bytes_[d], std::memory_order_relaxed);
    progress_.ios[d].store(done_ios_[d], std::memory_order_relaxed);
  }
}

void Worker::complete(IoUnit* u, std::uint64_t now) {
  if (!engine_->sync()) --cur_depth_;
  free_.push_back(u);
  last_was_sync_ = u->ddir == kSync;
  if (u->error) {
    fail(u->error, std::string(u->ddir == kSync ? "fsync" : ddir_name(u->ddir)) + " at offset " +
                       std::to_string(u->offset) + ": " + std::strerror(u->error));
    return;
  }
  const bool counted = u->start_ns >= stats_start_ && !in_ramp_;
  if (u->ddir != kSync) ++think_done_;
  if (u->ddir == kSync) {
    if (counted) {
      ts_.sync_lat.add(now - u->issue_ns);
      ts_.sync_hist.add(now - u->issue_ns);
    }
    return;
  }
  if (counted) {
    DirStat& ds = ts_.dir[u->ddir];
    const std::uint64_t clat = now - u->issue_ns, lat = now - u->start_ns;
    ds.clat.add(clat);
    ds.clat_hist.add(clat);
    ds.add_prio(u->ioprio ? u->ioprio : default_ioprio_, clat);
    ds.lat.add(lat);
    ts_.mark_latency(lat);
    ds.io_bytes += u->len;
    if (u->ddir < 2) {  // the windows and progress keep reads and writes
      win_bytes_[u->ddir] += u->len;
      win_ios_[u->ddir]++;
      done_bytes_[u->ddir] += u->len;
      done_ios_[u->ddir]++;
    }
    if (logs_) {
      const std::uint64_t t_ms = ms(now - log_epoch_);
      logs_->complete_sample(t_ms, lat, clat, u->ddir, u->len, u->offset,
                             u->ioprio ? u->ioprio : default_ioprio_, ds.clat_hist);
      logs_->tick(t_ms, done_bytes_, done_ios_, false);
    }
  }
  if (u->ddir == kWrite && opts_.verify != VerifyType::kNone && opts_.do_verify &&
      !verify_in_order_)
    log_write(u->offset, u->len);
  if (u->ddir == kRead && (u->verify_read || verify_reads_)) {
    std::string msg;
    if (!verify_check(opts_, u->buf, u->len, u->offset, opts_.filename, &msg)) {
      std::fputs(msg.c_str(), stderr);
      fail(EILSEQ, "verify failed at offset " + std::to_string(u->offset));
    }
  }
}

void Worker::drain() {
  commit();
  while (cur_depth_ && !stuck()) reap(1);
}

// fio's handle_thinktime: every thinktime_blocks I/Os, let what is in
// flight finish, spin thinktime_spin, then sleep the rest of thinktime;
// never past the end of the runtime.
void Worker::think() {
  const JobOptions& o = opts_;
  const std::uint64_t b = o.thinktime_blocks_issue ? think_issued_ : think_done_;
  if (b < think_last_ + o.thinktime_blocks) return;
  drain();
  const std::uint64_t t = clock_ns();
  std::uint64_t left = std::max(o.thinktime_ns, o.thinktime_spin_ns);
  if (o.runtime_ns) {
    const std::uint64_t end = stats_start_ + o.runtime_ns;
    left = t >= end ? 0 : std::min(left, end - t);
  }
  if (!vt_) {  // in virtual time a spin is time passing like any other
    const std::uint64_t spin_end = t + std::min(left, o.thinktime_spin_ns);
    while (now_ns() < spin_end) {
    }
  }
  if (!sleep_until(t + left)) fail(EIO, kStuck);
  think_last_ = b;
}

void Worker::do_io(bool verify_phase) {
  const JobOptions& o = opts_;
  for (;;) {
    if (ts_.error) break;
    if (stuck()) {
      fail(EIO, kStuck);
      break;
    }
    const std::uint64_t now = clock_ns();
    if (!verify_phase) {
      if (in_ramp_ && now >= stats_start_) end_ramp(now);
      if (!in_ramp_) {
        if (o.runtime_ns && now - stats_start_ >= o.runtime_ns) break;
        if (number_ios_ && ios_issued_ >= number_ios_) break;
        if (!o.time_based && !replaying_ && bytes_issued_ >= io_limit_) break;
      }
      sample(now, false);
    }
    if (cur_depth_ < iodepth_ && !free_.empty()) {
      IoUnit* u = free_.back();
      const Prep p = verify_phase ? prep_verify(u) : prep_main(u, now);
      if (p == Prep::kDone) break;
      if (p == Prep::kThrottled) {
        // Ahead of rate_iops: finish what is in flight, then sleep a little.
        commit();
        if (cur_depth_) reap(0);
        std::uint64_t wait = ~0ull;
        for (int d = 0; d < kRwDirs; ++d)
          if ((rate_period_[d] || o.rate_bps[d]) && rate_next_[d] > now)
            wait = std::min(wait, rate_next_[d] - now);
        if (vt_) {
          // Until the next I/O is due, or one of ours completes (to reap it
          // on time): virtual time has no naps to take.
          if (replaying_) {
            const std::uint64_t due = replay_start_ + (*replay_log_)[replay_pos_].due_ns;
            wait = due > now ? due - now : 0;
          }
          if (wait == ~0ull) wait = 1000000;
          vt_->sleep_until(vt_id_, now + wait);
          continue;
        }
        std::uint64_t nap = 1000000;
        if (replaying_) {
          const std::uint64_t due = replay_start_ + (*replay_log_)[replay_pos_].due_ns;
          wait = due > now ? due - now : 0;
          if (wait <= kReplaySpinNs) {
            std::this_thread::yield();
            continue;
          }
          nap = cur_depth_ ? kReplayNapNs : wait - kReplaySpinNs;
        }
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(wait, nap)));
        continue;
      }
      free_.pop_back();
      u->start_ns = now;
      u->error = 0;
      if (iolog_) log_io(u, now);
      if (u->ddir == kTrim) {
        do_trim(u, now);
        continue;
      }
      if (engine_->sync()) {
        u->issue_ns = now;
        ts_.mark_depth(1, 1);
        progress_.in_flight.store(1, std::memory_order_relaxed);
        engine_->queue(u);
        ts_.mark_submit(1);
        ts_.mark_complete(1);
        complete(u, clock_ns());
        progress_.in_flight.store(0, std::memory_order_relaxed);
        for (int d = 0; d < 2; ++d) {
          progress_.bytes[d].store(done_bytes_[d], std::memory_order_relaxed);
          progress_.ios[d].store(done_ios_[d], std::memory_order_relaxed);
        }
        if (o.thinktime_ns && !verify_phase) think();
        continue;
      }
      engine_->queue(u);
      queued_.push_back(u);
      ++cur_depth_;
      if (queued_.size() >= batch_) commit();
      if (complete_min_ == 0 && cur_depth_ < iodepth_) reap(0);
      if (o.thinktime_ns && !verify_phase) think();
      continue;
    }
    // Full: reap at least iodepth_batch_complete_min (at least one).
    unsigned min = std::min(complete_min_, cur_depth_);
    if (!min) min = 1;
    do {
      reap(min);
    } while (!ts_.error && cur_depth_ > iodepth_low_);
  }
  drain();
}

// verify_only: the blocks the job would write, to be read back and
// checked, with nothing written (fio's verify_only dry run).
void Worker::plan_verify_only() {
  std::uint64_t bytes = 0, ios = 0;
  while (bytes < io_limit_ && (!number_ios_ || ios < number_ios_)) {
    const int ddir = gen_.next_ddir();
    std::uint32_t bs;
    std::uint64_t off;
    if (!gen_.next(ddir, &bs, &off)) break;
    bytes += bs;
    ++ios;
    if (ddir == kWrite) log_write(off, bs);
  }
}

void Worker::log_io(const IoUnit* u, std::uint64_t now) {
  const char* act = u->ddir == kSync && u->datasync ? "datasync" : ddir_name(u->ddir);
  iolog_->io(now, act, u->offset, u->len);
}

// fio's keep_running after a loop whose pass ran out: the loops given, then
// more while the bytes done (verify reads included) fall short of io_size
// by a block or more.
bool Worker::another_loop() const {
  const JobOptions& o = opts_;
  if (loops_done_ < o.loops) return true;
  if (number_ios_ && ios_issued_ >= number_ios_) return false;
  if (!o.io_size) return false;  // the pass covered size
  std::uint64_t done = 0;
  std::uint32_t max_bs = 0;
  for (int d = 0; d < kRwDirs; ++d) {
    done += ts_.dir[d].io_bytes;
    max_bs = std::max(max_bs, o.max_bs[d]);
  }
  return done < o.io_size && o.io_size - done >= max_bs;
}

// end_fsync, unless the last I/O was a sync already (fio's should_fsync).
bool Worker::loop_end_sync() const {
  return opts_.end_fsync && opts_.dir_write && !opts_.verify_only && !last_was_sync_;
}

bool Worker::loop_verifies() const {
  return opts_.dir_write && opts_.verify != VerifyType::kNone && opts_.do_verify &&
         !opts_.verify_only;
}

// Reads back and checks what the job wrote (fio's do_verify).
void Worker::verify_phase() {
  progress_.state.store(3, std::memory_order_relaxed);
  const std::uint64_t v0 = clock_ns();
  if (iolog_) iolog_->close_file(v0);  // reopened by the first verify read
  win_start_ = v0;
  if (!verify_in_order_) written_list_.assign(written_.begin(), written_.end());
  verify_it_ = written_list_.cbegin();
  do_io(true);
  const std::uint64_t t = clock_ns();
  sample(t, true);
  ts_.dir[kRead].runtime_ms += std::max<std::uint64_t>(ms(t - v0), 1);
}

void Worker::log_write(std::uint64_t off, std::uint32_t len) {
  if (verify_in_order_) {
    written_list_.emplace_back(off, len);
    return;
  }
  // The newest write of a range is what must read back.
  auto it = written_.lower_bound(off);
  if (it != written_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second > off) it = prev;
  }
  while (it != written_.end() && it->first < off + len) it = written_.erase(it);
  written_.emplace(off, len);
}

void Worker::sync_file() {
  IoUnit* u = free_.back();
  free_.pop_back();
  u->ddir = kSync;
  u->datasync = false;
  u->len = 0;
  u->start_ns = u->issue_ns = clock_ns();
  if (iolog_) {
    // fio_file_fsync: a file closed at the end of its pass is opened for
    // the sync and closed again.
    const bool was_open = iolog_->file_open();
    iolog_->io(u->start_ns, "sync", u->offset, 0);
    if (!was_open) iolog_->close_file(u->start_ns);
  }
  ts_.total_sync++;
  engine_->queue(u);
  if (engine_->sync()) {
    complete(u, clock_ns());
  } else {
    queued_.push_back(u);
    ++cur_depth_;
    drain();
  }
}

// IOSTACK_ENGINE_STATS=1: one line per job on stderr with what its engine
// did, so that its options can be seen at work from outside.
void Worker::print_engine_stats() const {
  const EngineStats& e = ts_.engine;
  std::string line = "iostack: job '" + opts_.name + "' ioengine=" + opts_.ioengine + ":";
  auto add = [&](const char* k, std::uint64_t v) {
    line += std::string(" ") + k + "=" + std::to_string(v);
  };
  if (opts_.ioengine == "io_uring") {
    add("enter_calls", e.enter_calls);
    add("sq_wakeups", e.sq_wakeups);
    add("fixed_buf_ios", e.fixed_buf_ios);
    add("fixed_file_ios", e.fixed_file_ios);
  } else if (opts_.ioengine == "libaio") {
    add("submit_calls", e.submit_calls);
    add("getevents_calls", e.getevents_calls);
    add("user_reaped", e.user_reaped);
  }
  add("prio_ios", e.prio_ios);
  add("ios", ts_.total_ios());
  line += "\n";
  std::fputs(line.c_str(), stderr);
}

void Worker::run(const std::atomic<bool>* go) {
  ts_.pid = report_pid();
  set_ioprio();
  join_cgroup();
  while (!go->load(std::memory_order_acquire)) go->wait(false, std::memory_order_acquire);
  if (opts_.startdelay_ns && !sleep_until(clock_ns() + opts_.startdelay_ns)) fail(EIO, kStuck);

  rusage ru0, ru1;
  getrusage(RUSAGE_THREAD, &ru0);
  const std::uint64_t begin = clock_ns();
  in_ramp_ = opts_.ramp_time_ns > 0;
  stats_start_ = begin + opts_.ramp_time_ns;
  replay_start_ = replay_epoch_ && replay_epoch_ < begin ? replay_epoch_ : begin;
  win_start_ = begin;
  log_epoch_ = begin;
  if (iolog_) iolog_->start(begin, opts_.filename);
  for (int d = 0; d < kRwDirs; ++d) rate_next_[d] = rate_base_[d] = begin;
  progress_.state.store(in_ramp_ ? 1 : 2, std::memory_order_relaxed);

  if (!ts_.error && opts_.verify_only) {
    if (iolog_) iolog_->open_file(begin);
    plan_verify_only();
  } else if (!ts_.error)
    do_io(false);
  // A loop ended: its end_fsync and verify, then the next if one is due.
  std::uint64_t loop_verify_ns = 0;
  while (loop_end_ && !ts_.error) {
    loop_end_ = false;
    loop_ended_ = true;
    loop_actions_done_ = true;
    if (loop_end_sync()) sync_file();
    if (loop_verifies()) {
      const std::uint64_t v0 = clock_ns();
      verify_phase();
      loop_verify_ns += clock_ns() - v0;
      written_.clear();
      written_list_.clear();
      progress_.state.store(2, std::memory_order_relaxed);
    }
    do_io(false);
  }
  if (in_ramp_) end_ramp(clock_ns());  // the job ended inside its ramp
  std::uint64_t t = clock_ns();
  sample(t, true);
  const std::uint64_t main_ms = ms(t - stats_start_ - loop_verify_ns);
  const std::uint64_t loop_verify_ms = ts_.dir[kRead].runtime_ms;  // the loops' verify reads
  for (int d = 0; d < kRwDirs; ++d)
    if (ts_.dir[d].io_bytes) ts_.dir[d].runtime_ms = std::max<std::uint64_t>(main_ms, 1);
  if (loop_verify_ms)
    ts_.dir[kRead].runtime_ms = (opts_.dir_read ? ts_.dir[kRead].runtime_ms : 0) + loop_verify_ms;

  // The end of the last loop, unless its pass ran out and it was done above.
  if (!ts_.error && !loop_actions_done_ && loop_end_sync()) sync_file();
  if (!ts_.error && !loop_actions_done_ && opts_.dir_write && opts_.verify != VerifyType::kNone &&
      (opts_.do_verify || opts_.verify_only)) {
    verify_phase();
    t = clock_ns();
  }

  getrusage(RUSAGE_THREAD, &ru1);
  auto tv_ms = [](const timeval& a, const timeval& b) {
    return static_cast<std::uint64_t>((b.tv_sec - a.tv_sec) * 1000 +
                                      (b.tv_usec - a.tv_usec) / 1000);
  };
  ts_.usr_ms = tv_ms(ru0.ru_utime, ru1.ru_utime);
  ts_.sys_ms = tv_ms(ru0.ru_stime, ru1.ru_stime);
  ts_.ctx =
      static_cast<std::uint64_t>((ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw));
  ts_.majf = static_cast<std::uint64_t>(ru1.ru_majflt - ru0.ru_majflt);
  ts_.minf = static_cast<std::uint64_t>(ru1.ru_minflt - ru0.ru_minflt);
  ts_.total_run_time_ms = ms(t - begin);
  ts_.elapsed_s = (t - begin + 999999999ull) / 1000000000ull;
  ts_.ioengine = opts_.ioengine;
  ts_.engine = engine_->stats();
  if (iolog_) {
    iolog_->close_file(clock_ns());
    std::string e;
    if (!iolog_->finish(&e)) fail(EIO, e);
  }
  if (logs_) {
    logs_->tick(ms(t - log_epoch_), done_bytes_, done_ios_, true);
    logs_->finish(ms(t - log_epoch_));
    std::string e;
    if (!logs_->write(&e)) fail(EIO, e);
  }
  if (const char* e = std::getenv("IOSTACK_ENGINE_STATS"); e && *e && std::strcmp(e, "0") != 0)
    print_engine_stats();
  leave_cgroup();
  progress_.state.store(4, std::memory_order_release);
}

}  // namespace iostack::job
