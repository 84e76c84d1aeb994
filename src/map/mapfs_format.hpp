// The on-device format of a directory mapped by `iostack exec --map DIR/=SPEC`
// (mapfs.hpp holds the model that writes it). Block 0 (4 KiB) holds a header
// and the directory entries, so that one block write commits every change of
// the namespace; blocks 1..inodes hold one inode record each (only the file's
// size and extent, written by fsync of the file and, for new inodes, by fsync
// of the directory); then each inode owns a fixed extent of the data area. An
// all-zero device is an empty directory. An entry names an inode and its
// generation: an entry whose inode record holds another generation is a file
// whose record was never written, which reads as empty. Subdirectories are
// entries too (kFsDirentDir, no inode): every name is a path from the top
// ("sub/file"), and an entry whose parent the block does not name is gone,
// as an unreachable inode is after a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace iostack::map {

constexpr std::uint64_t kFsBlock = 4096;
constexpr std::uint32_t kFsInodes = 32;
constexpr std::uint32_t kFsNameMax = 47;  // bytes of a name, without the NUL

struct FsHeader {
  char magic[8];  // "iostkfs1"
  std::uint32_t inodes;
  std::uint32_t entries;
  std::uint64_t slot_bytes;  // the extent of each inode
  std::uint64_t data_start;  // byte offset of inode 1's extent
  std::uint64_t next_gen;
  std::uint8_t pad[24];
};
static_assert(sizeof(FsHeader) == 64);

struct FsDirent {
  char name[kFsNameMax + 1];  // NUL-padded
  std::uint32_t ino;          // 1..inodes; 0: a free entry (or a directory)
  std::uint32_t flags;        // kFsDirentDir
  std::uint64_t gen;
};
constexpr std::uint32_t kFsDirentDir = 1;
static_assert(sizeof(FsDirent) == 64);
constexpr std::uint32_t kFsEntries = (kFsBlock - sizeof(FsHeader)) / sizeof(FsDirent);

struct FsInode {
  char magic[8];  // "iostkino"
  std::uint32_t ino;
  std::uint32_t pad;
  std::uint64_t gen;
  std::uint64_t size;
  std::uint64_t extent_start;  // bytes
  std::uint64_t extent_bytes;
};

// The geometry for a device of `dev_bytes`: false when it is too small.
bool fs_geometry(std::uint64_t dev_bytes, FsHeader* h);
inline std::uint64_t fs_inode_offset(std::uint32_t ino) { return ino * kFsBlock; }
// The directory a path from the top is in ("" for the top).
inline std::string fs_parent(const std::string& name) {
  const std::size_t slash = name.rfind('/');
  return slash == std::string::npos ? std::string() : name.substr(0, slash);
}

// The record of inode `ino` (1..inodes) of generation `gen`.
void fs_fill_inode(FsInode* in, std::uint32_t ino, std::uint64_t gen, std::uint64_t size,
                   const FsHeader& h);

// A file as the durable directory names it.
struct FsFile {
  std::string name;  // the path from the top
  bool dir = false;  // a subdirectory (no inode)
  std::uint32_t ino = 0;
  std::uint64_t gen = 0;
  std::uint64_t size = 0;  // 0 when the inode record is of another generation
  std::uint64_t extent_start = 0;
};

// Reads `len` bytes at `offset`; bytes past the end of the image read as
// zeros. Returns 0 or -errno.
using FsRead = std::function<int(std::uint64_t offset, void* buf, std::uint64_t len)>;

// Mounts: the header and the files and subdirectories of the directory
// (parents before their children; entries whose parent is not named are
// left out). False (with `err` saying why) when block 0 is neither zero
// nor a directory of this format.
bool fs_read(const FsRead& read, FsHeader* h, std::vector<FsFile>* files, std::string* err);

// Writes the files of the image into the real directory `dir` (created if
// missing; the regular files and then empty directories already in it are
// removed first), subdirectories included.
bool fs_extract(const FsRead& read, const std::string& dir, std::string* err);
// The same from an image file (`err` names the image or the directory).
bool fs_extract_image(const std::string& image, const std::string& dir, std::string* err);

}  // namespace iostack::map
