// write_iolog: fio's iolog version 3 as the job issues its I/O, appended
// per job, with fio's rules around it (read_iolog overrides it, number_ios
// does not bound a time_based job). The line-for-line comparison with fio
// itself is FioCompat.WriteIologLikeTheFioBinary.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../common/temp_dir.hpp"
#include "job/job_file.hpp"
#include "job/runner.hpp"
#include "job/trace_io.hpp"

namespace iostack::job {
namespace {

using test::TempDir;

bool run_text(const std::string& text, RunResult* r, std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  Runner runner;
  return parse_job_text(text, "t.fio", &set, err) && build_jobs(set, &jobs, err) &&
         runner.prepare(jobs, err) && runner.run(RunOptions{}, r, err);
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> v;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The fields of a version 3 line after its time.
std::string untimed(const std::string& line) { return line.substr(line.find(' ') + 1); }

TEST(WriteIolog, Version3LinesInIssueOrderAndAppended) {
  TempDir d;
  const std::string log = d.path + "/j.iolog";
  const std::string job =
      "[j]\nfilename=ram:1M\nrw=write\nbs=4k\nsize=16k\nioengine=bio\n"
      "fsync=3\nend_fsync=1\nwrite_iolog=" +
      log + "\n";
  RunResult r;
  std::string err;
  ASSERT_TRUE(run_text(job, &r, &err)) << err;
  ASSERT_FALSE(r.failed()) << r.jobs[0].verror;
  std::vector<std::string> l = lines_of(log);
  // fsync and end_fsync: a sync line keeps the offset of the unit it went
  // out on, as fio's does.
  const std::vector<std::string> want = {"ram:1M add",
                                         "ram:1M open",
                                         "ram:1M write 0 4096",
                                         "ram:1M write 4096 4096",
                                         "ram:1M write 8192 4096",
                                         "ram:1M sync 8192 0",
                                         "ram:1M write 12288 4096",
                                         "ram:1M sync 12288 0",
                                         "ram:1M close"};
  ASSERT_EQ(l.size(), want.size() + 1);
  EXPECT_EQ(l[0], "fio version 3 iolog");
  std::uint64_t prev = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(untimed(l[i + 1]), want[i]) << i;
    const std::uint64_t t = std::stoull(l[i + 1]);
    EXPECT_GE(t, prev) << i;  // microseconds since the log began
    prev = t;
  }
  // fio opens the log for appending: a second run adds a second log.
  ASSERT_TRUE(run_text(job, &r, &err)) << err;
  l = lines_of(log);
  ASSERT_EQ(l.size(), 2 * (want.size() + 1));
  EXPECT_EQ(l[want.size() + 1], "fio version 3 iolog");
  // iostack replay reads it back: each appended log an issuer of its own.
  Trace t;
  ASSERT_TRUE(read_traces({log}, &t, &err)) << err;
  ASSERT_EQ(t.ios.size(), 12u);
  ASSERT_EQ(t.procs.size(), 2u);
  EXPECT_EQ(t.procs[1].comm, "j.iolog#2");
  int syncs[2] = {0, 0};
  for (const TraceIo& io : t.ios)
    if (io.ddir == kSync) ++syncs[io.proc];
  EXPECT_EQ(syncs[0], 2);
  EXPECT_EQ(syncs[1], 2);
}

TEST(WriteIolog, JobsSharingALogEachWriteWholeLines) {
  TempDir d;
  const std::string log = d.path + "/shared.iolog";
  RunResult r;
  std::string err;
  // Enough lines per job to flush several times while the others write.
  ASSERT_TRUE(
      run_text("[j]\nfilename=ram:8M\nrw=randread\nbs=512\nsize=4m\nnumber_ios=3000\n"
               "ioengine=bio\nnumjobs=3\nwrite_iolog=" +
                   log + "\n",
               &r, &err))
      << err;
  int headers = 0, ios = 0;
  for (const std::string& l : lines_of(log)) {
    if (l == "fio version 3 iolog") {
      ++headers;
      continue;
    }
    std::istringstream in(l);
    std::string t, file, act, off, len, extra;
    in >> t >> file >> act;
    ASSERT_EQ(file, "ram:8M") << l;
    if (act == "read") {
      ASSERT_TRUE(in >> off >> len) << l;
      EXPECT_EQ(len, "512") << l;
      ++ios;
    } else {
      EXPECT_TRUE(act == "add" || act == "open" || act == "close") << l;
    }
    EXPECT_FALSE(in >> extra) << l;
  }
  EXPECT_EQ(headers, 3);
  EXPECT_EQ(ios, 9000);
}

TEST(WriteIolog, NumberIosDoesNotBoundATimeBasedJob) {
  // fio stops a job at number_ios only when it is not time_based (its
  // do_io loop runs on while time_based, whatever the count says).
  TempDir d;
  const std::string log = d.path + "/t.iolog";
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[global]\nclock=virtual\n[j]\nfilename=null:1M,irqmode=2,"
               "completion_nsec=100000\nrw=randread\nbs=4k\nioengine=psync\n"
               "number_ios=5\ntime_based\nruntime=10ms\nwrite_iolog=" +
                   log + "\n",
               &r, &err))
      << err;
  EXPECT_GT(r.jobs[0].dir[kRead].total_io_u, 50u);
  ASSERT_TRUE(run_text("[j]\nfilename=null:1M\nrw=randread\nbs=4k\nnumber_ios=5\n", &r, &err))
      << err;
  EXPECT_EQ(r.jobs[0].dir[kRead].total_io_u, 5u);
  // number_ios counts over all loops, as fio's exceeds_number_ios.
  ASSERT_TRUE(
      run_text("[j]\nfilename=null:1M\nrw=randread\nbs=4k\nsize=64k\nnumber_ios=5\n"
               "loops=3\n",
               &r, &err))
      << err;
  EXPECT_EQ(r.jobs[0].dir[kRead].total_io_u, 15u);
}

