// A mapped directory's file system model: names, inodes and per-directory fsync.
#include "map/mapfs.hpp"

#include <fcntl.h>
#include <linux/fs.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "block/disk.hpp"

namespace iostack::map {
namespace {

// Reads of the image through the block layer, whole aligned blocks at a
// time (every read of the format starts on a 4 KiB boundary).
FsRead device_reader(block::BdevFile* f, char* bounce, std::uint64_t bounce_bytes) {
  return [f, bounce, bounce_bytes](std::uint64_t off, void* buf, std::uint64_t len) {
    char* out = static_cast<char*>(buf);
    while (len) {
      const std::uint64_t n = std::min(len, bounce_bytes);
      struct iovec v {
        bounce, (n + kFsBlock - 1) / kFsBlock* kFsBlock
      };
      const long r = bdev_sync_rw(f, false, &v, 1, off);
      if (r < 0) return static_cast<int>(r);
      if (static_cast<std::uint64_t>(r) < n) std::memset(bounce + r, 0, n - r);
      std::memcpy(out, bounce, n);
      out += n;
      off += n;
      len -= n;
    }
    return 0;
  };
}

}  // namespace

MapDir::MapDir(std::string path, std::unique_ptr<dev::BlockDevice> dev, std::string image,
               std::uint64_t dirty_limit, IoCounts* counts)
    : path_(std::move(path)),
      dev_(std::move(dev)),
      image_(std::move(image)),
      dirty_limit_(dirty_limit),
      counts_(counts) {}

MapDir::~MapDir() {
  inodes_.clear();
  std::free(buf_);
  if (fd_ >= 0) {
    ref_ = {};
    block::bdev_file_close(fd_);
  }
}

int MapDir::init(std::string* err) {
  buf_ = static_cast<char*>(std::aligned_alloc(kFsBlock, kFsBlock));
  if (!buf_) return -ENOMEM;
  fd_ = block::bdev_file_open(dev_->disk(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd_ < 0) {
    *err = std::string("cannot open the device: ") + std::strerror(-fd_);
    return fd_;
  }
  ref_ = block::bdev_file_get(fd_);
  file_ = block::bdev_of(ref_);
  const std::uint64_t bytes = dev_->disk()->capacity() << block::kSectorShift;
  std::vector<FsFile> files;
  if (!fs_read(device_reader(file_, buf_, kFsBlock), &header_, &files, err)) return -EINVAL;
  if (header_.inodes == 0 && !fs_geometry(bytes, &header_)) {
    *err = "the device is too small for a directory (at least " +
           std::to_string((1 + 2 * kFsInodes) * kFsBlock / 1024) + " KiB)";
    return -ENOSPC;
  }
  if (header_.data_start + header_.inodes * header_.slot_bytes > bytes) {
    *err = "the directory on the device is larger than the device";
    return -EINVAL;
  }
  inodes_.resize(header_.inodes + 1);
  for (std::uint32_t i = 1; i <= header_.inodes; ++i) {
    Inode& in = inodes_[i];
    in.file = std::make_unique<MappedFile>(path_, dev_.get(),
                                           header_.data_start + (i - 1) * header_.slot_bytes,
                                           header_.slot_bytes, dirty_limit_, counts_);
    if (const int e = in.file->init()) {
      *err = std::string("cannot open the device: ") + std::strerror(-e);
      return e;
    }
    in.file->set_fsync_hook([this, i](std::uint64_t size) { return write_record(i, size); });
  }
  for (const FsFile& f : files) {
    if (f.dir) {
      entries_.push_back({f.name, 0, true});
      continue;
    }
    Inode& in = inodes_[f.ino];
    // Two names: a rename across directories of which only the new one's
    // fsync came (a link, as the strict view allows).
    if (in.used) {
      if (in.gen != f.gen) {
        *err = "inode " + std::to_string(f.ino) + " has two names of different generations";
        return -EINVAL;
      }
      ++in.links;
      entries_.push_back({f.name, f.ino});
      continue;
    }
    in.used = in.durable_named = true;
    in.links = 1;
    in.gen = f.gen;
    in.record_gen = f.size ? f.gen : 0;
    in.file->mount(f.size);
    header_.next_gen = std::max(header_.next_gen, f.gen + 1);
    entries_.push_back({f.name, f.ino});
  }
  durable_ = entries_;
  return 0;
}

std::vector<std::string> MapDir::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

int MapDir::ino_of(const std::string& name) const {
  const int idx = find(name);
  if (idx >= 0 && entries_[static_cast<std::size_t>(idx)].dir) return -EISDIR;
  return idx < 0 ? -ENOENT : static_cast<int>(entries_[static_cast<std::size_t>(idx)].ino);
}

int MapDir::kind(const std::string& name) const {
  const int idx = find(name);
  return idx < 0 ? -ENOENT : entries_[static_cast<std::size_t>(idx)].dir ? 1 : 0;
}

int MapDir::walk(const std::string& name) const {
  for (std::size_t slash = name.find('/'); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    const int k = kind(name.substr(0, slash));
    if (k < 0) return k;
    if (k == 0) return -ENOTDIR;
  }
  return 0;
}

bool MapDir::has_children(const std::string& dir) const {
  for (const Entry& e : entries_)
    if (e.name.size() > dir.size() && e.name.compare(0, dir.size() + 1, dir + "/") == 0)
      return true;
  return false;
}

int MapDir::mkdir(const std::string& name) {
  if (const int e = walk(name)) return e;
  if (find(name) >= 0) return -EEXIST;
  if (name.size() > kFsNameMax) return -ENAMETOOLONG;
  if (entries_.size() >= header_.entries) return -ENOSPC;
  entries_.push_back({name, 0, true});
  return 0;
}

int MapDir::rmdir(const std::string& name) {
  if (const int e = walk(name)) return e;
  const int idx = find(name);
  if (idx < 0) return -ENOENT;
  if (!entries_[static_cast<std::size_t>(idx)].dir) return -ENOTDIR;
  if (has_children(name)) return -ENOTEMPTY;
  entries_.erase(entries_.begin() + idx);
  return 0;
}

MappedFile* MapDir::file(std::uint32_t ino) const {
  if (ino < 1 || ino >= inodes_.size() || !inodes_[ino].used) return nullptr;
  return inodes_[ino].file.get();
}

std::int64_t MapDir::size_of(const std::string& name) const {
  const int idx = find(name);
  if (idx < 0 || entries_[static_cast<std::size_t>(idx)].dir) return -ENOENT;
  return static_cast<std::int64_t>(
      inodes_[entries_[static_cast<std::size_t>(idx)].ino].file->size());
}

int MapDir::find(const std::string& name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return static_cast<int>(i);
  return -1;
}

int MapDir::open(const std::string& name, int flags, MappedFile** file) {
  if (const int e = walk(name)) return e;
  if (name.size() > kFsNameMax) return -ENAMETOOLONG;
  const int idx = find(name);
  if (idx >= 0 && entries_[static_cast<std::size_t>(idx)].dir) return -EISDIR;
  // Files only here: O_DIRECTORY finds none.
  if (flags & O_DIRECTORY) return idx >= 0 ? -ENOTDIR : (flags & O_CREAT) ? -EINVAL : -ENOENT;
  std::uint32_t ino;
  if (idx >= 0) {
    if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
    ino = entries_[static_cast<std::size_t>(idx)].ino;
    if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY)
      if (const int e = inodes_[ino].file->truncate(0)) return e;
  } else {
    if (!(flags & O_CREAT)) return -ENOENT;
    if (entries_.size() >= header_.entries) return -ENOSPC;
    ino = 1;
    while (ino <= header_.inodes && inodes_[ino].used) ++ino;
    if (ino > header_.inodes) return -ENOSPC;
    Inode& in = inodes_[ino];
    in.used = true;
    in.durable_named = false;
    in.gen = header_.next_gen++;
    in.links = 1;
    in.file->clear();
    entries_.push_back({name, ino});
  }
  ++inodes_[ino].opens;
  *file = inodes_[ino].file.get();
  return static_cast<int>(ino);
}

void MapDir::put(std::uint32_t ino) {
  Inode& in = inodes_[ino];
  if (in.links || in.opens || !in.used) return;
  if (in.durable_named) {
    freed_.push_back(ino);  // still the durable directory's: kept until it is written
    return;
  }
  in.used = false;
  in.file->clear();
}

void MapDir::release(int ino) {
  if (ino < 1 || ino > static_cast<int>(header_.inodes)) return;
  Inode& in = inodes_[static_cast<std::size_t>(ino)];
  if (in.opens > 0) --in.opens;
  put(static_cast<std::uint32_t>(ino));
}

int MapDir::unlink(const std::string& name) {
  if (const int e = walk(name)) return e;
  const int idx = find(name);
  if (idx < 0) return -ENOENT;
  if (entries_[static_cast<std::size_t>(idx)].dir) return -EISDIR;
  const std::uint32_t ino = entries_[static_cast<std::size_t>(idx)].ino;
  entries_.erase(entries_.begin() + idx);
  --inodes_[ino].links;
  put(ino);
  return 0;
}

int MapDir::rename(const std::string& from, const std::string& to, unsigned flags) {
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return -EINVAL;
  if (const int e = walk(from)) return e;
  if (const int e = walk(to)) return e;
  if (to.size() > kFsNameMax) return -ENAMETOOLONG;
  const int src = find(from);
  if (src < 0) return -ENOENT;
  if (from == to) return (flags & RENAME_NOREPLACE) ? -EEXIST : 0;
  const bool dir = entries_[static_cast<std::size_t>(src)].dir;
  // A directory never goes below itself.
  if (dir && to.compare(0, from.size() + 1, from + "/") == 0) return -EINVAL;
  const int dst = find(to);
  if (dst >= 0) {
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    const Entry& d = entries_[static_cast<std::size_t>(dst)];
    if (dir && !d.dir) return -ENOTDIR;
    if (!dir && d.dir) return -EISDIR;
    if (d.dir && has_children(to)) return -ENOTEMPTY;
  }
  if (dir) {
    for (Entry& e : entries_)
      if (e.name.size() > from.size() && e.name.compare(0, from.size() + 1, from + "/") == 0 &&
          to.size() + e.name.size() - from.size() > kFsNameMax)
        return -ENAMETOOLONG;
    if (dst >= 0) entries_.erase(entries_.begin() + dst);  // an empty directory
    for (Entry& e : entries_) {
      if (e.name == from)
        e.name = to;
      else if (e.name.size() > from.size() && e.name.compare(0, from.size() + 1, from + "/") == 0)
        e.name = to + e.name.substr(from.size());
    }
    return 0;
  }
  if (dst >= 0) {
    const std::uint32_t old = entries_[static_cast<std::size_t>(dst)].ino;
    entries_[static_cast<std::size_t>(dst)].ino = entries_[static_cast<std::size_t>(src)].ino;
    entries_.erase(entries_.begin() + src);
    --inodes_[old].links;
    put(old);
  } else {
    entries_[static_cast<std::size_t>(src)].name = to;
  }
  return 0;
}

int MapDir::write_block(std::uint64_t offset, const void* data) {
  if (data != buf_) std::memcpy(buf_, data, kFsBlock);
  struct iovec v {
    buf_, kFsBlock
  };
  const long r = bdev_sync_rw(file_, true, &v, 1, offset);
  if (r >= 0) after_write(counts_);
  return r < 0 ? static_cast<int>(r) : 0;
}

int MapDir::write_record(std::uint32_t ino, std::uint64_t size) {
  std::memset(buf_, 0, kFsBlock);
  FsInode rec;
  fs_fill_inode(&rec, ino, inodes_[ino].gen, size, header_);
  std::memcpy(buf_, &rec, sizeof rec);
  const int e = write_block(fs_inode_offset(ino), buf_);
  if (!e) inodes_[ino].record_gen = inodes_[ino].gen;
  return e;
}

int MapDir::flush() {
  const long r = bdev_sync_flush(file_);
  return r < 0 ? static_cast<int>(r) : 0;
}

int MapDir::fsync(const std::string* sub) {
  // What block 0 will hold: the names in `sub` as they are now, and the
  // other directories' as the device has them.
  std::vector<Entry> next;
  if (sub) {
    for (const Entry& e : durable_)
      if (fs_parent(e.name) != *sub) next.push_back(e);
  }
  for (const Entry& e : entries_)
    if (!sub || fs_parent(e.name) == *sub) next.push_back(e);
  if (next.size() > header_.entries) return -ENOSPC;
  // The records first: a name must never reach the media before the inode
  // it names (the generation check covers a record that did not land).
  for (const Entry& e : next)
    if (!e.dir && inodes_[e.ino].record_gen != inodes_[e.ino].gen)
      if (const int err = write_record(e.ino, inodes_[e.ino].file->durable_size())) return err;
  std::memset(buf_, 0, kFsBlock);
  std::memcpy(buf_, &header_, sizeof header_);
  auto* ents = reinterpret_cast<FsDirent*>(buf_ + sizeof(FsHeader));
  for (std::size_t i = 0; i < next.size(); ++i) {
    std::memcpy(ents[i].name, next[i].name.data(), next[i].name.size());
    ents[i].ino = next[i].ino;
    ents[i].flags = next[i].dir ? kFsDirentDir : 0;
    ents[i].gen = next[i].dir ? 0 : inodes_[next[i].ino].gen;
  }
  if (const int err = write_block(0, buf_)) return err;
  if (const int err = flush()) return err;
  durable_ = std::move(next);
  for (Inode& in : inodes_) in.durable_named = false;
  for (const Entry& e : durable_)
    if (!e.dir) inodes_[e.ino].durable_named = true;
  // Freed inodes the device no longer names can be reused.
  std::vector<std::uint32_t> still;
  for (std::uint32_t ino : freed_) {
    if (inodes_[ino].durable_named) {
      still.push_back(ino);
      continue;
    }
    inodes_[ino].used = false;
    inodes_[ino].file->clear();
  }
  freed_ = std::move(still);
  return 0;
}

int MapDir::sync_all() {
  int err = 0;
  for (std::size_t i = 1; i < inodes_.size(); ++i)
    if (inodes_[i].used && inodes_[i].links)
      if (const int e = inodes_[i].file->fsync(); e && !err) err = e;
  if (const int e = fsync(); e && !err) err = e;
  return err;
}

bool MapDir::extract(dev::BlockDevice* d, const std::string& dir, std::string* err) {
  const int fd = block::bdev_file_open(d->disk(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    *err = std::string("cannot open the device: ") + std::strerror(-fd);
    return false;
  }
  core::FileRef ref = block::bdev_file_get(fd);
  constexpr std::uint64_t kBounce = 1 << 20;
  char* bounce = static_cast<char*>(std::aligned_alloc(kFsBlock, kBounce));
  const bool ok =
      bounce && fs_extract(device_reader(block::bdev_of(ref), bounce, kBounce), dir, err);
  if (!bounce) *err = "out of memory";
  std::free(bounce);
  // `fd` stays open, as save_image's: its close would come back through the
  // shim, and this runs at the process's end.
  return ok;
}

}  // namespace iostack::map
