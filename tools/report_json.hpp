// --output-format=json: fio's JSON layout and key names (stat.c
// show_thread_status_json, json_add_job_opts, json_array_add_disk_util),
// plus a few iostack keys fio has no name for ("splits", "flush_ios").
#pragma once

#include <nlohmann/json.hpp>

#include "job/runner.hpp"

namespace iostack::tool {

nlohmann::ordered_json report_json(const job::RunResult& r);

}  // namespace iostack::tool
