// --output-format=json: fio's documented key names.
#include <gtest/gtest.h>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

TEST(Json, HasFiosKeys) {
  const Result r =
      run("run --output-format=json --bs=8k --name=j --filename=ram:8M "
          "--ioengine=bio --rw=randrw --iodepth=4 --fsync=8");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k :
       {"fio version", "timestamp", "timestamp_ms", "time", "global options", "jobs", "disk_util"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["global options"]["bs"], "8k");
  const auto& job = j["jobs"][0];
  for (const char* k : {"jobname",
                        "groupid",
                        "error",
                        "eta",
                        "elapsed",
                        "job options",
                        "read",
                        "write",
                        "trim",
                        "sync",
                        "job_runtime",
                        "usr_cpu",
                        "sys_cpu",
                        "ctx",
                        "majf",
                        "minf",
                        "iodepth_level",
                        "iodepth_submit",
                        "iodepth_complete",
                        "latency_ns",
                        "latency_us",
                        "latency_ms",
                        "latency_depth",
                        "latency_target",
                        "latency_percentile",
                        "latency_window"})
    EXPECT_TRUE(job.contains(k)) << k;
  EXPECT_EQ(job["job options"]["rw"], "randrw");
  for (const char* d : {"read", "write", "trim"})
    for (const char* k :
         {"io_bytes",  "io_kbytes", "bw_bytes",  "bw",          "iops",        "runtime",
          "total_ios", "short_ios", "drop_ios",  "slat_ns",     "clat_ns",     "lat_ns",
          "bw_min",    "bw_max",    "bw_agg",    "bw_mean",     "bw_dev",      "bw_samples",
          "iops_min",  "iops_max",  "iops_mean", "iops_stddev", "iops_samples"})
      EXPECT_TRUE(job[d].contains(k)) << d << "." << k;
  const auto& clat = job["read"]["clat_ns"];
  for (const char* k : {"min", "max", "mean", "stddev", "N", "percentile"})
    EXPECT_TRUE(clat.contains(k)) << k;
  for (const char* p : {"1.000000", "5.000000", "10.000000", "50.000000", "90.000000", "99.000000",
                        "99.900000", "99.990000"})
    EXPECT_TRUE(clat["percentile"].contains(p)) << p;
  EXPECT_GT(job["sync"]["total_ios"].get<int>(), 0);
  EXPECT_EQ(job["sync"]["total_ios"], job["sync"]["lat_ns"]["N"]);
  for (const char* k : {"1", "2", "4", "8", "16", "32", ">=64"})
    EXPECT_TRUE(job["iodepth_level"].contains(k)) << k;
  const auto& d = j["disk_util"][0];
  for (const char* k : {"name", "read_ios", "write_ios", "read_merges", "write_merges",
                        "read_ticks", "write_ticks", "in_queue", "util"})
    EXPECT_TRUE(d.contains(k)) << k;
  EXPECT_EQ(d["name"], "ram0");
}

}  // namespace
}  // namespace iostack::tool::test
