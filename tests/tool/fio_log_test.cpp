// fio's log options (write_lat_log, write_bw_log, write_iops_log,
// write_hist_log, log_avg_msec, log_hist_msec, log_offset): the same job run
// by fio and by iostack writes the same files, with the same columns, units
// and (about) the same number of lines. Skips when fio is not installed.
#include <dirent.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

bool have(const char* prog) {
  return std::system((std::string("command -v ") + prog + " >/dev/null 2>&1").c_str()) == 0;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Every log file in `dir` (name -> rows of comma-separated numbers).
std::map<std::string, std::vector<std::vector<std::uint64_t>>> read_logs(const std::string& dir) {
  std::map<std::string, std::vector<std::vector<std::uint64_t>>> logs;
  DIR* d = opendir(dir.c_str());
  if (!d) return logs;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() < 4 || n.compare(n.size() - 4, 4, ".log") != 0) continue;
    auto& rows = logs[n];
    std::istringstream in(slurp(dir + "/" + n));
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::uint64_t> row;
      std::istringstream ls(line);
      std::string cell;
      while (std::getline(ls, cell, ',')) row.push_back(std::stoull(cell, nullptr, 0));
      rows.push_back(row);
    }
  }
  closedir(d);
  return logs;
}

using Logs = std::map<std::string, std::vector<std::vector<std::uint64_t>>>;

// Runs `job` (FILE and PREFIX replaced) with fio on a file and with iostack
// on a ram disk, each in a directory of its own.
void run_both(const std::string& job, Logs* fio, Logs* ios) {
  const std::string fdir = temp_dir(), idir = temp_dir();
  const std::string fjob =
      write_file("fio-" + std::to_string(job.size()) + ".fio",
                 replace_all(replace_all(job, "FILE", fdir + "/data"), "PREFIX", fdir + "/pfx"));
  ASSERT_EQ(std::system(("fio --output=/dev/null " + fjob + " >/dev/null 2>&1").c_str()), 0);
  const std::string ijob =
      write_file("ios-" + std::to_string(job.size()) + ".fio",
                 replace_all(replace_all(job, "FILE", "ram:1M"), "PREFIX", idir + "/pfx"));
  const Result r = run("run --output=/dev/null " + ijob);
  ASSERT_EQ(r.rc, 0) << r.err;
  std::remove((fdir + "/data").c_str());
  *fio = read_logs(fdir);
  *ios = read_logs(idir);
}

std::set<std::string> names(const Logs& l) {
  std::set<std::string> s;
  for (const auto& [n, rows] : l) s.insert(n);
  return s;
}

TEST(FioLogs, PerIoLogsMatchFiosFilesAndColumns) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  Logs fio, ios;
  run_both(
      "[j]\nfilename=FILE\nsize=1M\nbs=4k\nrw=randrw\nioengine=psync\n"
      "write_lat_log=PREFIX\nwrite_bw_log=PREFIX\nwrite_iops_log=PREFIX\nlog_offset=1\n",
      &fio, &ios);
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> want = {"pfx_lat.1.log", "pfx_slat.1.log", "pfx_clat.1.log",
                                      "pfx_bw.1.log", "pfx_iops.1.log"};
  EXPECT_EQ(names(fio), want);
  EXPECT_EQ(names(ios), want);
  for (const auto& n : want) {
    const auto& f = fio[n];
    const auto& i = ios[n];
    // psync has no submission latency: both slat logs are empty.
    EXPECT_EQ(i.size(), f.size()) << n;
    std::uint64_t ddir_count[2][2] = {};
    for (const auto* rows : {&f, &i}) {
      for (const auto& row : *rows) {
        ASSERT_EQ(row.size(), 6u) << n;  // time, value, ddir, bs, offset, prio
        ASSERT_LE(row[2], 1u) << n;
        ++ddir_count[rows == &i][row[2]];
        EXPECT_EQ(row[3], 4096u) << n;
        EXPECT_EQ(row[4] % 4096, 0u) << n;
        EXPECT_LT(row[4], 1u << 20) << n;
        EXPECT_EQ(row[5], 0u) << n;
        if (n == "pfx_iops.1.log") {
          EXPECT_EQ(row[1], 1u);
        }
        if (n == "pfx_lat.1.log" || n == "pfx_clat.1.log") {
          EXPECT_GT(row[1], 0u);  // ns
        }
      }
    }
    EXPECT_EQ(ddir_count[0][0] + ddir_count[0][1], ddir_count[1][0] + ddir_count[1][1]) << n;
  }
  EXPECT_EQ(ios["pfx_lat.1.log"].size(), 256u);
}

