// The C API of include/iostack/map.h: the mapped files and directories of
// this process, the descriptors open on them (each with its file position,
// shared by dups as one struct file is), and the power switch of `iostack
// exec --powercut`.
// One lock serialises the calls on mapped files: the model is of what
// reaches the device, not of concurrency.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dev/device.hpp"
#include "dev/target.hpp"
#include "iostack/map.h"
#include "map/mapfs.hpp"
#include "map/page_cache.hpp"

namespace iostack::map {
namespace {

struct OpenFile {  // struct file of a mapped path
  MappedFile* m;   // null for a mapped directory itself
  int flags;
  MapDir* dir = nullptr;  // the directory of a file in one, or the directory
  int ino = 0;            // the file's inode in `dir`
  std::uint64_t pos = 0;
  int refs = 1;
};

// When the power goes (IOSTACK_EXEC_POWERCUT): after this many block
// writes, at the entry of this fsync, or this long after the start.
struct Switch {
  std::uint64_t writes = 0, fsync = 0, ms = 0, calls = 0;
};

// Recursive: a power cut saves images with descriptors whose calls come
// back here through the shim.
std::recursive_mutex mu;
std::vector<MappedFile*> files;  // never freed: the process may end at any call
std::vector<MapDir*> dirs;
std::unordered_map<int, OpenFile*> fds;
// Which descriptors are mapped, read without the lock: the shim asks on
// every read and write of the process, the engine's own threads included,
// which must never wait for a caller that waits for them.
constexpr int kMarks = 1 << 16;
std::atomic<bool> marked[kMarks];
bool is_marked(int fd) {
  return fd >= kMarks || (fd >= 0 && marked[fd].load(std::memory_order_acquire));
}
void mark(int fd, bool on) {
  if (fd >= 0 && fd < kMarks) marked[fd].store(on, std::memory_order_release);
}
IoCounts counts;
Switch power;
bool cut_done = false;
bool exited = false;
// The process the mapping is of: a forked child shares none of it (its
// calls go to the kernel, on the placeholder files).
pid_t owner = 0;
bool in_owner() { return ::getpid() == owner; }

// Raw calls, so that saving an image never goes through the shim.
int raw_open(const char* path, int flags, unsigned mode) {
  return static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
void raw_close(int fd) { ::syscall(SYS_close, fd); }
// -errno on failure.
int raw_call(long r) { return r < 0 ? -errno : static_cast<int>(r); }

// The device that holds what survives a power cut: the one below the first
// write cache down the stack, or the top one when there is none.
dev::BlockDevice* durable_device(dev::BlockDevice* d) {
  for (dev::BlockDevice* x = d; x; x = x->lower())
    if (x->target() && std::strcmp(x->target()->name(), "wcache") == 0) return x->lower();
  return d;
}

// A log-writes target down the stack records its entry count in its super
// block only at a mark (or FUA); the devices are never torn down, so the
// end of the run is marked as the target's destructor would.
void mark_end(dev::BlockDevice* d) { d->message({"mark", "dm-log-writes-end"}, nullptr); }

// Writes the first `size` bytes of `d` to `image`.
void save_image(dev::BlockDevice* d, const std::string& image, std::uint64_t size) {
  const int out = raw_open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    std::fprintf(stderr, "iostack exec: cannot write the image %s: %s\n", image.c_str(),
                 std::strerror(-out));
    return;
  }
  constexpr std::uint64_t kChunk = 1 << 20;
  // Not from the heap: this may run in the middle of any call of the program.
  void* mem = ::mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    raw_close(out);
    return;
  }
  char* buf = static_cast<char*>(mem);
  const int in = block::bdev_file_open(d->disk(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  core::FileRef ref = in >= 0 ? block::bdev_file_get(in) : core::FileRef{};
  for (std::uint64_t off = 0; ref && off < size; off += kChunk) {
    const std::uint64_t n = std::min(kChunk, size - off);
    const std::uint64_t aligned = (n + 511) & ~std::uint64_t{511};
    struct Wait {
      block::BdevIo io;
      std::atomic<int> done{0};
      long res = 0;
    } w;
    w.io.reset(
        [](void* p, long res) {
          auto* x = static_cast<Wait*>(p);
          x->res = res;
          x->done.store(1, std::memory_order_release);
          x->done.notify_one();
        },
        &w);
    struct iovec v {
      buf, aligned
    };
    if (block::bdev_rw(block::bdev_of(ref), &w.io, false, &v, 1, static_cast<std::int64_t>(off), 0,
                       0) < 0)
      break;
    while (!w.done.load(std::memory_order_acquire)) w.done.wait(0);
    if (w.res < 0) break;
    if (::syscall(SYS_pwrite64, out, buf, n, off) != static_cast<long>(n)) break;
  }
  // `in` stays open: its close would come back through the shim's close(),
  // which closes iostack descriptors itself; this runs at the process's end.
  ::munmap(mem, kChunk);
  raw_close(out);
}

// The power cut: every device's write cache loses what is not durable, the
// page cache is gone, the images get what survived, and the process dies
// by SIGKILL at this instant.
[[noreturn]] void cut() {
  std::lock_guard lk(mu);
  cut_done = true;
  std::fprintf(
      stderr, "iostack exec: power cut after %llu write calls, %llu block writes, %llu fsyncs\n",
      static_cast<unsigned long long>(counts.calls), static_cast<unsigned long long>(counts.writes),
      static_cast<unsigned long long>(counts.fsyncs));
  for (MappedFile* m : files) mark_end(m->device());
  for (MapDir* d : dirs) mark_end(d->device());
  for (MappedFile* m : files) {
    std::string res;
    m->device()->message({"powercut"}, &res);  // -EINVAL without a write cache
  }
  for (MapDir* d : dirs) {
    std::string res;
    d->device()->message({"powercut"}, &res);
  }
  for (MappedFile* m : files)
    if (!m->image().empty()) save_image(durable_device(m->device()), m->image(), m->durable_size());
  for (MapDir* d : dirs) {
    std::string err;
    if (!d->image().empty() && !d->extract(durable_device(d->device()), d->image(), &err))
      std::fprintf(stderr, "iostack exec: --image %s/: %s\n", d->path().c_str(), err.c_str());
  }
  ::syscall(SYS_kill, ::getpid(), SIGKILL);
  for (;;) pause();
}

}  // namespace
}  // namespace iostack::map

using namespace iostack::map;

// A clean exit: the kernel would write back the page cache; the images get
// the whole files.
extern "C" IOSTACK_API void iostack_map_exit(void) {
  if ((files.empty() && dirs.empty()) || !in_owner()) return;
  {
    std::lock_guard lk(mu);
    if (exited) return;
    exited = true;
  }
  // On a thread of its own: exit() has already destroyed this thread's
  // thread_local objects, the engine's per-thread caches among them.
  std::thread([] {
    std::lock_guard lk(mu);
    if (cut_done) return;
    for (MappedFile* m : files) {
      m->fsync();
      if (!m->image().empty()) save_image(m->device(), m->image(), m->size());
    }
    for (MappedFile* m : files) mark_end(m->device());
    for (MapDir* d : dirs) {
      d->sync_all();
      mark_end(d->device());
      std::string err;
      if (!d->image().empty() && !d->extract(d->device(), d->image(), &err))
        std::fprintf(stderr, "iostack exec: --image %s/: %s\n", d->path().c_str(), err.c_str());
    }
  }).join();
}

namespace iostack::map {
namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// "writes=N", "fsync=N", "ms=N", "calls=N" or "random[,seed=S][,writes=R|calls=R]"
// (a cut after 1..R block writes or write calls, R default 200 block
// writes, drawn from S).
bool parse_powercut(const std::string& s, Switch* out) {
  bool random = false;
  std::uint64_t seed = 0, range = 200;
  bool any = false;
  std::size_t at = 0;
  while (at <= s.size()) {
    std::size_t comma = s.find(',', at);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(at, comma - at);
    at = comma + 1;
    if (item == "random") {
      random = any = true;
      continue;
    }
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    char* end = nullptr;
    errno = 0;
    const std::uint64_t v = std::strtoull(val.c_str(), &end, 0);
    if (val.empty() || *end || errno) return false;
    if (key == "writes") {
      out->writes = range = v;
    } else if (key == "calls") {
      out->calls = range = v;
    } else if (key == "fsync")
      out->fsync = v;
    else if (key == "ms")
      out->ms = v;
    else if (key == "seed")
      seed = v;
    else
      return false;
    any = true;
  }
  if (random) {
    if (!range) return false;
    (out->calls ? out->calls : out->writes) = 1 + splitmix(seed) % range;
  }
  return any;
}

// `path` made absolute, with "." components and repeated or trailing
// slashes gone (".." is left as it is).
std::string normalize(const std::string& path) {
  std::string out;
  std::size_t at = 0;
  while (at < path.size()) {
    std::size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    const std::string part = path.substr(at, slash - at);
    at = slash + 1;
    if (part.empty() || part == ".") continue;
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

std::string absolute(int dirfd, const char* path) {
  if (path[0] == '/') return normalize(path);
  std::string base;
  if (dirfd == AT_FDCWD) {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) return {};
    base = buf;
  } else {
    char link[64], buf[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    const ssize_t n = ::readlink(link, buf, sizeof buf - 1);
    if (n <= 0) return {};
    base.assign(buf, static_cast<std::size_t>(n));
  }
  return normalize(base + "/" + path);
}

// The mapped directory `path` is in (`name` its name there) or is (`name`
// empty); null for other paths.
MapDir* find_dir(int dirfd, const char* path, std::string* name) {
  if (dirs.empty() || !path || !*path) return nullptr;
  const std::string abs = absolute(dirfd, path);
  for (MapDir* d : dirs) {
    if (abs == d->path()) {
      name->clear();
      return d;
    }
    if (abs.size() > d->path().size() + 1 && abs.rfind(d->path() + "/", 0) == 0 &&
        abs.find('/', d->path().size() + 1) == std::string::npos) {
      *name = abs.substr(d->path().size() + 1);
      return d;
    }
  }
  return nullptr;
}

MappedFile* find_path(int dirfd, const char* path) {
  if (files.empty() || !path) return nullptr;
  const std::string abs = absolute(dirfd, path);
  for (MappedFile* m : files)
    if (m->path() == abs) return m;
  return nullptr;
}

OpenFile* find_fd(int fd) {
  auto it = fds.find(fd);
  return it == fds.end() ? nullptr : it->second;
}

}  // namespace

void after_write(IoCounts* c) {
  ++c->writes;
  if (power.writes && c->writes >= power.writes && !cut_done) cut();
}

void before_fsync(IoCounts* c) {
  ++c->fsyncs;
  if (power.fsync && c->fsyncs >= power.fsync && !cut_done) cut();
}

}  // namespace iostack::map

using namespace iostack::map;

extern "C" {

IOSTACK_API int iostack_map_init(void) {
  const char* env = std::getenv("IOSTACK_EXEC_MAP");
  if (!env || !*env) return 0;
  std::lock_guard lk(mu);
  const std::string all = env;
  const char* pc = std::getenv("IOSTACK_EXEC_POWERCUT");
  if (pc && *pc && !parse_powercut(pc, &power)) {
    std::fprintf(stderr,
                 "iostack exec: --powercut=%s: expected writes=N, fsync=N, ms=N, calls=N or "
                 "random[,seed=S][,writes=R|calls=R]\n",
                 pc);
    return -EINVAL;
  }
  std::size_t at = 0;
  while (at < all.size()) {
    std::size_t nl = all.find('\n', at);
    if (nl == std::string::npos) nl = all.size();
    const std::string line = all.substr(at, nl - at);
    at = nl + 1;
    const std::size_t t1 = line.find('\t');
    const std::size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos) {
      std::fprintf(stderr, "iostack exec: IOSTACK_EXEC_MAP: expected PATH\\tSPEC\\tIMAGE in '%s'\n",
                   line.c_str());
      return -EINVAL;
    }
    const std::string spec = line.substr(t1 + 1, t2 - t1 - 1);
    std::string err;
    auto dev = iostack::dev::create_device(spec, nullptr, &err);
    if (!dev) {
      std::fprintf(stderr, "iostack exec: --map %s=%s: %s\n", line.substr(0, t1).c_str(),
                   spec.c_str(), err.c_str());
      return -EINVAL;
    }
    if (t1 > 1 && line[t1 - 1] == '/') {  // DIR/: a directory of files
      auto* d =
          new MapDir(line.substr(0, t1 - 1), std::move(dev), line.substr(t2 + 1), 1 << 20, &counts);
      if (const int e = d->init(&err)) {
        std::fprintf(stderr, "iostack exec: --map %s: %s\n", line.substr(0, t1).c_str(),
                     err.c_str());
        return e;
      }
      // Its files exist on the real file system too, empty, for stat().
      for (const std::string& n : d->names()) {
        const int fd =
            raw_open((d->path() + "/" + n).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) raw_close(fd);
      }
      dirs.push_back(d);
      continue;
    }
    auto* m =
        new MappedFile(line.substr(0, t1), std::move(dev), line.substr(t2 + 1), 1 << 20, &counts);
    if (const int e = m->init()) {
      std::fprintf(stderr, "iostack exec: --map %s: cannot open the device: %s\n",
                   m->path().c_str(), std::strerror(-e));
      return e;
    }
    files.push_back(m);
  }
  owner = ::getpid();
  unsetenv("IOSTACK_EXEC_MAP");
  unsetenv("IOSTACK_EXEC_POWERCUT");
  if (power.ms) {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(power.ms));
      cut();
    }).detach();
  }
  return files.empty() && dirs.empty() ? 0 : 1;
}

