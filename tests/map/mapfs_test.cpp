// The directory model of `iostack exec --map DIR/=SPEC` (map/mapfs.hpp) on a
// write cache that loses everything not durable at a power cut: a file's
// fsync makes its data durable but not its name; the directory's fsync makes
// the names durable; an old name never shows a new file's data.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dev/device.hpp"
#include "map/mapfs.hpp"
#include "map/mapfs_format.hpp"

namespace iostack::map {
namespace {

struct Fixture {
  IoCounts counts;
  std::unique_ptr<MapDir> dir;
  std::string out;

  Fixture() {
    std::string err;
    auto dev = dev::create_device("wcache:ram:1M", nullptr, &err);
    EXPECT_TRUE(dev) << err;
    dir = std::make_unique<MapDir>("/nowhere", std::move(dev), "", 1 << 20, &counts);
    EXPECT_EQ(dir->init(&err), 0) << err;
    char tmpl[] = "/tmp/iostack-mapfs-XXXXXX";
    out = mkdtemp(tmpl);
  }
  ~Fixture() { std::system(("rm -rf " + out).c_str()); }

  // Creates (or truncates) `name` with `text`, fsyncs it when asked; the
  // file stays open until `close`.
  int write(const std::string& name, const std::string& text, bool fsync) {
    MappedFile* f = nullptr;
    const int ino = dir->open(name, O_CREAT | O_TRUNC | O_WRONLY, &f);
    EXPECT_GT(ino, 0);
    if (ino <= 0) return ino;
    struct iovec v {
      const_cast<char*>(text.data()), text.size()
    };
    EXPECT_EQ(f->rw(true, false, &v, 1, 0), static_cast<long>(text.size()));
    if (fsync) {
      EXPECT_EQ(f->fsync(), 0);
    }
    return ino;
  }

  // The power goes; `out` gets the durable files.
  void cut() {
    std::string res;
    EXPECT_EQ(dir->device()->message({"powercut"}, &res), 0);
    std::string err;
    ASSERT_TRUE(dir->extract(dir->device()->lower(), out, &err)) << err;
  }

