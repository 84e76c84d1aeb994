// The command line of the failing devices: messages through iostack queue,
// power cuts, and replay-log over a log a job wrote.
#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace iostack::tool::test
