// Turning parsed job sections into job definitions.
#include "job/job_builder.hpp"

#include "job/option_table.hpp"
#include "job/read_iolog.hpp"

namespace iostack::job {

namespace {

// Which ioengines understand an engine option (fio registers these with the
// engine, so any other engine does not know them).
const char* engines_of(const std::string& key) {
  if (key == "userspace_reap") return "libaio";
  if (key.rfind("cmdprio", 0) == 0) return "io_uring libaio";
  if (key == "hipri") return "io_uring pvsync2";
  return "io_uring";
}

bool check_engine_options(const JobDef& j, std::string* err) {
  const JobOptions& o = j.opts;
  for (const auto& [key, loc] : o.engine_options) {
    const std::string engines = engines_of(key);
    bool ok = false;
    std::size_t start = 0;
    for (;;) {
      const auto sp = engines.find(' ', start);
      if (engines.substr(start, sp == std::string::npos ? sp : sp - start) == o.ioengine) ok = true;
      if (sp == std::string::npos) break;
      start = sp + 1;
    }
    if (!ok) {
      std::string list = engines;
      if (const auto sp = list.find(' '); sp != std::string::npos)
        list = list.substr(0, sp) + " or ioengine=" + list.substr(sp + 1);
      *err = loc.str() + ": " + key + ": an option of ioengine=" + list +
             ", not of ioengine=" + o.ioengine;
      return false;
    }
  }
  if (o.has_cmdprio_bssplit && (o.cmdprio_percentage[0] || o.cmdprio_percentage[1])) {
    *err = j.loc.str() + ": job '" + o.name +
           "': cmdprio_percentage and cmdprio_bssplit are mutually exclusive";
    return false;
  }
  return true;
}

bool check_job(const JobDef& j, std::string* err) {
  const JobOptions& o = j.opts;
  const std::string where = j.loc.str() + ": job '" + o.name + "': ";
  if (o.filename.empty()) {
    *err = where + "filename: missing (name a device, e.g. filename=ram:64M)";
    return false;
  }
  if (o.verify != VerifyType::kNone && o.dir_read && o.dir_write) {
    *err = where +
           "verify: mixed read/write jobs cannot verify; use a write job (it reads back) "
           "or a read job";
    return false;
  }
  if (o.verify == VerifyType::kPattern && o.verify_pattern.empty()) {
    *err = where + "verify=pattern: needs verify_pattern";
    return false;
  }
  if ((o.fsync_blocks || o.fdatasync_blocks) && !o.dir_write) {
    *err = where + "fsync/fdatasync: only apply to jobs that write";
    return false;
  }
  return check_engine_options(j, err);
}

}  // namespace

bool build_jobs(const JobFileSet& set, std::vector<JobDef>* out, std::string* err) {
  std::vector<JobDef> jobs;
  int group = 0;
  for (const JobSection& s : set.jobs) {
    JobDef j;
    j.loc = s.loc;
    j.opts.name = s.name;
    for (const OptEntry& e : s.globals)
      if (!apply_option(&j.opts, e, err)) return false;
    // The JSON report lists a job's own options; [global] ones go apart.
    j.opts.given.clear();
    for (const OptEntry& e : s.opts) {
      if (e.key == "clock") {
        *err = e.loc.str() +
               ": clock: set it in [global] (or before the first --name): one clock "
               "runs the whole run";
        return false;
      }
      if (!apply_option(&j.opts, e, err)) return false;
    }
    if (!jobs.empty() && j.opts.virtual_clock != jobs.front().opts.virtual_clock) {
      const JobOptions& a = j.opts.clock_loc.line ? j.opts : jobs.front().opts;
      *err = a.clock_loc.str() + ": clock=" + (a.virtual_clock ? "virtual" : "real") +
             ": another [global] section sets the other clock; one clock runs the whole run";
      return false;
    }
    // replay_redirect names the device every logged I/O goes to.
    if (!j.opts.replay_redirect.empty()) j.opts.filename = j.opts.replay_redirect;
    if (!j.opts.read_iolog.empty() && !load_read_iolog(&j.opts, err)) return false;
    if (!check_job(j, err)) return false;
    j.waits = j.opts.stonewall && !jobs.empty();
    if (!jobs.empty() && (j.opts.stonewall || j.opts.new_group)) ++group;
    j.groupid = group;
    jobs.push_back(std::move(j));
  }
  *out = std::move(jobs);
  return true;
}

}  // namespace iostack::job
