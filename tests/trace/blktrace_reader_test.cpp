// The reader validates magic, version and lengths and names the bad record.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "trace/blktrace_reader.hpp"
#include "trace_test_util.hpp"

namespace iostack::trace {
namespace {

BlkIoTrace record(std::uint32_t seq, std::uint16_t pdu_len) {
  BlkIoTrace t{};
  t.magic = kBlkIoTraceMagic | kBlkIoTraceVersion;
  t.sequence = seq;
  t.time = 1000 * seq;
  t.sector = 8 * seq;
  t.bytes = 4096;
  t.action = kBlkTaQueue | tc_act(kTcWrite);
  t.pid = 42;
  t.device = kernel_mkdev(8, 0);
  t.pdu_len = pdu_len;
  return t;
}

// resize + memcpy rather than insert(end, p, p + n): GCC 12 at -O3 reports a
// false -Wstringop-overflow inside vector::insert here.
void put(std::vector<std::uint8_t>* buf, const void* p, std::size_t n) {
  const std::size_t at = buf->size();
  buf->resize(at + n);
  std::memcpy(buf->data() + at, p, n);
}

std::vector<std::uint8_t> two_records() {
  std::vector<std::uint8_t> buf;
  BlkIoTrace a = record(1, 8);
  const std::uint64_t pdu = htobe64(77);
  put(&buf, &a, sizeof(a));
  put(&buf, &pdu, sizeof(pdu));
  BlkIoTrace b = record(2, 0);
  put(&buf, &b, sizeof(b));
  return buf;
}

TEST(BlkTraceReader, ParsesRecordsAndPayloads) {
  const auto buf = two_records();
  std::vector<TraceRecord> out;
  std::string err;
  ASSERT_TRUE(parse_blktrace(buf.data(), buf.size(), "f", &out, &err)) << err;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].t.sequence, 1u);
  EXPECT_EQ(out[0].pdu_be64(), 77u);
  EXPECT_EQ(out[1].t.sector, 16u);
  EXPECT_TRUE(out[1].pdu.empty());
}

TEST(BlkTraceReader, RejectsBadMagicWithRecordAndOffset) {
  auto buf = two_records();
  const std::uint32_t bad = 0x12345607;
  std::memcpy(buf.data() + 56, &bad, sizeof(bad));
  std::vector<TraceRecord> out;
  std::string err;
  EXPECT_FALSE(parse_blktrace(buf.data(), buf.size(), "f", &out, &err));
  EXPECT_NE(err.find("f: record 1 at offset 56: bad magic 0x12345607"), std::string::npos) << err;
}

TEST(BlkTraceReader, RejectsOtherVersions) {
  auto buf = two_records();
  const std::uint32_t v6 = kBlkIoTraceMagic | 6;
  std::memcpy(buf.data(), &v6, sizeof(v6));
  std::vector<TraceRecord> out;
  std::string err;
  EXPECT_FALSE(parse_blktrace(buf.data(), buf.size(), "f", &out, &err));
  EXPECT_NE(err.find("unsupported version 6"), std::string::npos) << err;
}

TEST(BlkTraceReader, RejectsTruncation) {
  const auto buf = two_records();
  std::vector<TraceRecord> out;
  std::string err;
  EXPECT_FALSE(parse_blktrace(buf.data(), buf.size() - 1, "f", &out, &err));
  EXPECT_NE(err.find("truncated header (47 of 48 bytes)"), std::string::npos) << err;
  out.clear();
  EXPECT_FALSE(parse_blktrace(buf.data(), 52, "f", &out, &err));
  EXPECT_NE(err.find("truncated payload (8 bytes announced, 4 present)"), std::string::npos) << err;
}

TEST(BlkTraceReader, AcceptsOtherByteOrder) {
  BlkIoTrace t = record(3, 0);
  std::vector<std::uint8_t> buf;
  BlkIoTrace s = t;
  s.magic = __builtin_bswap32(t.magic);
  s.sequence = __builtin_bswap32(t.sequence);
  s.time = __builtin_bswap64(t.time);
  s.sector = __builtin_bswap64(t.sector);
  s.bytes = __builtin_bswap32(t.bytes);
  s.action = __builtin_bswap32(t.action);
  s.pid = __builtin_bswap32(t.pid);
  s.device = __builtin_bswap32(t.device);
  put(&buf, &s, sizeof(s));
  std::vector<TraceRecord> out;
  std::string err;
  ASSERT_TRUE(parse_blktrace(buf.data(), buf.size(), "f", &out, &err)) << err;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::memcmp(&out[0].t, &t, sizeof(t)), 0);
}

TEST(BlkTraceReader, MissingFilesAreReported) {
  std::vector<std::vector<TraceRecord>> per_cpu;
  std::string err;
  EXPECT_FALSE(read_blktrace("/nonexistent", "vdx", &per_cpu, &err));
  EXPECT_NE(err.find("/nonexistent/vdx.blktrace.0"), std::string::npos) << err;
}

TEST(BlkTraceReader, RecordOnTheWrongCpuIsReported) {
  testing::TempDir dir;
  BlkIoTrace t = record(1, 0);
  t.cpu = 1;
  std::ofstream(dir.path() + "/vdx.blktrace.0", std::ios::binary)
      .write(reinterpret_cast<const char*>(&t), sizeof(t));
  std::vector<std::vector<TraceRecord>> per_cpu;
  std::string err;
  EXPECT_FALSE(read_blktrace(dir.path(), "vdx", &per_cpu, &err));
  EXPECT_NE(err.find("record 0 says cpu 1, expected 0"), std::string::npos) << err;
}

}  // namespace
}  // namespace iostack::trace
