// Reading and writing the mapped directory's on-device format.
#include "map/mapfs_format.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "core/raw_syscall.h"

namespace iostack::map {
namespace {

constexpr char kDirMagic[8] = {'i', 'o', 's', 't', 'k', 'f', 's', '1'};
constexpr char kInodeMagic[8] = {'i', 'o', 's', 't', 'k', 'i', 'n', 'o'};

// Raw calls: this also runs inside a mapped program, whose libc calls the
// preload shim interposes.
int raw_open(const std::string& path, int flags, unsigned mode) {
  return static_cast<int>(iostack_raw_syscall6(SYS_openat, AT_FDCWD,
                                               reinterpret_cast<long>(path.c_str()), flags,
                                               static_cast<long>(mode), 0, 0));
}

// Removes the regular files under `dir`, and the directories they leave
// empty (`dir` itself stays).
void clear_tree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subs;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (e->d_type == DT_REG)
      ::syscall(SYS_unlinkat, AT_FDCWD, (dir + "/" + n).c_str(), 0);
    else if (e->d_type == DT_DIR && n != "." && n != "..")
      subs.push_back(dir + "/" + n);
  }
  ::closedir(d);
  for (const std::string& s : subs) {
    clear_tree(s);
    ::syscall(SYS_unlinkat, AT_FDCWD, s.c_str(), AT_REMOVEDIR);
  }
}

}  // namespace

bool fs_geometry(std::uint64_t dev_bytes, FsHeader* h) {
  std::memset(h, 0, sizeof *h);
  std::memcpy(h->magic, kDirMagic, sizeof h->magic);
  h->inodes = kFsInodes;
  h->entries = kFsEntries;
  h->data_start = (1 + kFsInodes) * kFsBlock;
  if (dev_bytes < h->data_start + kFsInodes * kFsBlock) return false;
  h->slot_bytes = (dev_bytes - h->data_start) / kFsInodes / kFsBlock * kFsBlock;
  h->next_gen = 1;
  return true;
}

bool fs_read(const FsRead& read, FsHeader* h, std::vector<FsFile>* files, std::string* err) {
  auto block = std::make_unique<char[]>(kFsBlock);
  if (const int e = read(0, block.get(), kFsBlock)) {
    *err = std::string("cannot read the directory block: ") + std::strerror(-e);
    return false;
  }
  files->clear();
  bool zero = true;
  for (std::uint64_t i = 0; i < kFsBlock && zero; ++i) zero = block[i] == 0;
  if (zero) {  // never written: an empty directory
    std::memset(h, 0, sizeof *h);
    return true;
  }
  std::memcpy(h, block.get(), sizeof *h);
  if (std::memcmp(h->magic, kDirMagic, sizeof h->magic) != 0 || h->inodes == 0 ||
      h->inodes > kFsEntries || h->entries != kFsEntries || h->slot_bytes % kFsBlock) {
    *err = "block 0 is not an iostack directory (expected magic iostkfs1)";
    return false;
  }
  const auto* ents = reinterpret_cast<const FsDirent*>(block.get() + sizeof(FsHeader));
  for (std::uint32_t i = 0; i < h->entries; ++i) {
    const FsDirent& d = ents[i];
    if (d.flags & kFsDirentDir) {
      if (d.ino != 0 || d.name[0] == 0 || d.name[kFsNameMax] != 0) {
        *err = "directory entry " + std::to_string(i) + " is corrupt";
        return false;
      }
      FsFile f;
      f.name = d.name;
      f.dir = true;
      files->push_back(std::move(f));
      continue;
    }
    if (d.ino == 0) continue;
    if (d.ino > h->inodes || d.name[0] == 0 || d.name[kFsNameMax] != 0) {
      *err = "directory entry " + std::to_string(i) + " is corrupt";
      return false;
    }
    FsFile f;
    f.name = d.name;
    f.ino = d.ino;
    f.gen = d.gen;
    FsInode in;
    if (const int e = read(fs_inode_offset(d.ino), &in, sizeof in)) {
      *err = "cannot read inode " + std::to_string(d.ino) + ": " + std::strerror(-e);
      return false;
    }
    f.extent_start = h->data_start + (d.ino - 1) * h->slot_bytes;
    if (std::memcmp(in.magic, kInodeMagic, sizeof in.magic) == 0 && in.gen == d.gen &&
        in.ino == d.ino) {
      if (in.size > in.extent_bytes || in.extent_start != f.extent_start) {
        *err = "inode " + std::to_string(d.ino) + " is corrupt";
        return false;
      }
      f.size = in.size;
    }
    files->push_back(std::move(f));
  }
  // Parents first; what hangs from a directory the block does not name is
  // not reachable.
  std::stable_sort(files->begin(), files->end(), [](const FsFile& a, const FsFile& b) {
    return std::count(a.name.begin(), a.name.end(), '/') <
           std::count(b.name.begin(), b.name.end(), '/');
  });
  std::set<std::string> dirs = {""};
  std::vector<FsFile> kept;
  for (FsFile& f : *files) {
    if (!dirs.count(fs_parent(f.name))) continue;
    if (f.dir) dirs.insert(f.name);
    kept.push_back(std::move(f));
  }
  *files = std::move(kept);
  return true;
}

