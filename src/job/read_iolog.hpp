// A job that replays (fio's init_iolog for read_iolog): the log is read
// when the job is built, so a bad trace fails before anything runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "job/job_builder.hpp"
#include "job/job_file.hpp"
#include "job/job_options.hpp"
#include "job/replay_log.hpp"

namespace iostack::job {

// Gives the job its I/O list and what follows from it, as fio does: the
// directions present, and block sizes large enough for every I/O.
void set_replay(JobOptions* o, std::shared_ptr<const std::vector<ReplayIo>> ios);

// Reads o->read_iolog with the job's replay_* options and calls
// set_replay(). False with one line naming the option's place and the trace
// file, record and problem.
bool load_read_iolog(JobOptions* o, std::string* err);

// iostack replay's jobs: one per process of the trace that has I/O left
// after `s`, named after it (comm.pid), each with set->defaults (the
// command line's job options) and its own schedule. Sections are added to
// *set for the report. False with one line.
bool build_replay_jobs(const Trace& t, const ReplaySettings& s, JobFileSet* set,
                       std::vector<JobDef>* out, std::string* err);

}  // namespace iostack::job
