// A directory of `iostack exec --map DIR/=SPEC`: the files the program
// creates, renames and unlinks in DIR live on one iostack device, in the
// format of mapfs_format.hpp, with the durability of the strict POSIX view
// that ALICE and CrashMonkey test against:
//   - fsync/fdatasync of a file writes back its pages and its inode record
//     (size), then FLUSHes: its data and size are durable, its name is not;
//   - a create, rename or unlink changes the directory in memory only; fsync
//     of the directory writes the records of the inodes it newly names and
//     then the directory block, then FLUSHes: the names are durable after;
//   - an inode whose last name goes while the durable directory still names
//     it keeps its extent until the directory has been written, as a journal
//     keeps freed blocks until the transaction that freed them commits.
// Subdirectories (mkdir, rmdir, renames of them) are names too: fsync of a
// directory makes durable the names in it, the subdirectories it holds
// included, and nothing of the other directories.
// ext4 gives more: its fsync of any file commits the running journal
// transaction, which holds every earlier create, rename and unlink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "block/bdev_file.hpp"
#include "dev/device.hpp"
#include "map/mapfs_format.hpp"
#include "map/page_cache.hpp"

namespace iostack::map {

class MapDir {
 public:
  // `path`: the absolute directory, without a trailing slash; `image`: a
  // real directory that gets the durable files after a power cut or exit.
  MapDir(std::string path, std::unique_ptr<dev::BlockDevice> dev, std::string image,
         std::uint64_t dirty_limit, IoCounts* counts);
  ~MapDir();
  // Mounts the device (an all-zero one is empty): 0, or -errno with `err`.
  int init(std::string* err);

  const std::string& path() const { return path_; }
  const std::string& image() const { return image_; }
  dev::BlockDevice* device() const { return dev_.get(); }

  // open(2) of the file `name` (a path from the top: "sub/file") in the
  // directory: the inode (1..) with its file, or -errno (-ENOENT, -ENOTDIR,
  // -EISDIR, -EEXIST, -ENOSPC, -ENAMETOOLONG). Each open is released.
  int open(const std::string& name, int flags, MappedFile** file);
  void release(int ino);
  // The names of the directory now, parents before their children (for
  // placeholders on the real one).
  std::vector<std::string> names() const;
  // 1 when `name` is a subdirectory, 0 a file, -ENOENT.
  int kind(const std::string& name) const;
  // 0 when every directory on the way to `name` exists, else -ENOENT or
  // -ENOTDIR, as a path walk answers.
  int walk(const std::string& name) const;
  // mkdir(2) and rmdir(2) of `name`: 0 or -errno (-EEXIST, -ENOENT,
  // -ENOTDIR, -ENOTEMPTY, -ENOSPC, -ENAMETOOLONG).
  int mkdir(const std::string& name);
  int rmdir(const std::string& name);
  // The inode named `name`, or -ENOENT.
  int ino_of(const std::string& name) const;
  // The file of inode `ino` while it is in use, else null.
  MappedFile* file(std::uint32_t ino) const;
  // The size of the file `name`, or -ENOENT.
  std::int64_t size_of(const std::string& name) const;
  int unlink(const std::string& name);
  // rename(2) inside the directory (of files or subdirectories);
  // RENAME_NOREPLACE honoured.
  int rename(const std::string& from, const std::string& to, unsigned flags);
  // fsync of the directory `sub` ("" the top; null: every directory): the
  // new inode records, the block, a FLUSH.
  int fsync(const std::string* sub = nullptr);
  // A clean exit: every file's fsync, then the directory's.
  int sync_all();
  // The durable files into `dir` (read from device `d`, the one below the
  // write caches); false with `err`.
  bool extract(dev::BlockDevice* d, const std::string& dir, std::string* err);

 private:
  struct Inode {
    std::unique_ptr<MappedFile> file;
    std::uint64_t gen = 0;
    std::uint64_t record_gen = 0;  // the generation its record on the device has
    bool used = false;
    bool durable_named = false;  // the durable directory names it
    int links = 0;
    int opens = 0;
  };
  struct Entry {
    std::string name;
    std::uint32_t ino;  // 0 for a subdirectory
    bool dir = false;
  };
  int find(const std::string& name) const;  // index in entries_, or -1
  bool has_children(const std::string& dir) const;
  void put(std::uint32_t ino);                              // frees it when nothing holds it
  int write_block(std::uint64_t offset, const void* data);  // one 4 KiB write
  int write_record(std::uint32_t ino, std::uint64_t size);
  int flush();

  std::string path_;
  std::unique_ptr<dev::BlockDevice> dev_;
  std::string image_;
  std::uint64_t dirty_limit_;
  IoCounts* counts_;
  int fd_ = -1;
  core::FileRef ref_;
  block::BdevFile* file_ = nullptr;
  char* buf_ = nullptr;  // one aligned block for metadata I/O
  FsHeader header_{};
  std::vector<Inode> inodes_;  // [0] unused: inode numbers start at 1
  std::vector<Entry> entries_;
  std::vector<Entry> durable_;        // what block 0 on the device holds
  std::vector<std::uint32_t> freed_;  // waiting for the directory to be written
};

}  // namespace iostack::map
