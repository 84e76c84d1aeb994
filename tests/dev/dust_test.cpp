// dust: dm-dust's bad blocks and messages, against drivers/md/dm-dust.c.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::counter;
using test::expect_bad_spec;
using test::io;
using test::make;

int msg(BlockDevice& d, std::vector<std::string> argv, std::string* out = nullptr) {
  std::string s;
  const int r = d.message(argv, &s);
  if (out) *out = s;
  return r;
}

// Block B of 4 KiB is sectors 8B..8B+7.
int read_block(BlockDevice& d, std::uint64_t b, std::uint32_t blocks = 1) {
  std::vector<unsigned char> buf(4096 * blocks);
  return io(d, REQ_OP_READ, b * 8, buf.data(), static_cast<std::uint32_t>(buf.size()));
}
int write_block(BlockDevice& d, std::uint64_t b, unsigned char v = 0x5a) {
  std::vector<unsigned char> buf(4096, v);
  return io(d, REQ_OP_WRITE, b * 8, buf.data(), 4096);
}

TEST(Dust, BadBlocksFailReadsOnlyOnceEnabled) {
  auto d = make("dust,bs=4096,badblocks=2-3:ram:1M");
  EXPECT_EQ(read_block(*d, 2), 0);  // the kernel starts with read failures off
  ASSERT_EQ(msg(*d, {"enable"}), 0);
  EXPECT_EQ(read_block(*d, 2), -EIO);
  EXPECT_EQ(read_block(*d, 3), -EIO);
  EXPECT_EQ(read_block(*d, 4), 0);
  EXPECT_EQ(read_block(*d, 1, 2), -EIO);  // spans blocks 1 and 2: split per block
  ASSERT_EQ(msg(*d, {"disable"}), 0);
  EXPECT_EQ(read_block(*d, 2), 0);
  EXPECT_EQ(counter(*d, "dust_read_errors"), 3);
}

TEST(Dust, AWriteRepairsTheBlock) {
  auto d = make("dust,bs=4096,badblocks=2,enable=1:ram:1M");
  EXPECT_EQ(read_block(*d, 2), -EIO);
  ASSERT_EQ(write_block(*d, 2, 0x77), 0);
  std::vector<unsigned char> buf(4096);
  ASSERT_EQ(io(*d, REQ_OP_READ, 16, buf.data(), 4096), 0);
  EXPECT_EQ(buf, std::vector<unsigned char>(4096, 0x77));
  std::string out;
  EXPECT_EQ(msg(*d, {"countbadblocks"}, &out), 1);
  EXPECT_EQ(out, "countbadblocks: 0 badblock(s) found");
  EXPECT_EQ(counter(*d, "dust_blocks_cleared"), 1);
}

TEST(Dust, WriteFailCountFailsThatManyWritesFirst) {
  auto d = make("dust,bs=512:ram:1M");
  ASSERT_EQ(msg(*d, {"addbadblock", "5", "2"}), 0);
  ASSERT_EQ(msg(*d, {"enable"}), 0);
  std::vector<unsigned char> buf(512, 1);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 5, buf.data(), 512), -EIO);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 5, buf.data(), 512), -EIO);
  EXPECT_EQ(io(*d, REQ_OP_READ, 5, buf.data(), 512), -EIO);  // still bad
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 5, buf.data(), 512), 0);    // third write repairs it
  EXPECT_EQ(io(*d, REQ_OP_READ, 5, buf.data(), 512), 0);
  EXPECT_EQ(counter(*d, "dust_write_errors"), 2);
}

TEST(Dust, MessagesAnswerLikeTheKernel) {
  auto d = make("dust,bs=4096:ram:1M");  // 256 blocks
  std::string out;
  EXPECT_EQ(msg(*d, {"listbadblocks"}, &out), 1);
  EXPECT_EQ(out, "No blocks in badblocklist");
  EXPECT_EQ(msg(*d, {"clearbadblocks"}, &out), 1);
  EXPECT_EQ(out, "dust_clear_badblocks: no badblocks found");
  EXPECT_EQ(msg(*d, {"addbadblock", "60"}), 0);
  EXPECT_EQ(msg(*d, {"ADDBADBLOCK", "7"}), 0);        // strcasecmp
  EXPECT_EQ(msg(*d, {"addbadblock", "7"}), -EINVAL);  // already listed
  EXPECT_EQ(msg(*d, {"addbadblock", "256"}), 0);      // the kernel checks block > size
  EXPECT_EQ(msg(*d, {"addbadblock", "257"}), -EINVAL);
  EXPECT_EQ(msg(*d, {"addbadblock", "1", "256"}), -EINVAL);  // write fails 0..255
  EXPECT_EQ(msg(*d, {"addbadblock", "x"}), -EINVAL);
  EXPECT_EQ(msg(*d, {"addbadblock"}), -EINVAL);
  EXPECT_EQ(msg(*d, {"listbadblocks"}, &out), 1);
  EXPECT_EQ(out, "7\n60\n256\n");
  EXPECT_EQ(msg(*d, {"queryblock", "60"}, &out), 1);
  EXPECT_EQ(out, "dust_query_block: block 60 found in badblocklist");
  EXPECT_EQ(msg(*d, {"queryblock", "61"}, &out), 1);
  EXPECT_EQ(out, "dust_query_block: block 61 not found in badblocklist");
  EXPECT_EQ(msg(*d, {"removebadblock", "60"}), 0);
  EXPECT_EQ(msg(*d, {"removebadblock", "60"}), -EINVAL);
  EXPECT_EQ(msg(*d, {"countbadblocks"}, &out), 1);
  EXPECT_EQ(out, "countbadblocks: 2 badblock(s) found");
  EXPECT_EQ(msg(*d, {"clearbadblocks"}, &out), 1);
  EXPECT_EQ(out, "dust_clear_badblocks: badblocks cleared");
  EXPECT_EQ(msg(*d, {"quiet"}), 0);
  EXPECT_EQ(msg(*d, {"frobnicate"}), -EINVAL);
  EXPECT_EQ(counter(*d, "dust_bad_blocks"), 0);
}

TEST(Dust, MessagesReachADustBelowAnotherTarget) {
  auto d = make("error,ops=d:dust,bs=4096:ram:1M");
  ASSERT_EQ(msg(*d, {"addbadblock", "3"}), 0);
  ASSERT_EQ(msg(*d, {"enable"}), 0);
  EXPECT_EQ(read_block(*d, 3), -EIO);
  EXPECT_EQ(counter(*d, "dust_read_errors"), 1);
}

TEST(Dust, MessagesToAPlainDeviceAreInvalid) {
  auto d = make("ram:1M");
  EXPECT_EQ(msg(*d, {"enable"}), -EINVAL);
}

TEST(Dust, BadSpecsGetOneLine) {
  expect_bad_spec("dust,bs=256:ram", "at least 512");
  expect_bad_spec("dust,bs=1536:ram", "power of 2");
  expect_bad_spec("dust,badblocks=9-3:ram", "badblocks: expected");
}

}  // namespace
}  // namespace iostack::dev
