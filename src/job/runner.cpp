// Running jobs: devices, threads, groups and the run's results.
#include "job/runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "job/now.hpp"
#include "job/progress.hpp"
#include "job/targets.hpp"
#include "job/worker.hpp"
#include "task/current.hpp"
#include "trace/task_comm.hpp"

namespace iostack::job {

double DiskReport::util() const {
  if (!run_ms) return 0;
  const double u = 100.0 * static_cast<double>(stats.io_ticks_ms) / static_cast<double>(run_ms);
  return u > 100.0 ? 100.0 : u;
}

bool RunResult::failed() const {
  for (const auto& j : jobs)
    if (j.error) return true;
  return false;
}

struct Runner::Impl {
  std::unique_ptr<VirtualTime> vt;  // clock=virtual; outlives the devices
  std::vector<JobDef> jobs;
  Targets targets;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::size_t> job_of;  // worker -> job index
};

namespace {

// fio's clock choice, process-wide: the first job's (its [global] section's)
// clocksource=, else the TSC where it is invariant.
bool pick_clock_source(const JobOptions& o, std::string* err) {
  ClockSource s = ClockSource::kClockGettime;
  if (o.clocksource.empty()) {
    if (cpu_clock_reliable()) s = ClockSource::kCpu;
  } else {
    parse_clock_source(o.clocksource, &s);  // the option table checked the name
  }
  if (set_clock_source(s)) return true;
  *err = o.clocksource_loc.str() + ": clocksource=cpu: this CPU's TSC is not invariant";
  return false;
}

}  // namespace

Runner::Runner() : impl_(std::make_unique<Impl>()) {}
Runner::~Runner() = default;

bool Runner::prepare(const std::vector<JobDef>& jobs, std::string* err) {
  impl_->jobs = jobs;
  if (!jobs.empty() && jobs.front().opts.virtual_clock) {
    for (const JobDef& j : jobs) {
      const JobOptions& o = j.opts;
      if (o.ioengine == "io_uring" || o.ioengine == "libaio") {
        *err = o.engine_loc.str() + ": ioengine=" + o.ioengine +
               ": runs in real time only (its completions come on threads of its own); with "
               "clock=virtual use ioengine=bio, psync, sync, pvsync or pvsync2";
        return false;
      }
    }
    impl_->vt = std::make_unique<VirtualTime>();
  }
  if (!jobs.empty() && !pick_clock_source(jobs.front().opts, err)) return false;
  VirtualTime* vt = impl_->vt.get();
  if (!impl_->targets.prepare(impl_->jobs, err, vt ? &vt->clock() : nullptr)) return false;
  for (std::size_t i = 0; i < impl_->jobs.size(); ++i) {
    const JobDef& j = impl_->jobs[i];
    for (unsigned c = 0; c < j.opts.numjobs; ++c) {
      // fio seeds every job differently unless told otherwise; clones too.
      const std::uint64_t seed = j.opts.randseed + 0x9e3779b97f4a7c15ull * (i * 1024 + c + 1) *
                                                       (j.opts.randrepeat ? 1 : now_ns());
      JobRange range;
      // fio numbers clones' ranges backwards: thread 2 of 3 is subjob 2.
      const unsigned subjob = c ? j.opts.numjobs - c : 0;
      if (!impl_->targets.clone_range(j, i, subjob, &range, err)) return false;
      auto w = std::make_unique<Worker>(j, static_cast<int>(c), impl_->targets.device_of(i), range,
                                        seed);
      w->set_thread_number(static_cast<int>(impl_->workers.size()) + 1);
      if (vt) w->set_virtual_time(vt, vt->add());
      if (!w->setup(err)) return false;
      impl_->workers.push_back(std::move(w));
      impl_->job_of.push_back(i);
    }
  }
  return true;
}

namespace {

// IOSTACK_ENGINE_STATS=1: the scheduler's per-class counters on stderr, so
// that command priorities can be seen reaching the device.
void print_prio_stats(const DiskReport& d, const char* sched) {
  static const char* const kNames[] = {"rt", "be", "idle"};
  std::string line = "iostack: " + d.name + " " + sched + ":";
  for (unsigned p = 0; p < block::kElvPrioClasses; ++p) {
    const block::ElvPrioStats& s = d.prio_stats[p];
    line += std::string(" ") + kNames[p] + " inserted=" + std::to_string(s.inserted) +
            " merged=" + std::to_string(s.merged) + " dispatched=" + std::to_string(s.dispatched) +
            " completed=" + std::to_string(s.completed) +
            (p + 1 < block::kElvPrioClasses ? ";" : "");
  }
  line += "\n";
  std::fputs(line.c_str(), stderr);
}

// Batches of workers that run together: a stonewall starts a new one.
std::vector<std::pair<std::size_t, std::size_t>> batches(const std::vector<JobDef>& jobs,
                                                         const std::vector<std::size_t>& job_of) {
  std::vector<std::pair<std::size_t, std::size_t>> b;
  std::size_t start = 0;
  for (std::size_t w = 0; w < job_of.size(); ++w) {
    const bool first_clone = w == 0 || job_of[w - 1] != job_of[w];
    if (w > start && first_clone && jobs[job_of[w]].waits) {
      b.emplace_back(start, w);
      start = w;
    }
  }
  if (start < job_of.size()) b.emplace_back(start, job_of.size());
  return b;
}

}  // namespace

bool Runner::run(const RunOptions& ro, RunResult* out, std::string* err) {
  Impl& m = *impl_;
  RunResult r;
  r.nr_threads = static_cast<int>(m.workers.size());
  const auto devices = m.targets.devices();
  if (!ro.trace_dir.empty()) {
    ::mkdir(ro.trace_dir.c_str(), 0755);
    for (auto* d : devices) {
      std::string e;
      if (d->disk()->trace_start(ro.trace_dir, &e) < 0) {
        *err = "--trace " + ro.trace_dir + ": " + e;
        for (auto* x : devices) x->disk()->trace_stop();
        return false;
      }
    }
  }
  if (ro.on_start) ro.on_start(r.nr_threads);
  r.start_unix_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  VirtualTime* vt = m.vt.get();
  // The run's clock: virtual time, or CLOCK_MONOTONIC.
  auto clock_ns = [vt] { return vt ? vt->clock().now() : now_ns(); };
  const std::uint64_t real0 = now_ns();
  // The runner's thread runs timers between batches: it traces as a pid of
  // its own too.
  struct TracePid {
    int old;
    ~TracePid() { trace::set_thread_trace_pid(old); }
  } trace_pid{vt ? trace::set_thread_trace_pid(VirtualTime::kPidBase)
                 : trace::set_thread_trace_pid(-1)};
  const std::uint64_t t0 = clock_ns();
  Progress progress(ro.progress, m.workers);
  // Samples over time, read from the workers' progress counters.
  std::vector<std::vector<JobSample>> wsamples(m.workers.size());
  std::vector<std::vector<DiskSample>> dsamples(devices.size());
  std::uint64_t next_sample = t0;
  const std::uint64_t sample_ns = std::uint64_t{ro.sample_ms} * 1000000;
  auto take_samples = [&](std::uint64_t t, bool force) {
    if (!sample_ns || (!force && t < next_sample)) return;
    const std::uint64_t t_ms = (t - t0) / 1000000;
    for (std::size_t w = 0; w < m.workers.size(); ++w) {
      const JobProgress& p = m.workers[w]->progress();
      JobSample s;
      s.t_ms = t_ms;
      for (int d = 0; d < 2; ++d) {
        s.bytes[d] = p.bytes[d].load(std::memory_order_relaxed);
        s.ios[d] = p.ios[d].load(std::memory_order_relaxed);
      }
      s.in_flight = p.in_flight.load(std::memory_order_relaxed);
      wsamples[w].push_back(s);
    }
    for (std::size_t i = 0; i < devices.size(); ++i) {
      const trace::DiskStats ds = devices[i]->disk()->stats();
      dsamples[i].push_back({t_ms, ds.in_flight, ds.read.ios + ds.write.ios});
    }
    next_sample = std::max(next_sample + sample_ns, t);
  };
  take_samples(t0, true);
  // In virtual time the samples are taken as the clock passes each instant
  // (the counters do not change between events), on the baton's thread.
  if (vt && sample_ns)
    vt->set_on_advance([&](core::Nanos t) {
      while (next_sample <= t) take_samples(next_sample, false);
    });
  const auto poll =
      std::chrono::milliseconds(ro.sample_ms && ro.sample_ms < 20 ? ro.sample_ms : 20);

  bool ok = true;
  for (const auto& [b, e] : batches(m.jobs, m.job_of)) {
    // Queue settings of the batch's jobs, in job order, as each job starts.
    for (std::size_t w = b; w < e && ok; ++w) {
      if (w > b && m.job_of[w] == m.job_of[w - 1]) continue;
      const std::size_t j = m.job_of[w];
      ok = m.targets.apply_settings(m.jobs[j].opts, m.targets.device_of(j), err);
    }
    if (!ok) break;
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const std::uint64_t epoch = clock_ns();  // replays in the batch share one start
    for (std::size_t w = b; w < e; ++w) m.workers[w]->set_replay_epoch(epoch);
    if (vt) {
      // One job thread at a time, passing virtual time's baton; each
      // traces under its report pid.
      go.store(true, std::memory_order_release);
      std::vector<int> ids;
      for (std::size_t w = b; w < e; ++w) {
        Worker* wk = m.workers[w].get();
        ids.push_back(wk->vt_id());
        threads.emplace_back([wk, vt, &go] {
          trace::set_thread_trace_pid(wk->report_pid());
          vt->enter(wk->vt_id());
          wk->run(&go);
          // The job's task ends here, in virtual time's order: dropping its
          // io_context runs the scheduler (bfq expires its queues), which on
          // the thread's own exit would come at a moment the OS picks.
          task::exit_current();
          vt->exit(wk->vt_id());
        });
      }
      vt->run_batch(ids, [&progress] { progress.tick(); });
      for (auto& t : threads) t.join();
      continue;
    }
    for (std::size_t w = b; w < e; ++w) {
      Worker* wk = m.workers[w].get();
      threads.emplace_back([wk, &go] { wk->run(&go); });
    }
    go.store(true, std::memory_order_release);
    go.notify_all();
    for (;;) {
      bool all_done = true;
      for (std::size_t w = b; w < e; ++w)
        if (m.workers[w]->progress().state.load(std::memory_order_acquire) != 4) all_done = false;
      if (all_done) break;
      progress.tick();
      take_samples(now_ns(), false);
      std::this_thread::sleep_for(poll);
    }
    for (auto& t : threads) t.join();
  }
  progress.finish();
  if (vt) {
    vt->set_on_advance(nullptr);
    while (sample_ns && next_sample <= clock_ns()) take_samples(next_sample, false);
  }
  take_samples(clock_ns(), true);
  const std::uint64_t run_ms = (clock_ns() - t0) / 1000000;
  r.virtual_clock = vt != nullptr;
  r.virtual_ns = vt ? clock_ns() - t0 : 0;
  r.real_ns = now_ns() - real0;
  for (auto* d : devices) d->disk()->trace_stop();
  if (!ok) return false;

  // Per-job results, merged per group under group_reporting.
  int last_group = -1;
  for (std::size_t w = 0; w < m.workers.size(); ++w) {
    const JobDef& j = m.jobs[m.job_of[w]];
    ThreadStat& ts = m.workers[w]->stat();
    ts.samples = std::move(wsamples[w]);
    ts.sample_ms = ro.sample_ms;
    if (j.groupid != last_group) {
      r.groups.emplace_back();
      r.groups.back().groupid = j.groupid;
      last_group = j.groupid;
    }
    r.groups.back().add(ts);
    const bool merge = j.opts.group_reporting && !r.jobs.empty() &&
                       r.jobs.back().groupid == j.groupid && w > 0 &&
                       m.jobs[m.job_of[w - 1]].opts.group_reporting;
    if (merge)
      r.jobs.back().merge(ts);
    else
      r.jobs.push_back(ts);
  }
  for (auto& g : r.groups) g.finish();
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto* d = devices[i];
    DiskReport dr;
    dr.samples = std::move(dsamples[i]);
    dr.name = d->name();
    dr.stats = d->disk()->stats();
    dr.splits = d->queue()->split_count.load(std::memory_order_relaxed);
    dr.run_ms = run_ms;
    dr.device_counters = d->counters();
    if (const block::Elevator* e = d->queue()->elevator()) {
      dr.has_prio_stats = true;
      for (unsigned p = 0; p < block::kElvPrioClasses; ++p)
        dr.has_prio_stats = dr.has_prio_stats && e->prio_stats(p, &dr.prio_stats[p]);
      const char* env = std::getenv("IOSTACK_ENGINE_STATS");
      if (dr.has_prio_stats && env && *env && std::strcmp(env, "0"))
        print_prio_stats(dr, e->name());
    }
    r.disks.push_back(dr);
  }
  *out = std::move(r);
  return true;
}

}  // namespace iostack::job
