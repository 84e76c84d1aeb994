// The command line of the failing devices: messages through iostack queue,
// power cuts, and replay-log over a log a job wrote.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "dev/device.hpp"
#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

TEST(FaultCommands, DustMessagesAnswerInOrder) {
  const Result r =
      run("queue dust,bs=4096:ram:1M message 'addbadblock 5' 'addbadblock 9 3' listbadblocks "
          "'queryblock 5' countbadblocks");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "5\n9\n"
            "dust_query_block: block 5 found in badblocklist\n"
            "countbadblocks: 2 badblock(s) found\n");
}

TEST(FaultCommands, DevicesShowTheStack) {
  const Result r = run("devices delay,read_ms=1:flakey,up=5:ram:1M");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\ndm-1     253:1     1024KiB delay     none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n`-dm-0   253:0     1024KiB flakey    none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  `-ram0 1:0       1024KiB brd       mq-deadline"), std::string::npos)
      << r.out;
}

TEST(FaultCommands, BadMessagesAndSpecsAreOneLine) {
  Result r = run("queue dust,bs=4096:ram:1M message 'addbadblock x'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "iostack queue: message \"addbadblock x\" to dm-0: Invalid argument\n");
  r = run("queue ram:1M powercut");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  r = run("queue flakey,up=1,down=x:ram:1M");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "iostack queue: device spec \"flakey,up=1,down=x:ram:1M\": down: expected a number "
            "of seconds, got \"x\"\n");
  EXPECT_EQ(run("queue wcache:ram:1M powercut").rc, 0);
}

TEST(FaultCommands, ReplayLogRebuildsWhatAJobWrote) {
  const std::string dir = temp_dir();
  const std::string log = dir + "/w.log", img = dir + "/img";
  Result r = run("run --name=j --filename=log-writes,log=" + log +
                 ":ram:4M --rw=write --bs=64k --size=1M --fsync=4 --verify=crc32c "
                 "--do_verify=1");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run("replay-log --log " + log + " --list");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("0 WRITE 0 128\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" FLUSH 0 0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" MARK 0 0 dm-log-writes-end\n"), std::string::npos) << r.out;
  r = run("replay-log --log " + log + " --replay " + img + " --end-mark dm-log-writes-end");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(img).size(), 1u << 20);
  r = run("replay-log --log " + log + " --replay " + img + " --end-mark nope");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no mark \"nope\""), std::string::npos);
}

// Data at sector 8, then a commit record at sector 0, through a log-writes
// device; `barrier` flushes between them as a correct program does.
void record(const std::string& log, bool barrier) {
  std::string err;
  auto d = dev::create_device("log-writes,log=" + log + ":ram:1M", nullptr, &err);
  ASSERT_TRUE(d) << err;
  auto write = [&](block::sector_t s, char c, std::uint32_t flags) {
    std::vector<char> buf(c ? 512 : 0, c);
    block::Bio* bio = block::bio_alloc(d->disk(), 1, block::REQ_OP_WRITE | flags);
    bio->bi_iter.bi_sector = s;
    if (c) block::bio_add_vec(bio, buf.data(), 512);
    bio->bi_iter.bi_size = c ? 512 : 0;
    EXPECT_EQ(block::submit_bio_wait(bio), 0);
    block::bio_put(bio);
  };
  write(8, 'D', 0);
  if (barrier) write(0, 0, block::REQ_PREFLUSH);
  write(0, 'C', 0);
  write(0, 0, block::REQ_PREFLUSH);
}

TEST(FaultCommands, CrashFindsTheMissingFlush) {
  const std::string dir = temp_dir();
  const std::string check =
      write_file("check.sh",
                 "#!/bin/sh\n"
                 "# a commit record at byte 0 must come with its data at byte 4096\n"
                 "c=$(dd if=\"$IOSTACK_CRASH_IMAGE\" bs=1 count=1 2>/dev/null)\n"
                 "d=$(dd if=\"$IOSTACK_CRASH_IMAGE\" bs=1 skip=4096 count=1 2>/dev/null)\n"
                 "[ \"$c\" != C ] || [ \"$d\" = D ]\n");
  chmod(check.c_str(), 0755);
  record(dir + "/good.log", true);
  record(dir + "/bad.log", false);
  Result r = run("crash --log " + dir + "/good.log --image " + dir + "/img -- " + check);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("checked 6 crash states: 0 inconsistent"), std::string::npos) << r.out;
  r = run("crash --log " + dir + "/bad.log --image " + dir + "/img -- " + check);
  EXPECT_EQ(r.rc, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("inconsistent: log start + entries 1: exit status 1\n  1 WRITE 0 1\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("checked 6 crash states: 1 inconsistent"), std::string::npos) << r.out;
  r = run("crash --log " + dir + "/bad.log --image " + dir + "/img");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("CHECK command"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace iostack::tool::test