IOSTACK_API int iostack_map_open(int dirfd, const char* path, int flags, unsigned mode) {
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  std::lock_guard lk(mu);
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    if (name.empty()) {  // the directory itself, for its fsync
      const int fd = raw_call(::syscall(SYS_openat, AT_FDCWD, d->path().c_str(), flags, mode));
      if (fd < 0) return fd;
      fds[fd] = new OpenFile{nullptr, flags, d};
      mark(fd, true);
      return fd;
    }
    MappedFile* m = nullptr;
    const int ino = d->open(name, flags, &m);
    if (ino < 0) return ino;
    // The descriptor is the real placeholder's: its inode is one per file
    // for fstat, and POSIX locks on it behave as on the kernel.
    const int fd = raw_call(::syscall(SYS_openat, AT_FDCWD, (d->path() + "/" + name).c_str(),
                                      O_RDWR | O_CREAT | (flags & O_CLOEXEC), 0644));
    if (fd < 0) {
      d->release(ino);
      return fd;
    }
    fds[fd] = new OpenFile{m, flags & ~O_DIRECT, d, ino};
    mark(fd, true);
    return fd;
  }
  MappedFile* m = find_path(dirfd, path);
  if (!m) return IOSTACK_MAP_NOT_MINE;
  if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;  // it always exists
  const int acc = flags & O_ACCMODE;
  if ((flags & O_TRUNC) && acc != O_RDONLY)
    if (const int e = m->truncate(0)) return e;
  const int fd = iostack::block::bdev_file_open(m->disk(), acc | (flags & (O_DIRECT | O_CLOEXEC)));
  if (fd < 0) return fd;
  fds[fd] = new OpenFile{m, flags};
  mark(fd, true);
  return fd;
}