TEST(WriteIolog, VirtualTimesRepeatByteForByte) {
  // Under clock=virtual the times are virtual: each psync read on this
  // null device takes 50 us, so read k is issued at k * 50 us.
  TempDir d;
  std::string logs[2];
  for (int i = 0; i < 2; ++i) {
    const std::string log = d.path + "/v" + std::to_string(i) + ".iolog";
    RunResult r;
    std::string err;
    ASSERT_TRUE(
        run_text("[global]\nclock=virtual\n[j]\nfilename=null:1M,irqmode=2,"
                 "completion_nsec=50000\nrw=randread\nbs=4k\nsize=64k\nioengine=psync\n"
                 "write_iolog=" +
                     log + "\n",
                 &r, &err))
        << err;
    std::ifstream in(log);
    std::ostringstream ss;
    ss << in.rdbuf();
    logs[i] = ss.str();
  }
  EXPECT_EQ(logs[0], logs[1]);
  std::istringstream in(logs[0]);
  std::vector<std::uint64_t> read_times;
  for (std::string l; std::getline(in, l);)
    if (l.find(" read ") != std::string::npos) read_times.push_back(std::stoull(l));
  ASSERT_EQ(read_times.size(), 16u);
  for (std::size_t k = 0; k < read_times.size(); ++k) EXPECT_EQ(read_times[k], k * 50) << k;
}

TEST(WriteIolog, ReadIologOverridesItAndBadPathsAreOneLine) {
  TempDir d;
  const std::string in = d.file("in.log", "fio version 2 iolog\nx add\nx read 0 4096\n");
  const std::string out = d.path + "/out.iolog";
  RunResult r;
  std::string err;
  ASSERT_TRUE(
      run_text("[j]\nfilename=ram:1M\nread_iolog=" + in + "\nwrite_iolog=" + out + "\n", &r, &err))
      << err;
  EXPECT_FALSE(std::ifstream(out).good());  // fio: "read iolog overrides write_iolog"
  EXPECT_FALSE(
      run_text("[j]\nfilename=ram:1M\nwrite_iolog=" + d.path + "/no/such/dir/x\n", &r, &err));
  EXPECT_NE(err.find("t.fio:3: write_iolog=" + d.path + "/no/such/dir/x: No such file"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

}  // namespace
}  // namespace iostack::job
