// BlkTrace writes per-cpu files that the reader parses back: per-cpu sequence
// numbers, cpu fields matching their file, notes before the events they name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "trace/blktrace.hpp"
#include "trace/blktrace_reader.hpp"
#include "trace/task_comm.hpp"
#include "trace_test_util.hpp"

namespace iostack::trace {
namespace {

using testing::SynthEvent;
using testing::TempDir;

constexpr core::Nanos kStart = 5 * core::kNsPerSec;

std::vector<std::vector<TraceRecord>> read_all(const std::string& dir) {
  std::vector<std::vector<TraceRecord>> per_cpu;
  std::string err;
  EXPECT_TRUE(read_blktrace(dir, "vdx", &per_cpu, &err)) << err;
  return per_cpu;
}

// Checks the invariants every cpu file must hold and returns the events
// (notes dropped) of each pid in file order.
std::map<std::uint32_t, std::vector<TraceRecord>> check_files(
    const std::vector<std::vector<TraceRecord>>& per_cpu) {
  std::map<std::uint32_t, std::vector<TraceRecord>> by_pid;
  for (std::size_t cpu = 0; cpu < per_cpu.size(); ++cpu) {
    const auto& recs = per_cpu[cpu];
    if (recs.empty()) continue;
    // A TIMESTAMP note opens each file that has events.
    EXPECT_EQ(recs[0].t.action, kBlkTnTimestamp) << "cpu " << cpu;
    EXPECT_EQ(recs[0].pdu.size(), 8u);
    std::uint32_t seq = 0;
    std::set<std::uint32_t> named;
    for (const TraceRecord& r : recs) {
      EXPECT_EQ(r.t.cpu, cpu);
      EXPECT_EQ(r.t.device, testing::kTestDev);
      if (r.t.action == kBlkTnProcess) {
        EXPECT_EQ(r.pdu.size(), kTaskCommLen);
        EXPECT_TRUE(named.insert(r.t.pid).second) << "second PROCESS note for " << r.t.pid;
        continue;
      }
      if (r.is_notify()) continue;
      EXPECT_EQ(r.t.sequence, ++seq) << "cpu " << cpu;
      EXPECT_TRUE(named.count(r.t.pid)) << "event of pid " << r.t.pid << " before its note";
      by_pid[r.t.pid].push_back(r);
    }
  }
  return by_pid;
}

std::string comm_noted(const std::vector<std::vector<TraceRecord>>& per_cpu, std::uint32_t pid) {
  for (const auto& recs : per_cpu) {
    for (const TraceRecord& r : recs) {
      if (r.t.action == kBlkTnProcess && r.t.pid == pid) return r.comm();
    }
  }
  return "";
}

void expect_events(const std::vector<SynthEvent>& want, const std::vector<TraceRecord>& got) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const BlkIoTrace& t = got[i].t;
    const SynthEvent& e = want[i];
    SCOPED_TRACE("event " + std::to_string(i) + " " + e.act);
    EXPECT_EQ(t.action, e.action | e.cats);
    EXPECT_EQ(t.sector, e.sector);
    EXPECT_EQ(t.bytes, e.bytes);
    EXPECT_EQ(t.error, e.error);
    EXPECT_EQ(t.time, e.rel_time);
    if (e.act == "U" || e.act == "UT" || e.act == "X") {
      EXPECT_EQ(t.pdu_len, 8u);
      EXPECT_EQ(got[i].pdu_be64(), e.extra);
    } else if (e.act == "A") {
      ASSERT_EQ(got[i].pdu.size(), sizeof(BlkIoTraceRemap));
      BlkIoTraceRemap r;
      std::memcpy(&r, got[i].pdu.data(), sizeof(r));
      EXPECT_EQ(be32toh(r.device_from_be), testing::kRemapFromDev);
      EXPECT_EQ(be32toh(r.device_to_be), testing::kTestDev);
      EXPECT_EQ(be64toh(r.sector_from_be), e.extra);
    } else {
      EXPECT_EQ(t.pdu_len, 0u);
    }
  }
}