IOSTACK_API int iostack_map_unlink(int dirfd, const char* path) {
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  std::lock_guard lk(mu);
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    if (name.empty()) return IOSTACK_MAP_NOT_MINE;
    if (const int e = d->unlink(name)) return e;
    ::syscall(SYS_unlinkat, AT_FDCWD, (d->path() + "/" + name).c_str(), 0);
    return 0;
  }
  MappedFile* m = find_path(dirfd, path);
  if (!m) return IOSTACK_MAP_NOT_MINE;
  m->clear();
  return 0;
}

IOSTACK_API int iostack_map_rename(int olddirfd, const char* oldpath, int newdirfd,
                                   const char* newpath, unsigned flags) {
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  std::lock_guard lk(mu);
  std::string from, to;
  MapDir* a = find_dir(olddirfd, oldpath, &from);
  MapDir* b = find_dir(newdirfd, newpath, &to);
  if (!a && !b) return IOSTACK_MAP_NOT_MINE;
  if (a != b) return -EXDEV;
  if (from.empty() || to.empty()) return -EBUSY;  // the mapped directory itself
  if (const int e = a->rename(from, to, flags)) return e;
  ::syscall(SYS_renameat2, AT_FDCWD, (a->path() + "/" + from).c_str(), AT_FDCWD,
            (a->path() + "/" + to).c_str(), 0);
  return 0;
}

