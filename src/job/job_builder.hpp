// From parsed sections to runnable job definitions: options applied in
// order (defaults, [global], the section), checks that need no device, and
// the reporting groups that stonewall and new_group start.
#pragma once

#include <string>
#include <vector>

#include "job/job_file.hpp"
#include "job/job_options.hpp"

namespace iostack::job {

struct JobDef {
  JobOptions opts;
  SrcLoc loc;  // the section header
  int groupid = 0;
  bool waits = false;  // stonewall: starts after every earlier job has ended
};

// False with a one-line *err (file:line: option: problem) on any bad option
// or combination; nothing is half-built.
bool build_jobs(const JobFileSet& set, std::vector<JobDef>* out, std::string* err);

}  // namespace iostack::job
