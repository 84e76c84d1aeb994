// The iostack subcommands; each returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace iostack::tool {

// iostack run [--output-format=normal|json] [--output=FILE] [--trace=DIR]
//             [--eta=auto|always|never] [--job-option=value ...] [JOBFILE ...]
int cmd_run(const std::vector<std::string>& args);
// iostack devices [SPEC ...]
int cmd_devices(const std::vector<std::string>& specs);
// iostack queue SPEC [ATTR [VALUE]]
int cmd_queue(const std::vector<std::string>& args);
// iostack exec [--uring|--aio|--all] [--stats] -- PROG [ARGS...]; returns
// only when PROG cannot be started.
int cmd_exec(const std::vector<std::string>& args);

}  // namespace iostack::tool