IOSTACK_API int iostack_map_fd(int fd) {
  if ((files.empty() && dirs.empty()) || !is_marked(fd) || !in_owner()) return 0;
  std::lock_guard lk(mu);
  const OpenFile* f = find_fd(fd);
  return f ? (f->m ? 1 : 2) : 0;
}

IOSTACK_API ssize_t iostack_map_rw(int fd, int write, const struct iovec* iov, int iovcnt,
                                   int64_t offset) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  if (!f->m) return -EISDIR;
  const int acc = f->flags & O_ACCMODE;
  if (write ? acc == O_RDONLY : acc == O_WRONLY) return -EBADF;
  if (iovcnt < 0 || iovcnt > 1024) return -EINVAL;
  const bool use_pos = offset < 0;
  std::uint64_t off = use_pos ? f->pos : static_cast<std::uint64_t>(offset);
  if (write && (f->flags & O_APPEND)) off = f->m->size();
  const long r = f->m->rw(write, f->flags & O_DIRECT, iov, iovcnt, off);
  if (r > 0 && use_pos) f->pos = off + static_cast<std::uint64_t>(r);
  if (r >= 0 && write && power.calls && ++counts.calls >= power.calls && !cut_done) cut();
  // O_SYNC / O_DSYNC: each write is an fdatasync of itself.
  if (r > 0 && write && (f->flags & O_DSYNC)) {
    before_fsync(&counts);
    if (const int e = f->m->fsync()) return e;
  }
  return r;
}

