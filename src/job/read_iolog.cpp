// Loading read_iolog= for a job.
#include "job/read_iolog.hpp"

#include <algorithm>

#include "task/ioprio.hpp"

namespace iostack::job {

void set_replay(JobOptions* o, std::shared_ptr<const std::vector<ReplayIo>> ios) {
  std::uint32_t max_len[kRwDirs];
  max_lengths(*ios, max_len);
  o->dir_read = max_len[kRead] > 0;
  o->dir_write = max_len[kWrite] > 0;
  o->random = false;
  o->rw = o->dir_read && o->dir_write ? "rw" : (o->dir_write ? "write" : "read");
  for (int d = 0; d < kRwDirs; ++d) {
    if (!max_len[d]) continue;
    // Buffers hold the largest I/O; the job's range stays a multiple of 512.
    o->min_bs[d] = 512;
    o->max_bs[d] = (max_len[d] + 511) / 512 * 512;
    o->bssplit[d].clear();
  }
  o->replay = std::move(ios);
}

bool load_read_iolog(JobOptions* o, std::string* err) {
  if (o->read_iolog.find(':') != std::string::npos) {
    *err = o->read_iolog_loc.str() + ": read_iolog=" + o->read_iolog +
           ": one trace per job (iostack does not split a ':' list among clones)";
    return false;
  }
  Trace t;
  std::string e;
  if (!read_traces({o->read_iolog}, &t, &e)) {
    *err = o->read_iolog_loc.str() + ": read_iolog: " + e;
    return false;
  }
  ReplaySettings s;
  s.no_stall = o->replay_no_stall;
  s.speed = o->replay_time_scale / 100.0;
  s.scale = o->replay_scale;
  s.align = o->replay_align;
  s.align_len = t.blktrace;
  s.skip = o->replay_skip;
  auto ios = std::make_shared<std::vector<ReplayIo>>(make_schedule(t, -1, s));
  if (ios->empty()) {
    *err = o->read_iolog_loc.str() + ": read_iolog=" + o->read_iolog +
           ": no I/O left to replay (replay_skip)";
    return false;
  }
  set_replay(o, std::move(ios));
  // fio replays a blktrace at the depth it probed unless told otherwise.
  if (t.probed_depth && !o->iodepth_set) {
    o->iodepth = t.probed_depth;
    o->iodepth_low = t.probed_depth;
  }
  return true;
}

bool build_replay_jobs(const Trace& t, const ReplaySettings& s, JobFileSet* set,
                       std::vector<JobDef>* out, std::string* err) {
  // A process whose I/O all carries one priority runs at it, as a job with
  // prioclass/prio does (ioprio_set on its own task); 0 or mixed: none.
  std::vector<int> prio(t.procs.size(), -1);
  for (const TraceIo& io : t.ios) {
    int& p = prio[io.proc];
    p = p == -1 ? io.ioprio : (p == io.ioprio ? p : 0);
  }
  std::vector<int> job_prio;
  std::vector<std::shared_ptr<const std::vector<ReplayIo>>> logs;
  for (std::size_t p = 0; p < t.procs.size(); ++p) {
    auto log =
        std::make_shared<const std::vector<ReplayIo>>(make_schedule(t, static_cast<long>(p), s));
    if (log->empty()) continue;
    const TraceProc& pr = t.procs[p];
    std::string name = pr.comm.empty() ? "replay" : pr.comm;
    if (pr.pid >= 0 && pr.comm != std::to_string(pr.pid)) name += "." + std::to_string(pr.pid);
    set->jobs.push_back(JobSection{name, SrcLoc{}, set->defaults, {}});
    logs.push_back(std::move(log));
    job_prio.push_back(
        prio[p] > 0 && task::ioprio_valid(static_cast<std::uint16_t>(prio[p])) ? prio[p] : 0);
  }
  if (logs.empty()) {
    *err = "no I/O to replay";
    return false;
  }
  std::vector<JobDef> jobs;
  if (!build_jobs(*set, &jobs, err)) return false;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    set_replay(&jobs[j].opts, logs[j]);
    if (job_prio[j]) {
      jobs[j].opts.prioclass = task::prio_class(job_prio[j]);
      jobs[j].opts.prio = task::prio_level(job_prio[j]);
    }
  }
  *out = std::move(jobs);
  return true;
}

}  // namespace iostack::job
