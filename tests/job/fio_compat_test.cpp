// The job language against fio 3.33 itself: offsets, sizes and directions
// as fio issues them (recorded from fio's write_lat_log with log_offset=1,
// and compared live when fio is installed), and verify headers that each
// side's data passes under the other.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../common/temp_dir.hpp"
#include "job/io_gen.hpp"
#include "job/job_file.hpp"
#include "job/report_text.hpp"
#include "job/runner.hpp"

namespace iostack::job {
namespace {

using test::TempDir;
using Io = std::tuple<int, std::uint32_t, std::uint64_t>;  // ddir, bs, offset

JobOptions opts_of(const std::string& lines) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  EXPECT_TRUE(parse_job_text("[j]\nfilename=ram:1M\n" + lines, "t.fio", &set, &err) &&
              build_jobs(set, &jobs, &err))
      << err;
  return jobs.empty() ? JobOptions{} : jobs[0].opts;
}

// The first `n` I/Os of a job of `len` bytes at `start` of a 1 MiB file
// named as fio's was when the reference was recorded.
std::vector<Io> first_ios(const JobOptions& o, std::uint64_t start, std::uint64_t len, int n) {
  IoGen g(o, start, len, 0);
  g.seed_fio(1, "/tmp/iostack-fio-ref.img", 1 << 20);
  std::vector<Io> v;
  for (int i = 0; i < n; ++i) {
    const int d = g.next_ddir();
    std::uint32_t bs;
    std::uint64_t off;
    if (!g.next(d, &bs, &off)) break;
    v.emplace_back(d, bs, off);
  }
  return v;
}

struct Ref {
  const char* opts;
  std::uint64_t start, len;
  std::vector<Io> fio;  // fio 3.33's first I/Os
};

TEST(FioCompat, FirstIosMatchFio333) {
  const Ref refs[] = {
      {"rw=randread\nbs=4k\nsize=256k\n",
       0,
       256 << 10,
       {{0, 4096, 12288},
        {0, 4096, 192512},
        {0, 4096, 217088},
        {0, 4096, 122880},
        {0, 4096, 102400},
        {0, 4096, 221184},
        {0, 4096, 98304},
        {0, 4096, 90112}}},
      {"rw=randread\nbs=4k\nsize=256k\nrandom_distribution=zipf:1.2\n",
       0,
       256 << 10,
       {{0, 4096, 114688},
        {0, 4096, 32768},
        {0, 4096, 81920},
        {0, 4096, 24576},
        {0, 4096, 114688},
        {0, 4096, 200704},
        {0, 4096, 24576},
        {0, 4096, 24576}}},
      {"rw=randread\nbs=4k\nsize=256k\nrandom_distribution=pareto:0.3\n",
       0,
       256 << 10,
       {{0, 4096, 204800},
        {0, 4096, 45056},
        {0, 4096, 184320},
        {0, 4096, 24576},
        {0, 4096, 118784},
        {0, 4096, 114688},
        {0, 4096, 24576},
        {0, 4096, 24576}}},
      {"rw=randread\nbs=4k\nsize=256k\nrandom_distribution=normal:10\n",
       0,
       256 << 10,
       {{0, 4096, 49152},
        {0, 4096, 221184},
        {0, 4096, 40960},
        {0, 4096, 229376},
        {0, 4096, 229376},
        {0, 4096, 61440},
        {0, 4096, 208896},
        {0, 4096, 131072}}},
      {"rw=randread\nbs=4k\nsize=256k\nrandom_distribution=zoned:60/10:30/20:10/70\n",
       0,
       256 << 10,
       {{0, 4096, 0},
        {0, 4096, 16384},
        {0, 4096, 20480},
        {0, 4096, 159744},
        {0, 4096, 40960},
        {0, 4096, 20480},
        {0, 4096, 40960},
        {0, 4096, 8192}}},
      // Every 4th offset random, sequential in between; the stream ends at
      // the end of the range.
      {"rw=randread:4\nbs=4k\nsize=64k\n",
       0,
       64 << 10,
       {{0, 4096, 0},
        {0, 4096, 4096},
        {0, 4096, 8192},
        {0, 4096, 12288},
        {0, 4096, 45056},
        {0, 4096, 49152},
        {0, 4096, 53248},
        {0, 4096, 57344},
        {0, 4096, 53248},
        {0, 4096, 57344},
        {0, 4096, 61440}}},
      // Backwards from an offset: fio 3.33 restarts at the range's end
      // measured from the device's start, and stays there.
      {"rw=read:-4k\nbs=4k\nsize=64k\noffset=128k\n",
       128 << 10,
       64 << 10,
       {{0, 4096, 192512}, {0, 4096, 192512}, {0, 4096, 192512}, {0, 4096, 192512}}},
      {"rw=randread\nbs=4k\nsize=256k\nrandom_generator=tausworthe64\n",
       0,
       256 << 10,
       {{0, 4096, 245760},
        {0, 4096, 4096},
        {0, 4096, 20480},
        {0, 4096, 24576},
        {0, 4096, 135168},
        {0, 4096, 8192},
        {0, 4096, 114688},
        {0, 4096, 86016}}},
      // Sizes drawn by fio's scaling, cut short where the map is taken.
      {"rw=randread\nbsrange=4k-32k\nsize=512k\n",
       0,
       512 << 10,
       {{0, 8192, 28672},
        {0, 24576, 385024},
        {0, 28672, 438272},
        {0, 12288, 245760},
        {0, 32768, 208896},
        {0, 4096, 466944},
        {0, 12288, 196608},
        {0, 8192, 184320},
        {0, 8192, 475136},
        {0, 8192, 36864},
        {0, 4096, 471040},
        {0, 12288, 339968}}},
      {"rw=randrw\nrwmixread=70\nbs=4k\nsize=512k\n",
       0,
       512 << 10,
       {{0, 4096, 28672},
        {0, 4096, 385024},
        {0, 4096, 438272},
        {1, 4096, 245760},
        {0, 4096, 208896},
        {0, 4096, 442368},
        {1, 4096, 196608},
        {0, 4096, 184320},
        {0, 4096, 475136},
        {0, 4096, 32768},
        {1, 4096, 446464},
        {0, 4096, 339968}}},
      {"rw=read\nbs=4k\nsize=256k\nzonemode=strided\nzonesize=8k\nzonerange=32k\n"
       "zoneskip=16k\n",
       0,
       256 << 10,
       {{0, 4096, 0},
        {0, 4096, 4096},
        {0, 4096, 49152},
        {0, 4096, 53248},
        {0, 4096, 98304},
        {0, 4096, 102400},
        {0, 4096, 147456},
        {0, 4096, 151552}}},
  };
  for (const Ref& r : refs) {
    const JobOptions o = opts_of(r.opts);
    EXPECT_EQ(first_ios(o, r.start, r.len, static_cast<int>(r.fio.size())), r.fio) << r.opts;
  }
}

TEST(FioCompat, RwSuffixAndSequencerParse) {
  JobOptions o = opts_of("rw=randwrite:16\nrw_sequencer=identical\n");
  EXPECT_TRUE(o.random && o.dir_write);
  EXPECT_EQ(o.seq_nr, 16u);
  EXPECT_EQ(o.rw_seq, 1);
  o = opts_of("rw=write:-8k\n");
  EXPECT_EQ(o.seq_add, -8192);
  o = opts_of("rw=randtrimwrite\n");
  EXPECT_TRUE(o.dir_trim && o.dir_write && o.random);
  // Identical: each random offset is used seq_nr times.
  o = opts_of("rw=randread:3\nrw_sequencer=identical\nbs=4k\n");
  const auto v = first_ios(o, 0, 1 << 20, 9);
  ASSERT_EQ(v.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(std::get<2>(v[i]), std::get<2>(v[i / 3 * 3])) << i;
}

TEST(FioCompat, BadValuesNameWhatIsExpected) {
  std::string err;
  auto fails = [&](const std::string& line) {
    JobFileSet set;
    std::vector<JobDef> jobs;
    err.clear();
    return parse_job_text("[j]\nfilename=ram:1M\n" + line, "t.fio", &set, &err) &&
           !build_jobs(set, &jobs, &err);
  };
  EXPECT_TRUE(fails("random_distribution=zipf:1\n"));
  EXPECT_NE(err.find("t.fio:3: random_distribution=zipf:1: expected a zipf theta other than 1.0"),
            std::string::npos)
      << err;
  EXPECT_TRUE(fails("random_distribution=zoned:50/10:40/10\n"));
  EXPECT_NE(err.find("access percentages adding up to 100"), std::string::npos) << err;
  EXPECT_TRUE(fails("rw=randread:x\n"));
  EXPECT_NE(err.find("a count after ':'"), std::string::npos) << err;
  EXPECT_TRUE(fails("zonemode=zbd\n"));
  EXPECT_NE(err.find("zoned block device"), std::string::npos) << err;
  EXPECT_TRUE(fails("zonesize=1m\n"));
  EXPECT_NE(err.find("zonesize: needs zonemode=strided"), std::string::npos) << err;
}

// --- Live comparisons with the fio binary, when there is one. ---

bool have_fio() { return std::system("fio --version >/dev/null 2>&1") == 0; }

// Direction, size, offset and priority of every I/O in the lat logs of
// `prefix` (one per job thread), in thread order.
std::vector<std::string> read_lat_logs(const std::string& prefix) {
  std::vector<std::string> v;
  for (int n = 1;; ++n) {
    std::ifstream in(prefix + "_lat." + std::to_string(n) + ".log");
    if (!in) break;
    std::string line;
    while (std::getline(in, line)) {
      // time, latency, ddir, bs, offset, prio: keep all but the first two.
      const auto c = line.find(", ", line.find(", ") + 2);
      if (c != std::string::npos) v.push_back(line.substr(c + 2));
    }
  }
  return v;
}

bool run_iostack(const std::string& text, std::string* err) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  if (!parse_job_text(text, "t.fio", &set, err) || !build_jobs(set, &jobs, err)) return false;
  Runner runner;
  RunResult r;
  if (!runner.prepare(jobs, err) || !runner.run(RunOptions{}, &r, err)) return false;
  if (r.failed()) *err = r.jobs[0].verror;
  return !r.failed();
}

// fio's command line for options given one per line; fio keeps no verify
// state file (it would write one into the working directory).
std::string fio_args(const std::string& lines) {
  std::istringstream in(lines);
  std::string l, a = " --verify_state_save=0";
  while (std::getline(in, l))
    if (!l.empty()) a += " --" + l;
  return a;
}

TEST(FioCompat, SameIosAsTheFioBinary) {
  if (!have_fio()) GTEST_SKIP() << "fio is not installed";
  const char* const jobs[] = {
      "rw=randwrite\nbs=4k\nsize=1m\n",
      "rw=randread\nbsrange=4k-64k\nsize=1m\n",
      "rw=randread\nbssplit=4k/20:16k/50:64k/30\nsize=512k\n",
      "rw=randrw\nbsrange=4k-16k\nsize=512k\nrwmixread=30\n",
      "rw=randread\nbs=4k\nsize=256k\nrandom_distribution=zipf:0.8\nrandseed=99\n",
      "rw=randread\nbs=4k\nsize=256k\nrandom_distribution=zoned_abs:60/64k:40/192k\n",
      "rw=randread\nbs=4k\nsize=256k\npercentage_random=50\n",
      "rw=randread\nbs=4k\nsize=256k\nrandseed=1234\nrandrepeat=0\n",
      "rw=write:8k\nbs=4k\nsize=128k\n",
      "rw=randread:4\nrw_sequencer=identical\nbs=4k\nsize=64k\n",
      "rw=randrw\nbs=4k\nsize=64k\nio_size=256k\n",
      "rw=randread\nbs=4k\nsize=256k\nnumber_ios=10\n",
      "rw=randread\nbs=4k\nsize=256k\nzonemode=strided\nzonesize=16k\nzonerange=64k\n",
      "rw=trimwrite\nbsrange=4k-16k\nsize=128k\n",
      "rw=randtrimwrite\nbs=4k\nsize=64k\n",
      "rw=randread\nbs=4k\nsize=64k\nnumjobs=3\noffset_increment=128k\n",
      "rw=read\nbs=4k\nsize=64k\nnumjobs=4\noffset_increment=10%\n",
      "rw=randread\nbsrange=4k-64k\nsize=1m\nnorandommap\n",
      "rw=randwrite\nbs=4k\nsize=200k\nrandom_generator=lfsr\nio_size=600k\n",
      "ioengine=libaio\nrw=randread\nbs=4k\nsize=256k\ncmdprio_percentage=30\n"
      "cmdprio_class=2\ncmdprio=3\n",
      "ioengine=io_uring\nrw=randrw\nbssplit=4k/50:16k/50\nsize=512k\n"
      "cmdprio_bssplit=4k/30:16k/60/3/0,4k/100/2/7\n",
  };
  TempDir d;
  const std::string file = d.path + "/f.img";
  for (const char* j : jobs) {
    ASSERT_EQ(std::system(("truncate -s 1M " + file).c_str()), 0);
    std::system(("rm -f " + d.path + "/*.log").c_str());
    // fio trims a regular file with an ioctl it refuses: its null engine
    // issues the same offsets.
    const bool trims = std::string(j).find("trim") != std::string::npos;
    const std::string cmd = "fio --name=j --filename=" + file + " --write_lat_log=" + d.path +
                            "/fio --log_offset=1 --log_prio=1" + (trims ? " --ioengine=null" : "") +
                            fio_args(j) + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string err;
    ASSERT_TRUE(run_iostack("[j]\nfilename=" + file + "\nwrite_lat_log=" + d.path +
                                "/ios\nlog_offset=1\nlog_prio=1\n" + j,
                            &err))
        << j << err;
    const auto want = read_lat_logs(d.path + "/fio");
    EXPECT_FALSE(want.empty()) << j;
    EXPECT_EQ(read_lat_logs(d.path + "/ios"), want) << j;
  }
}

// The iologs in `path` (one per job thread, appended one after another),
// each as its lines without the leading time, sorted by their contents
// (threads append in any order).
std::vector<std::vector<std::string>> read_iologs(const std::string& path) {
  std::vector<std::vector<std::string>> logs;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "fio version 3 iolog") {
      logs.emplace_back();
      continue;
    }
    if (logs.empty()) return {{"no version line before: " + line}};
    const auto sp = line.find(' ');
    logs.back().push_back(sp == std::string::npos ? "bad: " + line : line.substr(sp + 1));
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

std::string show(const std::vector<std::vector<std::string>>& logs) {
  std::string s;
  for (const auto& l : logs) {
    s += "--- " + std::to_string(l.size()) + " lines\n";
    for (std::size_t i = 0; i < l.size() && i < 40; ++i) s += l[i] + "\n";
  }
  return s;
}

TEST(FioCompat, WriteIologLikeTheFioBinary) {
  if (!have_fio()) GTEST_SKIP() << "fio is not installed";
  // fio's write_iolog, line for line (less the times): the same I/O in the
  // same order, with fio's add/open/close lines around loops and verify.
  const char* const jobs[] = {
      "rw=read\nbs=4k\nsize=64k\n",
      "rw=randwrite\nbs=4k\nsize=256k\n",
      "rw=randrw\nbsrange=4k-16k\nsize=256k\nrwmixread=70\n",
      "rw=read:8k\nbs=4k\nsize=128k\n",
      "rw=write:-8k\nbs=4k\nsize=64k\noffset=128k\n",
      "rw=randread:4\nbs=4k\nsize=64k\n",
      "rw=randread\nbssplit=4k/20:16k/50:64k/30\nsize=512k\n",
      "rw=randread\nbs=4k\nsize=256k\nrandom_distribution=zipf:1.2\n",
      "rw=randread\nbs=4k\nsize=256k\nrandom_distribution=pareto:0.3\nnorandommap\n",
      "rw=randread\nbs=4k\nsize=64k\nnumjobs=3\noffset_increment=128k\n",
      "rw=randread\nbs=4k\nsize=256k\nnumber_ios=10\n",
      "rw=randread\nbs=4k\nsize=32k\nnumber_ios=5\nloops=3\n",
      "rw=read\nbs=4k\nsize=16k\nloops=3\n",
      "rw=randrw\nbs=4k\nsize=32k\nio_size=80k\n",
      "rw=randwrite\nbs=8k\nblockalign=4k\nsize=64k\n",
      "rw=randread\nbsrange=4k-12k\nblockalign=2k\nsize=64k\nnorandommap\n",
      "rw=write\nbs=4k\nsize=32k\nfsync=3\nend_fsync=1\n",
      "rw=write\nbs=4k\nsize=32k\nfdatasync=4\nend_fsync=1\n",
      "rw=randwrite\nbs=4k\nsize=32k\nverify=crc32c\n",
      "rw=randread\nbs=4k\nsize=256k\nzonemode=strided\nzonesize=16k\nzonerange=64k\n",
      "rw=randtrimwrite\nbs=4k\nsize=32k\n",
      "rw=trimwrite\nbs=4k\nsize=64k\nnumber_ios=6\n",
      "rw=randread\nbsrange=4k-16k\nsize=64k\nio_size=256k\n"
      "random_distribution=zoned:50/10:50/90\n",
      "rw=write\nbs=4k\nsize=16k\nloops=2\nverify=crc32c\n",
      "rw=randwrite\nbs=4k\nsize=32k\nnorandommap\nverify=md5\n",
      "rw=randwrite\nbs=4k\nsize=64k\nrandom_distribution=zipf:1.1\nverify=crc32c\n",
      "rw=randwrite\nbs=4k\nsize=32k\nrandom_generator=lfsr\nverify=crc32c\n",
      "rw=write\nbs=4k\nsize=32k\nloops=2\nend_fsync=1\n",
      "rw=randrw\nbs=4k\nsize=64k\npercentage_random=30\n",
      "ioengine=libaio\niodepth=8\nrw=randrw\nbssplit=4k/50:8k/50\nsize=256k\n",
      "ioengine=io_uring\niodepth=4\nrw=randwrite\nbs=4k\nsize=64k\nverify=crc32c\n",
      "rw=trim\nbs=8k\nsize=64k\n",
      "rw=randtrim\nbs=4k\nsize=64k\n",
      "rw=rw\nbs=4k\nsize=128k\nrwmixwrite=30\n",
      "rw=randrw:3\nrw_sequencer=sequential\nbs=4k\nsize=64k\n",
      "rw=randread:2\nrw_sequencer=identical\nbsrange=4k-8k\nsize=64k\n",
      "rw=randrw\nbs=4k\nsize=128k\npercentage_random=40,80\n",
      "rw=randread\nbs=4k\nsize=256k\nrandom_distribution=normal:10\n",
      "rw=randwrite\nbs=4k\nsize=256k\nrandom_distribution=zoned_abs:70/32k:30/224k\n",
      "rw=randread\nbs=4k\nsize=10%\noffset=25%\n",
      "rw=randread\nbs=4k\nsize=64k\nrandom_generator=tausworthe64\n",
      "rw=randrw\nbs=4k\nsize=64k\nrandseed=77\nrandrepeat=0\n",
      "rw=read\nbs=4k\nsize=256k\nzonemode=strided\nzonesize=8k\nzonerange=32k\nzoneskip=16k\n",
      "rw=write\nbs=64k\noffset=768k\nfill_device=1\n",
      "rw=randrw\nbssplit=4k/50:8k/50,16k/100\nsize=256k\n",
      "rw=read\nbs=4k\nsize=32k\nio_limit=48k\n",
      "rw=randread\nbs=4k\nsize=64k\nnumjobs=2\n",
      "rw=randwrite\nbsrange=4k-32k\nsize=128k\nnorandommap\nverify=crc32c\n",
      "rw=randwrite\nbs=4k,16k\nsize=128k\n",
      // fio's keep_running: the loops given, then on while the bytes done
      // (verify reads included) are a block short of io_size.
      "rw=randwrite\nbs=4k\nsize=32k\nio_size=64k\nloops=2\n",
      "rw=write\nbs=4k\nsize=32k\nio_size=48k\nloops=2\n",
      "rw=randwrite\nbs=4k\nsize=32k\nio_size=96k\nverify=crc32c\n",
      "rw=randrw\nbs=4k\nsize=32k\nio_size=70k\n",
      "rw=write\nbs=4k\nsize=32k\nloops=3\nend_fsync=1\nverify=crc32c\n",
      "rw=randwrite\nbs=4k\nsize=48k\nfsync=3\nfdatasync=2\n",
  };
  TempDir d;
  const std::string file = d.path + "/f.img";
  const std::string flog = d.path + "/fio.iolog", ilog = d.path + "/ios.iolog";
  for (const char* j : jobs) {
    ASSERT_EQ(std::system(("truncate -s 1M " + file).c_str()), 0);
    std::remove(flog.c_str());
    std::remove(ilog.c_str());
    const bool trims = std::string(j).find("trim") != std::string::npos;
    const std::string cmd = "fio --name=j --filename=" + file + " --write_iolog=" + flog +
                            (trims ? " --ioengine=null" : "") + fio_args(j) + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string err;
    ASSERT_TRUE(run_iostack("[j]\nfilename=" + file + "\nwrite_iolog=" + ilog + "\n" + j, &err))
        << j << err;
    const auto want = read_iologs(flog);
    ASSERT_FALSE(want.empty()) << j;
    const auto got = read_iologs(ilog);
    EXPECT_EQ(got, want) << j << "iostack:\n" << show(got) << "fio:\n" << show(want);
  }
  // verify_only: a dry run (the file opened, nothing issued), then the reads.
  std::string err;
  const std::string vo = "rw=randwrite\nbs=4k\nsize=32k\nverify=crc32c\n";
  ASSERT_EQ(
      std::system(("fio --name=j --filename=" + file + fio_args(vo) + " >/dev/null 2>&1").c_str()),
      0);
  std::remove(flog.c_str());
  std::remove(ilog.c_str());
  ASSERT_EQ(std::system(("fio --name=j --filename=" + file + " --write_iolog=" + flog +
                         fio_args(vo) + " --verify_only >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_TRUE(
      run_iostack("[j]\nfilename=" + file + "\nwrite_iolog=" + ilog + "\nverify_only\n" + vo, &err))
      << err;
  EXPECT_EQ(read_iologs(ilog), read_iologs(flog)) << "iostack:\n"
                                                  << show(read_iologs(ilog)) << "fio:\n"
                                                  << show(read_iologs(flog));
  // time_based: how many I/Os fit in the time differs, not which ones come
  // first; number_ios does not stop either side.
  std::remove(flog.c_str());
  std::remove(ilog.c_str());
  const std::string tb = "rw=randread\nbs=4k\nsize=64k\ntime_based\nruntime=200ms\nnumber_ios=5\n";
  ASSERT_EQ(std::system(("fio --name=j --filename=" + file + " --write_iolog=" + flog +
                         fio_args(tb) + " >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_TRUE(run_iostack("[j]\nfilename=" + file + "\nwrite_iolog=" + ilog + "\n" + tb, &err))
      << err;
  const auto want = read_iologs(flog), got = read_iologs(ilog);
  ASSERT_EQ(want.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  const std::size_t n = std::min(want[0].size(), got[0].size()) - 1;  // less the close
  EXPECT_GT(n, 20u);
  EXPECT_TRUE(
      std::equal(got[0].begin(), got[0].begin() + static_cast<std::ptrdiff_t>(n), want[0].begin()))
      << "iostack:\n"
      << show(got) << "fio:\n"
      << show(want);
}

TEST(FioCompat, VerifyHeadersPassUnderTheOtherSide) {
  if (!have_fio()) GTEST_SKIP() << "fio is not installed";
  TempDir d;
  const std::string file = d.path + "/v.img";
  for (const char* method : {"crc32c", "md5"}) {
    ASSERT_EQ(std::system(("truncate -s 1M " + file).c_str()), 0);
    const std::string common =
        std::string("rw=randwrite\nbsrange=4k-16k\nsize=1m\nverify=") + method + "\n";
    // iostack writes, fio checks (verify_only: a dry run of the same job).
    std::string err;
    ASSERT_TRUE(run_iostack("[w]\nfilename=" + file + "\n" + common, &err)) << err;
    const std::string fio_check = "fio --name=w --filename=" + file + fio_args(common) +
                                  " --verify_only --verify_fatal=1 >" + d.path + "/out 2>&1";
    EXPECT_EQ(std::system(fio_check.c_str()), 0) << method;
    // fio writes, iostack checks, both with the job's dry run and as reads.
    ASSERT_EQ(std::system(("fio --name=w --filename=" + file + fio_args(common) +
                           " --do_verify=0 >/dev/null 2>&1")
                              .c_str()),
              0);
    EXPECT_TRUE(run_iostack("[w]\nfilename=" + file + "\nverify_only\n" + common, &err))
        << method << ": " << err;
    EXPECT_TRUE(
        run_iostack("[r]\nfilename=" + file + "\nrw=read\nbs=4k\nverify=" + method + "\n", &err))
        << method << ": " << err;
    // A flipped byte fails on both sides.
    std::FILE* f = std::fopen(file.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 4096 * 5 + 100, SEEK_SET);
    const int c = std::fgetc(f);
    std::fseek(f, 4096 * 5 + 100, SEEK_SET);
    std::fputc(c ^ 0xff, f);
    std::fclose(f);
    EXPECT_FALSE(
        run_iostack("[r]\nfilename=" + file + "\nrw=read\nbs=4k\nverify=" + method + "\n", &err));
    EXPECT_NE(err.find("verify failed at offset 20480"), std::string::npos) << err;
    EXPECT_NE(std::system(("fio --name=r --filename=" + file +
                           " --rw=read --bs=4k --verify=" + method + " >/dev/null 2>&1")
                              .c_str()),
              0);
  }
}

}  // namespace
}  // namespace iostack::job

namespace iostack::job {
namespace {

RunResult run_ok(const std::string& text) {
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  RunResult r;
  Runner runner;
  EXPECT_TRUE(parse_job_text(text, "t.fio", &set, &err) && build_jobs(set, &jobs, &err) &&
              runner.prepare(jobs, &err) && runner.run(RunOptions{}, &r, &err))
      << err;
  return r;
}

TEST(FioCompat, PerPriorityLatencyWhenCommandsCarryTwoPriorities) {
  // fio's clat_prio: one entry per priority the I/Os carried, shown (text
  // "clat prio C/L", JSON "prios") when two or more have samples; merged
  // per priority under group_reporting.
  RunResult r = run_ok(
      "[j]\nfilename=ram:8M\nioengine=io_uring\nrw=randread\nbs=4k\nsize=1m\niodepth=4\n"
      "cmdprio_percentage=30\ncmdprio_class=2\ncmdprio=3\nnumjobs=2\ngroup_reporting\n");
  ASSERT_EQ(r.jobs.size(), 1u);
  const DirStat& s = r.jobs[0].dir[kRead];
  ASSERT_EQ(s.prios.size(), 2u);
  EXPECT_TRUE(s.show_prios());
  EXPECT_EQ(s.prios[0].ioprio, 0);
  EXPECT_EQ(s.prios[1].ioprio, (2 << 13) | 3);
  EXPECT_EQ(s.prios[0].clat.samples + s.prios[1].clat.samples, 512u);
  EXPECT_NEAR(static_cast<double>(s.prios[1].clat.samples) / 512.0, 0.3, 0.08);
  const std::string text = format_report(r);
  // The unit follows the latencies, as fio picks it (nsec, or usec when slower).
  EXPECT_NE(text.find("    clat prio 2/3 ("), std::string::npos) << text;
  EXPECT_NE(text.find("% of IOs) percentiles"), std::string::npos) << text;
  // One priority only: nothing per priority, as fio.
  r = run_ok("[j]\nfilename=ram:8M\nioengine=io_uring\nrw=randread\nbs=4k\nsize=256k\n");
  EXPECT_FALSE(r.jobs[0].dir[kRead].show_prios());
  EXPECT_EQ(format_report(r).find("clat prio"), std::string::npos);
}

TEST(FioCompat, OffsetIncrementAndFillDevice) {
  RunResult r;
  // The last clone starts 1800k in: beyond the device, refused up front.
  JobFileSet set;
  std::vector<JobDef> jobs;
  std::string err;
  Runner runner;
  ASSERT_TRUE(parse_job_text("[j]\nfilename=ram:1M\nsize=64k\nnumjobs=3\noffset_increment=900k\n",
                             "t.fio", &set, &err) &&
              build_jobs(set, &jobs, &err));
  EXPECT_FALSE(runner.prepare(jobs, &err));
  EXPECT_NE(err.find("offset_increment: clone 2 starts at 1843200, beyond the end of"),
            std::string::npos)
      << err;
  // fill_device: the whole rest of the device whatever size says.
  r = run_ok(
      "[j]\nfilename=ram:1M\nioengine=bio\nrw=write\nbs=64k\nsize=128k\noffset=256k\n"
      "fill_device=1\n");
  EXPECT_EQ(r.jobs[0].dir[kWrite].io_bytes, 768u << 10);
}

}  // namespace
}  // namespace iostack::job
