// Where the iostack command finds its drop-in libraries.
#include "dropin_dir.hpp"

#include <filesystem>
#include <system_error>

namespace iostack::tool {
namespace fs = std::filesystem;

namespace {

// The shim is always built (liburing and libaio need their system headers),
// so a directory with it is a drop-in directory.
bool holds_dropins(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "libiostack_preload.so", ec);
}

}  // namespace

std::string dropin_dir(const std::string& exe, const std::string& private_libdir) {
  const fs::path bindir = fs::path(exe).parent_path();
  const fs::path candidates[] = {bindir / "lib" / "iostack",
                                 bindir / IOSTACK_DROPIN_DIR_FROM_BINDIR, private_libdir};
  for (const fs::path& dir : candidates) {
    if (!dir.empty() && holds_dropins(dir)) return dir.lexically_normal().string();
  }
  return "";
}

std::string dropin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return dropin_dir(ec ? std::string() : exe.string(), IOSTACK_PRIVATE_LIBDIR);
}

}  // namespace iostack::tool