IOSTACK_API int64_t iostack_map_lseek(int fd, int64_t offset, int whence) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  if (!f->m) return -EISDIR;
  const auto size = static_cast<std::int64_t>(f->m->size());
  std::int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = static_cast<std::int64_t>(f->pos);
      break;
    case SEEK_END:
      base = size;
      break;
    case SEEK_DATA:  // one extent of data up to the size
      if (offset < 0 || offset >= size) return -ENXIO;
      base = 0;
      break;
    case SEEK_HOLE:
      if (offset < 0 || offset >= size) return -ENXIO;
      base = 0;
      offset = size;
      break;
    default:
      return -EINVAL;
  }
  if (base + offset < 0) return -EINVAL;
  f->pos = static_cast<std::uint64_t>(base + offset);
  return base + offset;
}

IOSTACK_API int iostack_map_fsync(int fd, int /*datasync*/) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  before_fsync(&counts);
  return f->m ? f->m->fsync() : f->dir->fsync();
}

IOSTACK_API int iostack_map_sync_file_range(int fd, int64_t offset, int64_t nbytes,
                                            unsigned flags) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  if (offset < 0 || nbytes < 0 || (flags & ~7u)) return -EINVAL;
  if (!f->m) return 0;
  if (!(flags & 2u /* SYNC_FILE_RANGE_WRITE */)) return 0;
  const std::uint64_t hi = nbytes ? static_cast<std::uint64_t>(offset + nbytes) : UINT64_MAX;
  return f->m->writeback(static_cast<std::uint64_t>(offset), hi);
}

