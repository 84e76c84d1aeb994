// flakey: dm-flakey's up/down cycle and each feature, against outcomes worked
// out by hand from drivers/md/dm-flakey.c, on a virtual clock.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev/flakey.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::counter;
using test::expect_bad_spec;
using test::io;
using test::make;

constexpr core::Nanos kSec = core::kNsPerSec;

std::vector<unsigned char> fill(unsigned char v, std::size_t n = 4096) {
  return std::vector<unsigned char>(n, v);
}

TEST(Flakey, IsADmDeviceOverItsLowerDevice) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1:ram:1M", &clock);
  EXPECT_EQ(d->name().substr(0, 3), "dm-");
  EXPECT_EQ(d->disk()->major(), kDmMajor);
  ASSERT_TRUE(d->lower());
  EXPECT_EQ(d->lower()->name().substr(0, 3), "ram");
  EXPECT_EQ(d->disk()->capacity(), 2048u);
  EXPECT_EQ(d->queue()->elevator(), nullptr);  // dm disks have no scheduler
}

TEST(Flakey, DefaultErrorsAllIoWhileDownAndRecoversWhenUp) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=2,down=1:ram:1M", &clock);
  auto a = fill(0xaa), b = fill(0xbb), r = fill(0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 8, a.data(), 4096, &clock), 0);  // t=0: up
  clock.advance_to(2 * kSec - 1);                                 // 1.999 s: still up
  ASSERT_EQ(io(*d, REQ_OP_READ, 8, r.data(), 4096, &clock), 0);
  EXPECT_EQ(r, a);
  clock.advance_to(2 * kSec);  // elapsed 2 s: 2 % 3 >= 2, down
  EXPECT_TRUE(static_cast<FlakeyTarget*>(d->target())->is_down());
  EXPECT_EQ(io(*d, REQ_OP_READ, 8, r.data(), 4096, &clock), -EIO);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 8, b.data(), 4096, &clock), -EIO);
  clock.advance_to(3 * kSec);  // 3 % 3 = 0: up again
  r = fill(0);
  ASSERT_EQ(io(*d, REQ_OP_READ, 8, r.data(), 4096, &clock), 0);
  EXPECT_EQ(r, a);                        // the failed write never reached the device
  clock.advance_to(5 * kSec + kSec / 2);  // 5 % 3 = 2: down in the second cycle
  EXPECT_EQ(io(*d, REQ_OP_READ, 8, r.data(), 4096, &clock), -EIO);
  EXPECT_EQ(counter(*d, "flakey_down_ios"), 3);
  EXPECT_EQ(counter(*d, "flakey_read_errors"), 2);
  EXPECT_EQ(counter(*d, "flakey_write_errors"), 1);
}

TEST(Flakey, UpZeroIsAlwaysDown) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=0,down=1:ram:1M", &clock);
  auto r = fill(0);
  EXPECT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 4096, &clock), -EIO);
}

TEST(Flakey, DropWritesCompletesThemButKeepsTheOldData) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1,drop_writes=1:ram:1M", &clock);
  auto a = fill(0x11), b = fill(0x22), r = fill(0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), 0);
  clock.advance_to(1 * kSec);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 4096, &clock), 0);  // acknowledged...
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 4096, &clock), 0);   // reads work while down
  EXPECT_EQ(r, a);                                                // ...but dropped
  EXPECT_EQ(counter(*d, "flakey_writes_dropped"), 1);
  EXPECT_EQ(counter(*d, "flakey_read_errors"), 0);
}

TEST(Flakey, ErrorWritesFailsWritesOnly) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1,error_writes=1:ram:1M", &clock);
  auto a = fill(0x11), b = fill(0x22), r = fill(0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), 0);
  clock.advance_to(1 * kSec);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 4096, &clock), -EIO);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 4096, &clock), 0);
  EXPECT_EQ(r, a);
}

TEST(Flakey, ErrorReadsFailsReadsOnly) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1,error_reads=1:ram:1M", &clock);
  auto b = fill(0x22), r = fill(0);
  clock.advance_to(1 * kSec);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, b.data(), 4096, &clock), 0);
  EXPECT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 4096, &clock), -EIO);
  clock.advance_to(2 * kSec);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 4096, &clock), 0);
  EXPECT_EQ(r, b);  // the write made while down is there
}

TEST(Flakey, CorruptReadChangesExactlyThatByteOfWhatIsRead) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1,corrupt_bio_byte=3/r/170/0:ram:1M", &clock);
  std::mt19937 rng(5);
  auto a = test::random_bytes(rng, 8192);
  a[2] = 0x01;
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 8192, &clock), 0);
  clock.advance_to(1 * kSec);
  std::vector<unsigned char> r(8192);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 8192, &clock, &rng), 0);  // split segments
  auto want = a;
  want[2] = 170;  // byte 3, counted from 1
  EXPECT_EQ(r, want);
  // Writes are untouched in read mode, and the device holds the true data.
  clock.advance_to(2 * kSec);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 8192, &clock), 0);
  EXPECT_EQ(r, a);
  EXPECT_EQ(counter(*d, "flakey_bytes_corrupted"), 1);
}

