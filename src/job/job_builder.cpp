// Turning parsed job sections into job definitions.
#include "job/job_builder.hpp"

#include <cstdio>
#include <numeric>

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

// fio's fixup_options for what iostack implements: the verify interval a
// header is written at, and strided zones.
void fixup(JobOptions* o) {
  if (o->verify != VerifyType::kNone && o->verify != VerifyType::kPattern) {
    const std::uint32_t wmin = o->min_bs[kWrite], wmax = o->max_bs[kWrite];
    std::uint32_t& vi = o->verify_interval;
    if (wmax != wmin && !vi) vi = wmin;
    if (vi > wmin)
      vi = wmin;
    else if (o->dir_read && vi > o->min_bs[kRead])
      vi = o->min_bs[kRead];
    if (!vi || wmin % vi || wmax % vi) vi = std::gcd(wmin, wmax);
  }
  if (o->zone_strided && !o->zone_range) o->zone_range = o->zone_size;
  // fio turns the random map off when a random job's blockalign is not its
  // block size (fixup_options): offsets would not fall on the map's blocks.
  for (int d = 0; d < kRwDirs; ++d)
    if (o->random && o->ba[d] && o->ba[d] != o->min_bs[d]) o->norandommap = true;
}

bool check_job(const JobDef& j, std::string* err) {
  const JobOptions& o = j.opts;
  const std::string where = j.loc.str() + ": job '" + o.name + "': ";
  if (o.zone_strided && !o.zone_size) {
    *err = where + "zonemode=strided: needs zonesize";
    return false;
  }
  if (!o.zone_strided && o.zone_size) {
    *err = where +
           "zonesize: needs zonemode=strided (fio 3.33: zonemode=none and zonesize are "
           "not compatible)";
    return false;
  }
  if (o.random_distribution == RandDist::kZonedAbs && o.size) {
    for (int d = 0; d < kRwDirs; ++d) {
      std::uint64_t total = 0;
      for (const auto& z : o.zone_split[d]) total += z.size;
      if (total > o.size) {
        *err = where + "random_distribution=zoned_abs: the zones (" + std::to_string(total) +
               " bytes) exceed size=" + o.size_str;
        return false;
      }
    }
  }
  if (o.dir_trim && o.verify != VerifyType::kNone) {
    *err = where + "verify: trim jobs cannot verify (trim_verify_* is not supported)";
    return false;
  }
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

// Every option of the set that iostack does not take, in one line, so a
// job file shows all that stops it at once (one alone keeps apply_option's
// message).
bool check_all_known(const JobFileSet& set, std::string* err) {
  // An engine iostack lacks explains the rest (its own options): say that.
  for (const JobSection& s : set.jobs)
    for (const auto* list : {&s.globals, &s.opts})
      for (const OptEntry& e : *list) {
        JobOptions scratch;
        if (e.key == "ioengine" && !apply_option(&scratch, e, err)) return false;
      }
  std::vector<const OptEntry*> bad;  // the first place of each option
  auto seen = [&](const OptEntry& e) {
    for (const OptEntry* b : bad)
      if (b->key == e.key) return true;
    return false;
  };
  for (const JobSection& s : set.jobs)
    for (const auto* list : {&s.globals, &s.opts})
      for (const OptEntry& e : *list)
        if (option_status(e.key) != OptionStatus::kAccepted && !seen(e)) bad.push_back(&e);
  if (bad.size() < 2) return true;
  std::string unsupported, unknown;
  for (const OptEntry* e : bad) {
    std::string& l = option_status(e->key) == OptionStatus::kUnsupported ? unsupported : unknown;
    l += (l.empty() ? "" : ", ") + e->key + " (" + e->loc.str() + ")";
  }
  *err = unsupported.empty() ? "" : "fio options not supported by iostack: " + unsupported;
  if (!unknown.empty())
    *err += (err->empty() ? "" : "; ") + std::string("unknown options: ") + unknown;
  return false;
}

bool build_jobs(const JobFileSet& set, std::vector<JobDef>* out, std::string* err) {
  if (!check_all_known(set, err)) return false;
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
    if (!j.opts.read_iolog.empty() && !j.opts.write_iolog.empty()) {
      // fio warns and goes on without the log it would write.
      std::fprintf(stderr, "iostack: %s: write_iolog: read_iolog overrides it, as in fio\n",
                   j.opts.write_iolog_loc.str().c_str());
      j.opts.write_iolog.clear();
    }
    fixup(&j.opts);
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