void fs_fill_inode(FsInode* in, std::uint32_t ino, std::uint64_t gen, std::uint64_t size,
                   const FsHeader& h) {
  std::memset(in, 0, sizeof *in);
  std::memcpy(in->magic, kInodeMagic, sizeof in->magic);
  in->ino = ino;
  in->gen = gen;
  in->size = size;
  in->extent_start = h.data_start + (ino - 1) * h.slot_bytes;
  in->extent_bytes = h.slot_bytes;
}

bool fs_extract(const FsRead& read, const std::string& dir, std::string* err) {
  FsHeader h;
  std::vector<FsFile> files;
  if (!fs_read(read, &h, &files, err)) return false;
  if (::syscall(SYS_mkdirat, AT_FDCWD, dir.c_str(), 0755) < 0 && errno != EEXIST) {
    *err = dir + ": " + std::strerror(errno);
    return false;
  }
  clear_tree(dir);
  constexpr std::uint64_t kChunk = 1 << 20;
  auto buf = std::make_unique<char[]>(kChunk);
  for (const FsFile& f : files) {
    const std::string path = dir + "/" + f.name;
    if (f.dir) {
      if (::syscall(SYS_mkdirat, AT_FDCWD, path.c_str(), 0755) < 0 && errno != EEXIST) {
        *err = path + ": " + std::strerror(errno);
        return false;
      }
      continue;
    }
    const int fd = raw_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      *err = path + ": " + std::strerror(-fd);
      return false;
    }
    for (std::uint64_t off = 0; off < f.size; off += kChunk) {
      const std::uint64_t n = std::min(kChunk, f.size - off);
      int e = read(f.extent_start + off, buf.get(), n);
      if (!e && ::syscall(SYS_pwrite64, fd, buf.get(), n, off) != static_cast<long>(n)) e = -errno;
      if (e) {
        *err = path + ": " + std::strerror(-e);
        ::syscall(SYS_close, fd);
        return false;
      }
    }
    ::syscall(SYS_close, fd);
  }
  return true;
}

bool fs_extract_image(const std::string& image, const std::string& dir, std::string* err) {
  const int fd = raw_open(image, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    *err = image + ": " + std::strerror(-fd);
    return false;
  }
  const FsRead read = [fd](std::uint64_t off, void* buf, std::uint64_t len) {
    char* p = static_cast<char*>(buf);
    while (len) {
      const long r = ::syscall(SYS_pread64, fd, p, len, off);
      if (r < 0) return -errno;
      if (r == 0) {  // past the end of the image: zeros
        std::memset(p, 0, len);
        break;
      }
      p += r;
      off += static_cast<std::uint64_t>(r);
      len -= static_cast<std::uint64_t>(r);
    }
    return 0;
  };
  const bool ok = fs_extract(read, dir, err);
  ::syscall(SYS_close, fd);
  if (!ok && err->rfind(dir, 0) != 0) *err = image + ": " + *err;
  return ok;
}

}  // namespace iostack::map