TEST(BlkTraceWriter, TwoThreadsReadBackPerCpu) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  timespec before{};
  clock_gettime(CLOCK_REALTIME, &before);
  testing::TwoThreadRun run;
  {
    std::string err;
    auto bt = BlkTrace::open(dir.path(), "vdx", testing::kTestDev, kStart, &err);
    ASSERT_NE(bt, nullptr) << err;
    run = testing::write_two_thread_trace(*bt, kStart);
  }
  const auto per_cpu = read_all(dir.path());
  ASSERT_FALSE(per_cpu.empty());
  auto by_pid = check_files(per_cpu);
  ASSERT_EQ(by_pid.size(), 2u);
  expect_events(run.a, by_pid[static_cast<std::uint32_t>(run.tid_a)]);
  expect_events(run.b, by_pid[static_cast<std::uint32_t>(run.tid_b)]);
  EXPECT_EQ(comm_noted(per_cpu, static_cast<std::uint32_t>(run.tid_a)), testing::kWriterComm);
  EXPECT_EQ(comm_noted(per_cpu, static_cast<std::uint32_t>(run.tid_b)), testing::kReaderComm);

  // Pinned threads land in their cpu's file.
  for (auto [cpu, tid] : {std::pair{run.cpu_a, run.tid_a}, std::pair{run.cpu_b, run.tid_b}}) {
    if (cpu < 0) continue;
    ASSERT_LT(static_cast<std::size_t>(cpu), per_cpu.size());
    bool found = false;
    for (const TraceRecord& r : per_cpu[static_cast<std::size_t>(cpu)]) {
      found |= !r.is_notify() && r.t.pid == static_cast<std::uint32_t>(tid);
    }
    EXPECT_TRUE(found) << "no events of " << tid << " in cpu " << cpu << "'s file";
  }
  // The TIMESTAMP note holds the wall clock at open.
  for (const auto& recs : per_cpu) {
    if (recs.empty()) continue;
    std::uint32_t words[2];
    std::memcpy(words, recs[0].pdu.data(), sizeof(words));
    EXPECT_GE(words[0], static_cast<std::uint32_t>(before.tv_sec));
    EXPECT_LE(words[0], static_cast<std::uint32_t>(before.tv_sec) + 60);
    EXPECT_LT(words[1], 1000000000u);
  }
}

TEST(BlkTraceWriter, ConcurrentAddersKeepPerCpuSequencesDense) {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;  // several buffer flushes per cpu
  {
    std::string err;
    auto bt = BlkTrace::open(dir.path(), "vdx", testing::kTestDev, 0, &err);
    ASSERT_NE(bt, nullptr) << err;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&bt, t] {
        const std::uint32_t cats =
            BlkTrace::categories(t % 2 == 0, false, false, false, false, false, false, false);
        for (int i = 0; i < kPerThread; ++i) {
          bt->add(static_cast<core::Nanos>(i) * 1000, static_cast<std::uint64_t>(t) << 32 | i, 4096,
                  cats, rq_action(kBlkTaComplete), 0);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bt->dropped(), 0u);
  }
  const auto per_cpu = read_all(dir.path());
  auto by_pid = check_files(per_cpu);
  ASSERT_EQ(by_pid.size(), static_cast<std::size_t>(kThreads));
  for (auto& [pid, events] : by_pid) {
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kPerThread));
    // A thread's own events may hop cpus but stay in order within each file;
    // together they cover its sectors exactly once.
    std::set<std::uint64_t> sectors;
    for (const TraceRecord& r : events) sectors.insert(r.t.sector & 0xffffffffu);
    EXPECT_EQ(sectors.size(), static_cast<std::size_t>(kPerThread));
  }
}

