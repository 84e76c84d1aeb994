// fio's normal output (stat.c show_thread_status_normal, show_group_stats,
// print_disk_util): the job banner before the run and the report after it.
#pragma once

#include <string>
#include <vector>

#include "job/job_builder.hpp"
#include "job/runner.hpp"

namespace iostack::job {

// "name: (g=0): rw=randrw, bs=(R) 4096B-4096B, ..., ioengine=bio, iodepth=32"
// per job; clones beyond the first are summarised as "...".
std::string format_banner(const std::vector<JobDef>& jobs);

std::string format_report(const RunResult& r);

}  // namespace iostack::job
