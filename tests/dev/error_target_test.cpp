// error: chosen operations, sector ranges, probabilities and statuses.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "dev_test_util.hpp"

namespace iostack::dev {
namespace {

using block::REQ_OP_DISCARD;
using block::REQ_OP_READ;
using block::REQ_OP_WRITE;
using test::counter;
using test::expect_bad_spec;
using test::io;
using test::make;

TEST(ErrorTarget, FailsWritesTouchingTheRangeWithTheStatus) {
  auto d = make("error,ops=w,sectors=100-199,status=ENOSPC:ram:1M");
  std::vector<unsigned char> buf(4096, 1);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 99, buf.data(), 512), 0);         // 99 only
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 96, buf.data(), 4096), -ENOSPC);  // 96..103
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 199, buf.data(), 512), -ENOSPC);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 200, buf.data(), 4096), 0);
  EXPECT_EQ(io(*d, REQ_OP_READ, 100, buf.data(), 4096), 0);  // reads not chosen
  EXPECT_EQ(counter(*d, "error_write_errors"), 2);
  EXPECT_EQ(counter(*d, "error_read_errors"), 0);
}

TEST(ErrorTarget, FailedWritesLeaveTheDeviceAlone) {
  auto d = make("error,ops=w:ram:1M");
  std::vector<unsigned char> buf(512, 9), back(512, 1);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 512), -EIO);
  ASSERT_EQ(io(*d, REQ_OP_READ, 0, back.data(), 512), 0);
  EXPECT_EQ(back, std::vector<unsigned char>(512, 0));
}

TEST(ErrorTarget, EachStatusMapsToItsErrno) {
  const std::pair<const char*, int> cases[] = {
      {"EIO", -EIO},         {"ETIMEDOUT", -ETIMEDOUT}, {"ENOSPC", -ENOSPC},
      {"ENOLINK", -ENOLINK}, {"EREMOTEIO", -EREMOTEIO}, {"ENODATA", -ENODATA},
      {"EILSEQ", -EILSEQ},   {"ENODEV", -ENODEV},       {"EOPNOTSUPP", -EOPNOTSUPP},
      {"MEDIUM", -ENODATA},  {"timeout", -ETIMEDOUT},   {"EINVAL", -EINVAL}};
  for (const auto& [name, want] : cases) {
    auto d = make(std::string("error,ops=r,status=") + name + ":ram:1M");
    std::vector<unsigned char> buf(512);
    EXPECT_EQ(io(*d, REQ_OP_READ, 0, buf.data(), 512), want) << name;
  }
}

TEST(ErrorTarget, DiscardsAndFlushesAreChosenByOps) {
  auto d = make("error,ops=d:null:1M,memory_backed=1,discard=1,write_cache=1,irqmode=none");
  std::vector<unsigned char> buf(4096);
  EXPECT_EQ(io(*d, REQ_OP_DISCARD, 0, nullptr, 4096), -EIO);
  EXPECT_EQ(io(*d, REQ_OP_WRITE, 0, buf.data(), 4096), 0);
  EXPECT_EQ(io(*d, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0), 0);
  auto f = make("error,ops=f,sectors=5-6:null:1M,memory_backed=1,write_cache=1,irqmode=none");
  // A flush has no sectors: the range does not spare it.
  EXPECT_EQ(io(*f, REQ_OP_WRITE | block::REQ_PREFLUSH, 0, nullptr, 0), -EIO);
  EXPECT_EQ(io(*f, REQ_OP_WRITE, 0, buf.data(), 4096), 0);
  EXPECT_EQ(counter(*f, "error_flush_errors"), 1);
  EXPECT_EQ(counter(*d, "error_discard_errors"), 1);
}

TEST(ErrorTarget, ProbabilityIsSeededAndRepeatable) {
  auto pattern = [](const std::string& spec) {
    auto d = make(spec);
    std::string fails;
    std::vector<unsigned char> buf(512);
    for (int i = 0; i < 400; ++i)
      fails += io(*d, REQ_OP_READ, static_cast<block::sector_t>(i), buf.data(), 512) ? '1' : '0';
    return fails;
  };
  const auto a = pattern("error,probability=0.25,seed=42:ram:1M");
  EXPECT_EQ(a, pattern("error,probability=0.25,seed=42:ram:1M"));
  EXPECT_NE(a, pattern("error,probability=0.25,seed=43:ram:1M"));
  const auto n = std::count(a.begin(), a.end(), '1');
  EXPECT_GT(n, 60);  // 100 expected; 6 standard deviations are about 52
  EXPECT_LT(n, 140);
  EXPECT_EQ(pattern("error,probability=0:ram:1M"), std::string(400, '0'));
  EXPECT_EQ(pattern("error,probability=1:ram:1M"), std::string(400, '1'));
}

TEST(ErrorTarget, BadSpecsGetOneLine) {
  std::string err;
  DeviceSpec s;
  expect_bad_spec("error,ops=x:ram", "ops: expected letters");
  expect_bad_spec("error,probability=1.5:ram", "probability: expected");
  expect_bad_spec("error,status=EWHAT:ram", "status: expected");
  EXPECT_FALSE(parse_device_spec("error,sectors=9-1:ram", &s, &err));
}

}  // namespace
}  // namespace iostack::dev
