// iostack devices, iostack queue, --trace and the progress line.
#include <gtest/gtest.h>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

TEST(Commands, Devices) {
  const Result r = run("devices ram:64M null:1G,irqmode=0");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("ram0     1:0       64.0MiB brd       mq-deadline     64    1      127  "
                       "ram:64M"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nullb0   252:0"), std::string::npos) << r.out;
  EXPECT_NE(run("devices floppy:1M").rc, 0);
}

TEST(Commands, QueueShowsAndSetsAttributes) {
  Result r = run("queue ram:64M");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("/sys/block/ram0/queue/scheduler:none [mq-deadline]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("/sys/block/ram0/queue/iosched/read_expire:500"), std::string::npos);
  r = run("queue ram:64M iosched/fifo_batch 4");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "4\n");
  r = run("queue ram:64M scheduler none");
  EXPECT_EQ(r.out, "[none] mq-deadline kyber bfq\n");
  r = run("queue ram:64M nr_requests 0");  // Linux clamps to BLKDEV_MIN_RQ
  EXPECT_EQ(r.out, "4\n");
  r = run("queue ram:64M nr_requests lots");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err,
            "iostack queue: /sys/block/ram0/queue/nr_requests: cannot store 'lots': "
            "Invalid argument\n");
  r = run("queue ram:64M iosched/quantum");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.err, "iostack queue: /sys/block/ram0/queue/iosched/quantum: no such attribute\n");
}

TEST(Commands, TraceIsReadByBlkparse) {
  if (std::system("command -v blkparse >/dev/null 2>&1") != 0) GTEST_SKIP() << "no blkparse";
  const std::string dir = temp_dir();
  const Result r = run("run --trace=" + dir +
                       " --output-format=json --name=t "
                       "--filename=ram:16M --ioengine=bio --rw=write --size=256k "
                       "--iodepth=32 --iodepth_batch_submit=32");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string parsed = dir + "/parsed";
  ASSERT_EQ(std::system(("blkparse -D " + dir + " ram0 >" + parsed + " 2>&1").c_str()), 0);
  const std::string text = slurp(parsed);
  int q = 0, m = 0, c = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string dev, cpu, seq, t, pid, act;
    if (!(f >> dev >> cpu >> seq >> t >> pid >> act)) continue;
    q += act == "Q";
    m += act == "M";
    c += act == "C";
  }
  EXPECT_EQ(q, 64) << "one Q per 4 KiB bio";
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(m, j["disk_util"][0]["write_merges"].get<int>());
  EXPECT_EQ(c, j["disk_util"][0]["write_ios"].get<int>());
  EXPECT_EQ(text.find("Skips: 0 forward") != std::string::npos, true) << text;
}

TEST(Commands, ProgressLineOnlyWhenAsked) {
  const std::string job =
      "--name=t --filename=ram:16M --ioengine=bio --runtime=1200ms "
      "--time_based";
  Result r = run("run " + job);
  EXPECT_EQ(r.out.find("Jobs: "), std::string::npos);
  r = run("run --eta=always " + job);
  EXPECT_NE(r.out.find("Jobs: 1 (f=1): [R(1)]["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("IOPS][eta "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace iostack::tool::test