IOSTACK_API int iostack_map_fallocate(int fd, int mode, int64_t offset, int64_t len) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  if (!f->m) return -ENODEV;
  if (offset < 0 || len <= 0) return -EINVAL;
  if ((f->flags & O_ACCMODE) == O_RDONLY) return -EBADF;
  if (mode == 0x01 /* FALLOC_FL_KEEP_SIZE */) return 0;
  if (mode != 0) return -EOPNOTSUPP;
  return f->m->allocate(static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(len));
}

IOSTACK_API int iostack_map_ftruncate(int fd, int64_t length) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (!f) return -EBADF;
  if (!f->m) return -EINVAL;
  if (length < 0) return -EINVAL;
  if ((f->flags & O_ACCMODE) == O_RDONLY) return -EINVAL;
  return f->m->truncate(static_cast<std::uint64_t>(length));
}

IOSTACK_API int64_t iostack_map_size(int fd) {
  std::lock_guard lk(mu);
  OpenFile* f = find_fd(fd);
  if (f && !f->m) return -EISDIR;
  return f ? static_cast<std::int64_t>(f->m->size()) : -EBADF;
}

IOSTACK_API int64_t iostack_map_path_size(int dirfd, const char* path) {
  if ((files.empty() && dirs.empty()) || !in_owner()) return IOSTACK_MAP_NOT_MINE;
  std::lock_guard lk(mu);
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    if (name.empty()) return IOSTACK_MAP_NOT_MINE;
    return d->size_of(name);  // -ENOENT for a stale placeholder
  }
  if (MappedFile* m = find_path(dirfd, path)) return static_cast<std::int64_t>(m->size());
  return IOSTACK_MAP_NOT_MINE;
}

IOSTACK_API int iostack_map_ident(int fd, uint64_t* dev, uint64_t* ino) {
  std::string path;
  {
    std::lock_guard lk(mu);
    OpenFile* f = find_fd(fd);
    if (!f) return -EBADF;
    if (!f->m) return -EISDIR;
    path = f->dir ? std::string() : f->m->path();
  }
  struct stat st;
  const int r = path.empty() ? raw_call(::syscall(SYS_fstat, fd, &st))
                             : raw_call(::syscall(SYS_newfstatat, AT_FDCWD, path.c_str(), &st, 0));
  if (r < 0) return r;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

IOSTACK_API void iostack_map_dup(int oldfd, int newfd) {
  if ((files.empty() && dirs.empty()) || (!is_marked(oldfd) && !is_marked(newfd))) return;
  std::lock_guard lk(mu);
  iostack_map_close(newfd);
  if (OpenFile* f = find_fd(oldfd)) {
    ++f->refs;
    fds[newfd] = f;
    mark(newfd, true);
  }
}

IOSTACK_API void iostack_map_close(int fd) {
  if ((files.empty() && dirs.empty()) || !is_marked(fd)) return;
  std::lock_guard lk(mu);
  auto it = fds.find(fd);
  if (it == fds.end()) return;
  mark(fd, false);
  if (--it->second->refs == 0) {
    if (it->second->dir && it->second->ino) it->second->dir->release(it->second->ino);
    delete it->second;
  }
  fds.erase(it);
}

}  // extern "C"
