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
