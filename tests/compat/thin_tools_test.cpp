// thin-provisioning-tools (thin_restore, thin_check, thin_dump) read and
// write dm-thin metadata through libaio with O_DIRECT. With the kernel's AIO
// and io_uring refused by the filter they fail at io_setup; under `iostack
// exec` they must write the same metadata and report what they report on
// the kernel, a corrupted block included.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_SECCOMP_EXEC) && defined(IOSTACK_COMPAT_IOSTACK)

constexpr const char* kMetadataXml =
    "<superblock uuid=\"\" time=\"1\" transaction=\"2\" flags=\"0\" version=\"2\" "
    "data_block_size=\"128\" nr_data_blocks=\"1000\">\n"
    "  <device dev_id=\"1\" mapped_blocks=\"3\" transaction=\"0\" creation_time=\"0\" "
    "snap_time=\"1\">\n"
    "    <range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"2\" time=\"0\"/>\n"
    "    <single_mapping origin_block=\"10\" data_block=\"5\" time=\"1\"/>\n"
    "  </device>\n"
    "  <device dev_id=\"2\" mapped_blocks=\"1\" transaction=\"1\" creation_time=\"1\" "
    "snap_time=\"1\">\n"
    "    <single_mapping origin_block=\"0\" data_block=\"7\" time=\"1\"/>\n"
    "  </device>\n"
    "</superblock>\n";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ThinTools : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF_SANITIZED();
    for (const char* tool : {"thin_restore", "thin_check", "thin_dump"})
      if (compat::which(tool).empty())
        GTEST_SKIP() << tool << " is not installed (Debian package thin-provisioning-tools)";
    dir_ = std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/thin." + std::to_string(getpid());
    compat::run({"rm", "-rf", dir_});
    ASSERT_EQ(compat::run({"mkdir", "-p", dir_}).status, 0);
    std::ofstream(dir_ + "/meta.xml") << kMetadataXml;
  }
  void TearDown() override {
    if (!dir_.empty()) compat::run({"rm", "-rf", dir_});
  }

  // An 8 MiB metadata file restored from the XML, on the kernel or on iostack.
  compat::RunResult restore(const std::string& name, bool iostack) {
    EXPECT_EQ(compat::run({"truncate", "-s", "8M", dir_ + "/" + name}).status, 0);
    return run({"thin_restore", "-i", dir_ + "/meta.xml", "-o", dir_ + "/" + name}, iostack);
  }

  compat::RunResult run(std::vector<std::string> argv, bool iostack) {
    if (!iostack) return compat::run(argv);
    argv.insert(argv.begin(), {IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec", "--"});
    return compat::run(argv);
  }

  std::string dir_;
};

TEST_F(ThinTools, RestoreCheckAndDumpAsOnTheKernel) {
  const auto k_restore = restore("kernel.bin", false);
  ASSERT_EQ(k_restore.status, 0) << k_restore.output;
  const auto i_restore = restore("iostack.bin", true);
  EXPECT_EQ(i_restore.status, 0) << i_restore.output;
  EXPECT_EQ(i_restore.output, k_restore.output);
  EXPECT_TRUE(slurp(dir_ + "/iostack.bin") == slurp(dir_ + "/kernel.bin"))
      << "the metadata written through iostack differs from the kernel's";
  for (const char* tool : {"thin_check", "thin_dump"}) {
    SCOPED_TRACE(tool);
    const auto kernel = run({tool, dir_ + "/kernel.bin"}, false);
    const auto ours = run({tool, dir_ + "/kernel.bin"}, true);
    EXPECT_EQ(kernel.status, 0) << kernel.output;
    EXPECT_EQ(ours.status, kernel.status) << ours.output;
    EXPECT_EQ(ours.output, kernel.output);
  }
  // Without iostack the filter stops them at io_setup.
  const auto refused =
      compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, "thin_check", dir_ + "/kernel.bin"});
  EXPECT_NE(refused.status, 0) << refused.output;
  // With it, the reads went through iostack's AIO.
  const auto stats = compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_IOSTACK, "exec",
                                  "--stats", "--", "thin_check", dir_ + "/kernel.bin"});
  EXPECT_NE(stats.output.find("  aio: PREAD="), std::string::npos) << stats.output;
}

TEST_F(ThinTools, CorruptedBlockIsReportedAsOnTheKernel) {
  const auto restored = restore("meta.bin", false);
  ASSERT_EQ(restored.status, 0) << restored.output;
  // Four bytes of the second 4 KiB block: its checksum no longer matches.
  {
    std::fstream f(dir_ + "/meta.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4200);
    f.write("\xff\xff\xff\xff", 4);
  }
  const auto kernel = run({"thin_check", dir_ + "/meta.bin"}, false);
  const auto ours = run({"thin_check", dir_ + "/meta.bin"}, true);
  EXPECT_NE(kernel.status, 0) << kernel.output;
  EXPECT_EQ(ours.status, kernel.status) << ours.output;
  EXPECT_EQ(ours.output, kernel.output);
}

#endif

}  // namespace
