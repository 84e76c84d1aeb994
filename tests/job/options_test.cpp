// The option table: fio names, per-direction values and clear errors.
#include <gtest/gtest.h>

#include "job/job_builder.hpp"
#include "job/option_table.hpp"

namespace iostack::job {
namespace {

JobOptions apply(std::initializer_list<std::pair<const char*, const char*>> kv) {
  JobOptions o;
  int line = 1;
  for (const auto& [k, v] : kv) {
    std::string err;
    EXPECT_TRUE(apply_option(&o, OptEntry{k, v, true, SrcLoc{"t.fio", line++}}, &err)) << err;
  }
  return o;
}

std::string error_of(const char* k, const char* v) {
  JobOptions o;
  std::string err;
  EXPECT_FALSE(apply_option(&o, OptEntry{k, v, true, SrcLoc{"t.fio", 7}}, &err));
  return err;
}

TEST(Options, RwModes) {
  auto o = apply({{"rw", "randrw"}});
  EXPECT_TRUE(o.dir_read && o.dir_write && o.random);
  o = apply({{"readwrite", "write"}});
  EXPECT_TRUE(!o.dir_read && o.dir_write && !o.random);
  EXPECT_EQ(error_of("rw", "sideways"),
            "t.fio:7: rw=sideways: expected one of read, write, randread, randwrite, rw, "
            "readwrite, randrw, trim, randtrim, trimwrite, randtrimwrite (with an optional :<n>)");
}

TEST(Options, BlockSizesPerDirection) {
  auto o = apply({{"bs", "256k,4k"}});  // reads 256k; writes and trims 4k
  EXPECT_EQ(o.min_bs[kRead], 256u * 1024);
  EXPECT_EQ(o.min_bs[kWrite], 4096u);
  EXPECT_EQ(o.min_bs[kTrim], 4096u);
  o = apply({{"bs", "8k,"}});  // reads only
  EXPECT_EQ(o.min_bs[kRead], 8192u);
  EXPECT_EQ(o.min_bs[kWrite], 4096u);
  o = apply({{"bs", ",8k"}});  // writes (and trims) only
  EXPECT_EQ(o.min_bs[kRead], 4096u);
  EXPECT_EQ(o.min_bs[kWrite], 8192u);
  o = apply({{"bsrange", "4k-64k"}});
  EXPECT_EQ(o.min_bs[kRead], 4096u);
  EXPECT_EQ(o.max_bs[kWrite], 65536u);
  EXPECT_EQ(error_of("bs", "1000"),
            "t.fio:7: bs=1000: expected a block size that is a multiple of 512 bytes, at most 16m");
}

TEST(Options, BssplitFillsBlankWeightsEvenly) {
  auto o = apply({{"bssplit", "4k/50:1k/:32k/"}});
  ASSERT_EQ(o.bssplit[kRead].size(), 3u);
  EXPECT_EQ(o.bssplit[kRead][0].perc, 50u);
  EXPECT_EQ(o.bssplit[kRead][1].perc, 25u);
  EXPECT_EQ(o.bssplit[kRead][2].perc, 25u);
  EXPECT_EQ(o.min_bs[kRead], 1024u);
  EXPECT_EQ(o.max_bs[kRead], 32768u);
  o = apply({{"bssplit", "2k/50:4k/50,4k/90:8k/10"}});
  EXPECT_EQ(o.bssplit[kWrite][1].bs, 8192u);
  EXPECT_EQ(error_of("bssplit", "4k/60:8k/60"),
            "t.fio:7: bssplit=4k/60:8k/60: expected weights that add up to at most 100 percent");
}

TEST(Options, DeviceOptionsBecomeQueueSettingsInOrder) {
  auto o = apply(
      {{"ioscheduler", "mq-deadline"}, {"iosched/read_expire", "100"}, {"nr_requests", "64"}});
  ASSERT_EQ(o.queue_settings.size(), 3u);
  EXPECT_EQ(o.queue_settings[0].attr, "scheduler");
  EXPECT_EQ(o.queue_settings[1].attr, "iosched/read_expire");
  EXPECT_EQ(o.queue_settings[1].loc.line, 2);
}

TEST(Options, VerifyPatternImpliesPatternVerify) {
  auto o = apply({{"verify_pattern", "0xdeadbeef"}});
  EXPECT_EQ(o.verify, VerifyType::kPatternHdr);
  EXPECT_EQ(o.verify_pattern, (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef}));
  o = apply({{"verify", "md5"}, {"verify_pattern", "\"ab\"258"}});
  EXPECT_EQ(o.verify, VerifyType::kMd5);
  EXPECT_EQ(o.verify_pattern, (std::vector<std::uint8_t>{'a', 'b', 0x02, 0x01}));
  EXPECT_EQ(error_of("verify", "sha512"),
            "t.fio:7: verify=sha512: expected one of crc32c, crc32c-intel, md5, meta, pattern, 0");
}

TEST(Options, UnknownAndUnsupportedOptionsAreNamed) {
  EXPECT_EQ(error_of("bogus", "1"), "t.fio:7: bogus: unknown option");
  EXPECT_EQ(error_of("nrfiles", "2"), "t.fio:7: nrfiles: fio option not supported by iostack");
  EXPECT_EQ(error_of("iodepth", "0"), "t.fio:7: iodepth=0: expected an integer from 1 to 65536");
  EXPECT_EQ(error_of("prioclass", "4"), "t.fio:7: prioclass=4: expected an integer from 0 to 3");
}

TEST(Options, CmdprioPerDirectionAndBssplit) {
  auto o = apply({{"cmdprio_percentage", "50"}, {"cmdprio_class", "1,3"}, {"cmdprio", ",7"}});
  EXPECT_EQ(o.cmdprio_percentage[kRead], 50u);
  EXPECT_EQ(o.cmdprio_percentage[kWrite], 50u);
  EXPECT_EQ(o.cmdprio_class[kRead], 1u);
  EXPECT_EQ(o.cmdprio_class[kWrite], 3u);
  EXPECT_EQ(o.cmdprio_level[kRead], 0u);
  EXPECT_EQ(o.cmdprio_level[kWrite], 7u);
  EXPECT_EQ(error_of("cmdprio_class", "0"),
            "t.fio:7: cmdprio_class=0: expected an integer from 1 to 3, or two as read,write");
  EXPECT_EQ(error_of("cmdprio_percentage", "101"),
            "t.fio:7: cmdprio_percentage=101: expected an integer from 0 to 100, or two as "
            "read,write");
  // Sorted by size, zero shares dropped, explicit class/level kept.
  o = apply({{"cmdprio_bssplit", "64k/10/1/2:4k/30:8k/0,16k/100/3/0"}});
  ASSERT_EQ(o.cmdprio_bssplit[kRead].size(), 2u);
  EXPECT_EQ(o.cmdprio_bssplit[kRead][0].bs, 4096u);
  EXPECT_EQ(o.cmdprio_bssplit[kRead][0].ioprio, -1);
  EXPECT_EQ(o.cmdprio_bssplit[kRead][1].ioprio, (1 << 13) | 2);
  ASSERT_EQ(o.cmdprio_bssplit[kWrite].size(), 1u);
  EXPECT_EQ(o.cmdprio_bssplit[kWrite][0].ioprio, 3 << 13);
  EXPECT_EQ(error_of("cmdprio_bssplit", "4k/60:4k/50/1/0"),
            "t.fio:7: cmdprio_bssplit=4k/60:4k/50/1/0: expected percentages of one block size "
            "adding up to at most 100");
}

TEST(Options, EngineFlagsAndTheirHelp) {
  auto o = apply({{"fixedbufs", ""}, {"registerfiles", "0"}, {"sqthread_poll_cpu", "1"}});
  EXPECT_TRUE(o.fixedbufs);
  EXPECT_FALSE(o.registerfiles);
  EXPECT_EQ(o.sqthread_poll_cpu, 1);
  JobOptions f;
  std::string err;
  ASSERT_TRUE(apply_option(&f, OptEntry{"userspace_reap", "", false, SrcLoc{}}, &err)) << err;
  EXPECT_TRUE(f.userspace_reap);
  for (const char* n :
       {"fixedbufs", "registerfiles", "sqthread_poll", "sqthread_poll_cpu", "hipri",
        "userspace_reap", "cmdprio_percentage", "cmdprio_class", "cmdprio", "cmdprio_bssplit"})
    EXPECT_FALSE(option_help(n).empty()) << n;
  EXPECT_NE(option_help("fixedbufs").find("READ_FIXED"), std::string::npos);
}

TEST(Options, FioDefaults) {
  JobOptions o;
  EXPECT_EQ(o.ioengine, "psync");
  EXPECT_EQ(o.rw, "read");
  EXPECT_EQ(o.iodepth, 1u);
  EXPECT_EQ(o.rwmixread, 50u);
  EXPECT_EQ(o.iodepth_batch, 1u);
  EXPECT_EQ(o.iodepth_batch_complete_min, 1u);
  EXPECT_TRUE(o.do_verify);
}

}  // namespace
}  // namespace iostack::job
