// dropin_dir(): the build tree's lib/iostack, an install tree's
// <libdir>/iostack found from its bindir, the configured path last.
#include "dropin_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {
namespace fs = std::filesystem;

// An install tree in a temp dir: <prefix>/<bindir>/iostack and, unless
// `without_dropins`, <prefix>/<libdir>/iostack/libiostack_preload.so.
class DropinDir : public ::testing::Test {
 protected:
  void SetUp() override { prefix_ = temp_dir(); }
  void TearDown() override { fs::remove_all(prefix_); }

  std::string install(const std::string& prefix) {
    fs::create_directories(fs::path(prefix) / IOSTACK_INSTALL_BINDIR);
    const fs::path dir = fs::path(prefix) / IOSTACK_INSTALL_LIBDIR / "iostack";
    touch(dir / "libiostack_preload.so");
    return dir.string();
  }
  static void touch(const fs::path& file) {
    fs::create_directories(file.parent_path());
    std::ofstream(file.string()) << "";
  }
  std::string exe(const std::string& prefix) const {
    return (fs::path(prefix) / IOSTACK_INSTALL_BINDIR / "iostack").string();
  }

  std::string prefix_;
};

TEST_F(DropinDir, BuildTreeHasThemInLibIostackNextToTheBinary) {
  EXPECT_EQ(dropin_dir(std::string(IOSTACK_BINARY_DIR) + "/iostack", "/nonexistent"),
            fs::path(IOSTACK_BINARY_DIR + std::string("/lib/iostack")).lexically_normal());
}

TEST_F(DropinDir, InstallTreeHasThemInTheLibdirBesideTheBindir) {
  const std::string dir = install(prefix_);
  EXPECT_EQ(dropin_dir(exe(prefix_), "/nonexistent"), fs::path(dir).lexically_normal());
}

TEST_F(DropinDir, NextToTheBinaryComesBeforeTheConfiguredPath) {
  const std::string moved = prefix_ + "/moved", configured = prefix_ + "/configured";
  const std::string dir = install(moved);
  const std::string configured_dir = install(configured);
  EXPECT_EQ(dropin_dir(exe(moved), configured_dir), fs::path(dir).lexically_normal());
  // A binary without drop-ins of its own falls back to the configured path.
  touch(prefix_ + "/bare/bin/iostack");
  EXPECT_EQ(dropin_dir(prefix_ + "/bare/bin/iostack", configured_dir), configured_dir);
}

TEST_F(DropinDir, ADirectoryWithoutTheShimDoesNotCount) {
  touch(fs::path(prefix_) / IOSTACK_INSTALL_BINDIR / "lib" / "iostack" / "liburing.so.2");
  EXPECT_EQ(dropin_dir(exe(prefix_), prefix_ + "/nowhere"), "");
}

TEST_F(DropinDir, RunningBinaryIsFoundThroughProc) {
  EXPECT_EQ(dropin_dir(), dropin_dir(IOSTACK_TEST_BINARY, IOSTACK_PRIVATE_LIBDIR));
  EXPECT_TRUE(fs::path(IOSTACK_PRIVATE_LIBDIR).is_absolute()) << IOSTACK_PRIVATE_LIBDIR;
}

}  // namespace
}  // namespace iostack::tool::test
