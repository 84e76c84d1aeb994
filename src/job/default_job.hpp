// The job `iostack run` runs when given none; examples/default.fio holds
// the same text with comments.
#pragma once

namespace iostack::job {

// Job-file text, named "<built-in default>" in messages.
const char* default_job_text();
constexpr const char* kDefaultJobName = "<built-in default>";

}  // namespace iostack::job
