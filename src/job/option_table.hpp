// The options iostack accepts, with fio's names and aliases, and how each
// one is parsed into JobOptions.
#pragma once

#include <string>
#include <vector>

#include "job/job_file.hpp"
#include "job/job_options.hpp"

namespace iostack::job {

// Applies one option to *o. False with a one-line *err naming the place,
// the option and what was expected.
bool apply_option(JobOptions* o, const OptEntry& e, std::string* err);

// Whether iostack takes an option, knows it as one of fio's it does not
// implement, or does not know it at all.
enum class OptionStatus { kAccepted, kUnsupported, kUnknown };
OptionStatus option_status(const std::string& key);

// Every accepted option name (aliases included), for help and tests.
std::vector<std::string> option_names();

// The one-line description of an option (engine options have one; fio's
// common options leave it empty).
std::string option_help(const std::string& name);

}  // namespace iostack::job