TEST(BlkTraceWriter, ExplicitPidAndLargePayload) {
  TempDir dir;
  std::vector<std::uint8_t> blob(65535);
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::uint8_t>(i * 7);
  const std::int32_t main_pid = static_cast<std::int32_t>(getpid());
  {
    std::string err;
    auto bt = BlkTrace::open(dir.path(), "vdx", testing::kTestDev, 0, &err);
    ASSERT_NE(bt, nullptr) << err;
    std::thread([&] {
      bt->add(10, 8, 512, tc_act(kTcWrite), kBlkTaDrvData, 0, blob.data(),
              static_cast<std::uint16_t>(blob.size()), main_pid);
      bt->add(20, 16, 512, tc_act(kTcWrite), kBlkTaQueue, 0);
    }).join();
  }
  const auto per_cpu = read_all(dir.path());
  auto by_pid = check_files(per_cpu);
  ASSERT_EQ(by_pid[static_cast<std::uint32_t>(main_pid)].size(), 1u);
  EXPECT_EQ(by_pid[static_cast<std::uint32_t>(main_pid)][0].pdu, blob);
  const Comm want = task_comm(main_pid);
  EXPECT_EQ(comm_noted(per_cpu, static_cast<std::uint32_t>(main_pid)), std::string(want.data()));
  EXPECT_EQ(by_pid.size(), 2u);
}

TEST(BlkTraceWriter, FlushMakesRecordsVisibleWhileOpen) {
  TempDir dir;
  std::string err;
  auto bt = BlkTrace::open(dir.path(), "vdx", testing::kTestDev, 0, &err);
  ASSERT_NE(bt, nullptr) << err;
  bt->add(100, 1, 512, tc_act(kTcRead), kBlkTaQueue, 0);
  ASSERT_TRUE(bt->flush(&err)) << err;
  std::vector<std::vector<TraceRecord>> per_cpu;
  ASSERT_TRUE(read_blktrace(dir.path(), "vdx", &per_cpu, &err)) << err;
  std::size_t events = 0;
  for (const auto& recs : per_cpu) {
    for (const auto& r : recs) events += !r.is_notify();
  }
  EXPECT_EQ(events, 1u);
}

TEST(BlkTraceWriter, FileSetHasNoGapsAndNoLeftovers) {
  TempDir dir;
  const long ncpus = sysconf(_SC_NPROCESSORS_CONF);
  const std::string prefix = dir.path() + "/vdx.blktrace.";
  // A leftover of an earlier run on a bigger machine.
  std::ofstream(prefix + std::to_string(ncpus)) << "stale";
  const std::vector<int> cpus = testing::allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  const int last = cpus.back();
  {
    std::string err;
    auto bt = BlkTrace::open(dir.path(), "vdx", testing::kTestDev, 0, &err);
    ASSERT_NE(bt, nullptr) << err;
    EXPECT_FALSE(std::filesystem::exists(prefix + std::to_string(ncpus)));
    std::thread([&] {
      ASSERT_TRUE(testing::pin_to_cpu(last));
      bt->add(1, 1, 512, tc_act(kTcRead), kBlkTaQueue, 0);
    }).join();
  }
  // Every cpu file up to the last one used exists (blkparse stops at the first
  // missing one); the ones after it are gone.
  for (int cpu = 0; cpu <= last; ++cpu) {
    EXPECT_TRUE(std::filesystem::exists(prefix + std::to_string(cpu))) << cpu;
  }
  for (long cpu = last + 1; cpu <= ncpus; ++cpu) {
    EXPECT_FALSE(std::filesystem::exists(prefix + std::to_string(cpu))) << cpu;
  }
}

TEST(BlkTraceWriter, OpenReportsUnusableDirectory) {
  std::string err;
  EXPECT_EQ(BlkTrace::open("/nonexistent/iostack", "vdx", 0, 0, &err), nullptr);
  EXPECT_NE(err.find("/nonexistent/iostack"), std::string::npos) << err;
  TempDir dir;
  err.clear();
  EXPECT_EQ(BlkTrace::open(dir.path(), "", 0, 0, &err), nullptr);
  EXPECT_FALSE(err.empty());
}

TEST(BlkTraceWriter, SlashesInDeviceNameBecomeUnderscores) {
  TempDir dir;
  std::string err;
  auto bt = BlkTrace::open(dir.path(), "mapper/vg0", testing::kTestDev, 0, &err);
  ASSERT_NE(bt, nullptr) << err;
  EXPECT_EQ(bt->path_prefix(), dir.path() + "/mapper_vg0.blktrace.");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/mapper_vg0.blktrace.0"));
}

}  // namespace
}  // namespace iostack::trace