TEST(FioLogs, AveragedAndHistogramLogsMatchFiosShape) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  Logs fio, ios;
  run_both(
      "[j]\nfilename=FILE\nsize=1M\nbs=4k\nrw=randread\nioengine=psync\ntime_based\n"
      "runtime=1s\nrate_iops=2000\nlog_avg_msec=100\nlog_hist_msec=100\n"
      "write_lat_log=PREFIX\nwrite_bw_log=PREFIX\nwrite_iops_log=PREFIX\n"
      "write_hist_log=PREFIX\n",
      &fio, &ios);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(names(ios), names(fio));
  EXPECT_EQ(names(ios).count("pfx_clat_hist.1.log"), 1u);
  for (const auto& [n, f] : fio) {
    const auto& i = ios[n];
    if (n == "pfx_slat.1.log") {
      EXPECT_TRUE(f.empty());
      EXPECT_TRUE(i.empty());
      continue;
    }
    // One line per 100 ms window of a 1 s run, fewer when a loaded machine
    // stretches the windows (fio's own count drops too): a count, not a time.
    EXPECT_GE(i.size(), 1u) << n;
    EXPECT_LE(i.size(), 12u) << n;
    EXPECT_GE(f.size(), 1u) << n;
    const bool hist = n == "pfx_clat_hist.1.log";
    for (const auto* rows : {&f, &i})
      for (const auto& row : *rows) {
        if (hist) {
          ASSERT_EQ(row.size(), 3u + 1856u) << n;  // time, ddir, bs, FIO_IO_U_PLAT_NR buckets
          EXPECT_EQ(row[1], 0u);
          EXPECT_EQ(row[2], 4096u);
          continue;
        }
        ASSERT_EQ(row.size(), 5u) << n;  // time, value, ddir, bs, prio
        EXPECT_EQ(row[2], 0u) << n;
        EXPECT_EQ(row[3], 0u) << n;  // averaged entries carry no block size
        EXPECT_GT(row[1], 0u) << n;
      }
  }
}

TEST(FioLogs, ThreadNumbersAndPrioritiesAsFio) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  Logs fio, ios;
  run_both(
      "[a]\nfilename=FILE\nsize=64k\nrw=read\nioengine=psync\nprioclass=2\nprio=3\n"
      "log_prio=1\nnumjobs=2\nwrite_iops_log=PREFIX\n"
      "[b]\nfilename=FILE\nsize=64k\nrw=write\nioengine=psync\nprioclass=3\n"
      "write_iops_log=PREFIX\n",
      &fio, &ios);
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> want = {"pfx_iops.1.log", "pfx_iops.2.log", "pfx_iops.3.log"};
  EXPECT_EQ(names(fio), want);
  EXPECT_EQ(names(ios), want);
  for (const auto& n : want) {
    ASSERT_EQ(ios[n].size(), fio[n].size()) << n;
    for (std::size_t i = 0; i < ios[n].size(); ++i) {
      // Everything but the time: value, ddir, bs, prio (0x4003 with log_prio).
      EXPECT_EQ(std::vector<std::uint64_t>(ios[n][i].begin() + 1, ios[n][i].end()),
                std::vector<std::uint64_t>(fio[n][i].begin() + 1, fio[n][i].end()))
          << n << " line " << i;
    }
  }
}

// fio's own plotting script (gnuplot) draws iostack's logs.
TEST(FioLogs, FioGeneratePlotsReadsThem) {
  if (!have("fio_generate_plots") || !have("gnuplot"))
    GTEST_SKIP() << "fio_generate_plots or gnuplot not installed";
  const std::string dir = temp_dir();
  const Result r =
      run("run --output=/dev/null --name=j --filename=ram:1M --size=256k "
          "--rw=randrw --write_lat_log=" +
          dir + "/x --write_bw_log=" + dir + "/x --write_iops_log=" + dir + "/x");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(std::system(("cd " + dir + " && fio_generate_plots x >/dev/null 2>&1").c_str()), 0);
  for (const char* c : {"x-lat.svg", "x-clat.svg", "x-bw.svg", "x-iops.svg"}) {
    const std::string svg = slurp(dir + "/" + c);
    EXPECT_NE(svg.find("<path"), std::string::npos) << c << " has no line";
  }
}

TEST(FioLogs, BareOptionNamesTheLogAfterTheJob) {
  const std::string dir = temp_dir();
  const Result r = run("run --output=/dev/null --name=" + dir +
                       "/myjob --filename=ram:1M --size=64k --write_iops_log --per_job_logs=0");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(lines(slurp(dir + "/myjob_iops.log")), 16);
}

TEST(FioLogs, UnwritableLogIsOneLineBeforeAnythingRuns) {
  const Result r =
      run("run --name=j --filename=ram:1M --write_bw_log=/nonexistent-dir/x --eta=never");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("/nonexistent-dir/x_bw.1.log: cannot write log file"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("Starting"), std::string::npos) << r.out;
}

TEST(FioLogs, BadValueIsOneLine) {
  const Result r = run("run --name=j --filename=ram:1M --log_hist_coarseness=9");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("log_hist_coarseness"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace iostack::tool::test