  std::string file(const std::string& name) const {
    std::ifstream f(out + "/" + name);
    if (!f) return "<missing>";
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
};

TEST(Mapfs, FileFsyncMakesDataDurableButNotItsName) {
  Fixture t;
  t.dir->release(t.write("a", "hello", true));
  t.cut();
  EXPECT_EQ(t.file("a"), "<missing>");
}

TEST(Mapfs, DirectoryFsyncMakesNamesDurable) {
  Fixture t;
  t.dir->release(t.write("a", "hello", true));
  t.dir->release(t.write("b", "not synced", false));
  ASSERT_EQ(t.dir->fsync(), 0);
  t.cut();
  EXPECT_EQ(t.file("a"), "hello");
  // Its name is durable, its data never was: an empty file.
  EXPECT_EQ(t.file("b"), "");
}

TEST(Mapfs, RenameIsDurableOnlyAfterTheDirectoryFsync) {
  for (bool dirsync : {false, true}) {
    Fixture t;
    t.dir->release(t.write("data", "version 1", true));
    ASSERT_EQ(t.dir->fsync(), 0);
    t.dir->release(t.write("data.tmp", "version 2", true));
    ASSERT_EQ(t.dir->rename("data.tmp", "data", 0), 0);
    if (dirsync) {
      ASSERT_EQ(t.dir->fsync(), 0);
    }
    t.cut();
    EXPECT_EQ(t.file("data"), dirsync ? "version 2" : "version 1") << dirsync;
    EXPECT_EQ(t.file("data.tmp"), "<missing>") << dirsync;
  }
}

TEST(Mapfs, AnUnlinkedFileKeepsItsDataUntilTheDirectoryIsWritten) {
  Fixture t;
  const int old = t.write("a", "old data", true);
  t.dir->release(old);
  ASSERT_EQ(t.dir->fsync(), 0);
  ASSERT_EQ(t.dir->unlink("a"), 0);
  // The new file may not take the old one's extent: the durable directory
  // still names it.
  const int fresh = t.write("b", "new data", true);
  EXPECT_NE(fresh, old);
  t.dir->release(fresh);
  t.cut();
  EXPECT_EQ(t.file("a"), "old data");
  EXPECT_EQ(t.file("b"), "<missing>");
}

TEST(Mapfs, NamespaceErrorsAreTheKernels) {
  Fixture t;
  MappedFile* f = nullptr;
  EXPECT_EQ(t.dir->open("absent", O_RDONLY, &f), -ENOENT);
  t.dir->release(t.write("a", "x", false));
  EXPECT_EQ(t.dir->open("a", O_CREAT | O_EXCL | O_WRONLY, &f), -EEXIST);
  EXPECT_EQ(t.dir->open(std::string(kFsNameMax + 1, 'n'), O_CREAT | O_WRONLY, &f), -ENAMETOOLONG);
  EXPECT_EQ(t.dir->rename("absent", "b", 0), -ENOENT);
  t.dir->release(t.write("b", "y", false));
  EXPECT_EQ(t.dir->rename("a", "b", RENAME_NOREPLACE), -EEXIST);
  EXPECT_EQ(t.dir->rename("a", "b", RENAME_EXCHANGE), -EINVAL);
  EXPECT_EQ(t.dir->unlink("absent"), -ENOENT);
  // 32 inodes: the 33rd file finds none.
  for (int i = 0; i < 30; ++i) t.dir->release(t.write("f" + std::to_string(i), "", false));
  EXPECT_EQ(t.dir->open("one-too-many", O_CREAT | O_WRONLY, &f), -ENOSPC);
}

// Subdirectories: mkdir, rmdir and renames of them follow the kernel's
// errors, and each directory's fsync makes its own names durable (the
// subdirectories it holds among them), nothing of the others'.
TEST(Mapfs, SubdirectoryErrorsAreTheKernels) {
  Fixture t;
  MappedFile* f = nullptr;
  EXPECT_EQ(t.dir->mkdir("d"), 0);
  EXPECT_EQ(t.dir->mkdir("d"), -EEXIST);
  EXPECT_EQ(t.dir->mkdir("x/y"), -ENOENT);
  t.dir->release(t.write("d/a", "x", false));
  t.dir->release(t.write("file", "y", false));
  EXPECT_EQ(t.dir->mkdir("file/y"), -ENOTDIR);
  EXPECT_EQ(t.dir->open("file/y", O_CREAT | O_WRONLY, &f), -ENOTDIR);
  EXPECT_EQ(t.dir->open("x/y", O_CREAT | O_WRONLY, &f), -ENOENT);
  EXPECT_EQ(t.dir->open("d", O_RDWR, &f), -EISDIR);
  EXPECT_EQ(t.dir->unlink("d"), -EISDIR);
  EXPECT_EQ(t.dir->rmdir("d"), -ENOTEMPTY);
  EXPECT_EQ(t.dir->rmdir("file"), -ENOTDIR);
  EXPECT_EQ(t.dir->rmdir("absent"), -ENOENT);
  EXPECT_EQ(t.dir->rename("d", "d/e", 0), -EINVAL);
  EXPECT_EQ(t.dir->rename("d", "file", 0), -ENOTDIR);
  EXPECT_EQ(t.dir->rename("file", "d", 0), -EISDIR);
  EXPECT_EQ(t.dir->mkdir("e"), 0);
  EXPECT_EQ(t.dir->rename("e", "d", 0), -ENOTEMPTY);
  EXPECT_EQ(t.dir->rename("d/a", "d", 0), -EISDIR);
  // A directory renamed takes its files along; over an empty one it is
  // replaced.
  EXPECT_EQ(t.dir->rename("d", "e", 0), 0);
  EXPECT_EQ(t.dir->kind("e/a"), 0);
  EXPECT_EQ(t.dir->kind("d"), -ENOENT);
  EXPECT_EQ(t.dir->rename("file", "e/file", 0), 0);
  EXPECT_EQ(t.dir->unlink("e/a"), 0);
  EXPECT_EQ(t.dir->unlink("e/file"), 0);
  EXPECT_EQ(t.dir->rmdir("e"), 0);
  EXPECT_EQ(t.dir->names(), std::vector<std::string>{});
}

TEST(Mapfs, EachDirectoryFsyncMakesItsOwnNamesDurable) {
  Fixture t;
  ASSERT_EQ(t.dir->mkdir("d"), 0);
  t.dir->release(t.write("d/a", "in d", true));
  t.dir->release(t.write("top", "at the top", true));
  // The subdirectory's fsync: its file's name, not the subdirectory's own
  // name in the top, so nothing is reachable yet.
  const std::string d = "d";
  ASSERT_EQ(t.dir->fsync(&d), 0);
  t.cut();
  EXPECT_EQ(t.file("d/a"), "<missing>");
  EXPECT_EQ(t.file("top"), "<missing>");
  Fixture v;
  ASSERT_EQ(v.dir->mkdir("d"), 0);
  v.dir->release(v.write("d/a", "in d", true));
  v.dir->release(v.write("top", "at the top", true));
  const std::string top;
  ASSERT_EQ(v.dir->fsync(&top), 0);  // "d" and "top" are named, d's file is not
  ASSERT_EQ(v.dir->fsync(&d), 0);    // now it is
  ASSERT_EQ(v.dir->rename("d/a", "b", 0), 0);
  ASSERT_EQ(v.dir->fsync(&top), 0);  // "b" durable; d still names "a" on the device
  v.cut();
  EXPECT_EQ(v.file("top"), "at the top");
  EXPECT_EQ(v.file("b"), "in d");
  EXPECT_EQ(v.file("d/a"), "in d");
}

TEST(Mapfs, AnImageThatIsNotADirectoryIsOneLine) {
  char tmpl[] = "/tmp/iostack-mapfs-img-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "garbage", 7), 7);
  ::close(fd);
  std::string err;
  EXPECT_FALSE(fs_extract_image(tmpl, std::string(tmpl) + ".d", &err));
  EXPECT_EQ(err,
            std::string(tmpl) + ": block 0 is not an iostack directory (expected magic iostkfs1)");
  EXPECT_FALSE(fs_extract_image("/nonexistent/image", "/tmp/x", &err));
  EXPECT_EQ(err.rfind("/nonexistent/image: ", 0), 0u) << err;
  // An empty image is an empty directory.
  ASSERT_EQ(truncate(tmpl, 0), 0);
  EXPECT_TRUE(fs_extract_image(tmpl, std::string(tmpl) + ".d", &err)) << err;
  std::system((std::string("rm -rf ") + tmpl + " " + tmpl + ".d").c_str());
}

}  // namespace
}  // namespace iostack::map
