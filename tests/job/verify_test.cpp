// Checksums and block verification.
#include "job/verify.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "job/crc32c.hpp"
#include "job/md5.hpp"

namespace iostack::job {
namespace {

std::string md5_hex(const std::string& s) {
  const auto d = md5(s.data(), s.size());
  std::string out;
  char b[3];
  for (auto x : d) std::snprintf(b, sizeof b, "%02x", x), out += b;
  return out;
}

TEST(Checksums, KnownVectors) {
  EXPECT_EQ(crc32c_value("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_value("", 0), 0u);
  std::vector<std::uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c_value(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6");
  EXPECT_EQ(md5_hex(std::string(56, 'a')).size(), 32u);  // padding spills into a second block
  EXPECT_EQ(
      md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
      "57edf4a22be3c955ac49da2e2107b67a");
}

class VerifyTest : public ::testing::TestWithParam<VerifyType> {
 protected:
  JobOptions opts() const {
    JobOptions o;
    o.verify = GetParam();
    o.verify_name = GetParam() == VerifyType::kMd5 ? "md5" : "crc32c";
    if (GetParam() == VerifyType::kPattern) o.verify_pattern = {0xab, 0xcd};
    return o;
  }
};

TEST_P(VerifyTest, RoundTripsAndCatchesAFlippedByte) {
  const JobOptions o = opts();
  std::vector<std::uint8_t> buf(8192);
  verify_fill(o, buf.data(), 8192, 65536, 42, 7);
  std::string msg;
  EXPECT_TRUE(verify_check(o, buf.data(), 8192, 65536, "ram:1M", &msg)) << msg;
  buf[5000] ^= 0x10;
  EXPECT_FALSE(verify_check(o, buf.data(), 8192, 65536, "ram:1M", &msg));
  EXPECT_NE(msg.find("verify failed at file ram:1M"), std::string::npos) << msg;
}

TEST_P(VerifyTest, ABlockFromElsewhereFails) {
  if (GetParam() == VerifyType::kPattern) GTEST_SKIP() << "a pattern carries no offset";
  const JobOptions o = opts();
  std::vector<std::uint8_t> buf(4096);
  verify_fill(o, buf.data(), 4096, 0, 1, 0);
  std::string msg;
  EXPECT_FALSE(verify_check(o, buf.data(), 4096, 4096, "ram:1M", &msg));
  EXPECT_NE(msg.find("bad header offset 0, wanted 4096"), std::string::npos) << msg;
  std::memset(buf.data(), 0, buf.size());
  EXPECT_FALSE(verify_check(o, buf.data(), 4096, 0, "ram:1M", &msg));
  EXPECT_NE(msg.find("bad magic header 0, wanted acca"), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(Methods, VerifyTest,
                         ::testing::Values(VerifyType::kCrc32c, VerifyType::kMd5,
                                           VerifyType::kPattern));

}  // namespace
}  // namespace iostack::job