TEST(Flakey, CorruptWriteStoresTheByteButLeavesTheCallersBuffer) {
  core::VirtualClock clock(0);
  auto d = make("flakey,up=1,down=1,corrupt_bio_byte=4097/w/7/0:ram:1M", &clock);
  clock.advance_to(1 * kSec);
  std::mt19937 rng(9);
  auto a = test::random_bytes(rng, 8192);
  a[4096] = 0;
  const auto sent = a;
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 16, a.data(), 8192, &clock, &rng), 0);
  EXPECT_EQ(a, sent);  // the kernel corrupts a copy
  clock.advance_to(2 * kSec);
  std::vector<unsigned char> r(8192);
  ASSERT_EQ(io(*d, REQ_OP_READ, 16, r.data(), 8192, &clock), 0);
  auto want = sent;
  want[4096] = 7;
  EXPECT_EQ(r, want);
  // A bio shorter than the byte is left alone.
  clock.advance_to(3 * kSec);
  auto small = fill(0x33, 512);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, small.data(), 512, &clock), 0);
  clock.advance_to(4 * kSec);
  std::vector<unsigned char> rs(512);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, rs.data(), 512, &clock), 0);
  EXPECT_EQ(rs, small);
  EXPECT_EQ(counter(*d, "flakey_bytes_corrupted"), 1);
}

TEST(Flakey, CorruptOnlyBiosWithAllTheFlags) {
  core::VirtualClock clock(0);
  // REQ_META is bit 12 (4096), as in the kernel's enum req_flag_bits.
  auto d = make("flakey,up=0,down=1,corrupt_bio_byte=1/w/0/4096:ram:1M", &clock);
  auto a = fill(0x55), r = fill(0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE, 0, a.data(), 4096, &clock), 0);
  ASSERT_EQ(io(*d, REQ_OP_WRITE | block::REQ_META, 8, a.data(), 4096, &clock), 0);
  ASSERT_EQ(io(*d->lower(), REQ_OP_READ, 0, r.data(), 4096), 0);
  EXPECT_EQ(r[0], 0x55);
  ASSERT_EQ(io(*d->lower(), REQ_OP_READ, 8, r.data(), 4096), 0);
  EXPECT_EQ(r[0], 0);
  EXPECT_EQ(r[1], 0x55);
}

TEST(Flakey, FlushWhileDownIsAWrite) {
  // A flush is a write to dm-flakey: it fails with error_writes (the
  // default) and is dropped with drop_writes. It reaches the target only
  // when the device below has a write cache.
  core::VirtualClock clock(0);
  const std::string below = ":null:1M,memory_backed=1,write_cache=1,irqmode=none";
  auto err = make("flakey,up=0,down=1" + below, &clock);
  EXPECT_EQ(io(*err, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), -EIO);
  auto drop = make("flakey,up=0,down=1,drop_writes=1" + below, &clock);
  EXPECT_EQ(io(*drop, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
  EXPECT_EQ(counter(*drop, "flakey_writes_dropped"), 1);
  auto up = make("flakey,up=1,down=1" + below, &clock);
  EXPECT_EQ(io(*up, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0, &clock), 0);
}

TEST(Flakey, RandomCorruptionIsRepeatableWithASeed) {
  auto run = [](std::uint64_t seed) {
    core::VirtualClock clock(0);
    auto d = make(
        "flakey,up=0,down=1,random_read_corrupt=500000000,seed=" + std::to_string(seed) + ":ram:1M",
        &clock);
    std::vector<unsigned char> all;
    for (int i = 0; i < 50; ++i) {
      auto r = fill(0, 512);
      EXPECT_EQ(io(*d, REQ_OP_READ, 0, r.data(), 512, &clock), 0);
      all.insert(all.end(), r.begin(), r.end());
    }
    return std::make_pair(all, counter(*d, "flakey_bytes_corrupted"));
  };
  const auto a = run(3), b = run(3);
  EXPECT_EQ(a.first, b.first);
  EXPECT_GT(a.second, 10);  // about half of 50
  EXPECT_LT(a.second, 40);
}

TEST(Flakey, BadSpecsGetOneLine) {
  std::string err;
  DeviceSpec s;
  expect_bad_spec("flakey:ram:1M", "up=");
  expect_bad_spec("flakey,up=1,down=1", "DEVICE-SPEC");
  expect_bad_spec("flakey,up=1,drop_writes=1,error_writes=1:ram", "conflicts");
  expect_bad_spec("flakey,up=1,drop_writes=1,corrupt_bio_byte=1/w/0/0:ram", "incompatible");
  expect_bad_spec("flakey,up=1,corrupt_bio_byte=0/r/0/0:ram", "corrupt_bio_byte: expected");
  EXPECT_FALSE(parse_device_spec("flakey,up=1,corrupt_bio_byte=1/x/0/0:ram", &s, &err));
  EXPECT_FALSE(parse_device_spec("flakey,up=1,corrupt_bio_byte=1/r/256/0:ram", &s, &err));
  expect_bad_spec("flakey,up=1,wobble=1:ram", "unknown option \"wobble\" for a flakey target");
  expect_bad_spec("flakey,up=1:ram:1M,nope=1", "unknown option \"nope\" for a ram device");
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace iostack::dev
