// fio job files (HOWTO "Job file format"): [sections] of key=value lines,
// ';' or '#' comments, [global] sections whose options apply to the jobs
// that follow them; and the same structure built from command-line
// arguments, where --name starts a job.
#pragma once

#include <string>
#include <vector>

#include "job/types.hpp"

namespace iostack::job {

struct OptEntry {
  std::string key;
  std::string value;
  bool has_value = false;  // "key" alone is a flag; "key=" has an empty value
  SrcLoc loc;
};

struct JobSection {
  std::string name;
  SrcLoc loc;
  std::vector<OptEntry> globals;  // [global] options in force at this section
  std::vector<OptEntry> opts;     // the section's own options
};

struct JobFileSet {
  std::vector<OptEntry> defaults;  // command-line options before any --name
  std::vector<JobSection> jobs;
  std::vector<OptEntry> global_opts;  // every [global] option, for reports
};

// Parses job-file text. `file` names it in messages. False and a one-line
// *err naming file:line on malformed input.
bool parse_job_text(const std::string& text, const std::string& file, JobFileSet* out,
                    std::string* err);
// Reads and parses a job file; a missing or unreadable file is an error.
bool parse_job_file(const std::string& path, JobFileSet* out, std::string* err);
// Adds "--key=value" / "--flag" arguments: options before the first --name
// become defaults for every job; --name=X starts job X.
bool parse_job_args(const std::vector<std::string>& args, JobFileSet* out, std::string* err);

}  // namespace iostack::job
