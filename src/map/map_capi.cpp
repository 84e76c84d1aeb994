// The C API of include/iostack/map.h: the mapped files and directories of
// this process, the descriptors open on them (each a real open file of the
// path's placeholder, whose position and locks dup and fork share as the
// kernel's struct file's), the owner's service to its children, and the power switch
// of `iostack exec --powercut`.
// One lock serialises the calls on mapped files: the model is of what
// reaches the device, not of concurrency.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "block/plug.hpp"
#include "core/raw_syscall.h"
#include "dev/device.hpp"
#include "dev/target.hpp"
#include "iostack/map.h"
#include "map/map_share.hpp"
#include "map/mapfs.hpp"
#include "map/page_cache.hpp"

namespace iostack::map {
namespace {

struct OpenFile {  // struct file of a mapped path
  MappedFile* m;   // null for a mapped directory itself
  int flags;
  MapDir* dir = nullptr;  // the directory of a file in one, or the directory
  int ino = 0;            // the file's inode in `dir`
  int refs = 1;
  int remote_dir = -1;  // in a child: the owner's directory (or kSingle | file)
  int single = -1;      // a single mapped file's index in `files`
  std::string sub;      // a subdirectory's path from the top of `dir`, for its fsync
  bool held = false;    // in a child: an open the owner counts until its close
};

// A single mapped file's "directory" in a call to the owner: kSingle and
// its index, with inode 1.
constexpr std::uint32_t kSingle = 0x40000000;

// The memory files of MAP_SHARED mappings are named after the file's
// directory (kSingle | index for a single file) and inode, by which msync
// finds the file of an address in /proc/self/maps.
constexpr char kShmPrefix[] = "iostack-shm:";

// When the power goes (IOSTACK_EXEC_POWERCUT): after this many block
// writes, at the entry of this fsync, or this long after the start.
struct Switch {
  std::uint64_t writes = 0, fsync = 0, ms = 0, calls = 0;
};

// Recursive: a power cut saves images with descriptors whose calls come
// back here through the shim.
std::recursive_mutex mu;
// Never freed, nor destroyed at exit: the process may end at any call, and
// calls may come after the static destructors ran.
std::vector<MappedFile*>& files = *new std::vector<MappedFile*>;
std::vector<MapDir*>& dirs = *new std::vector<MapDir*>;
std::unordered_map<int, OpenFile*>& fds = *new std::unordered_map<int, OpenFile*>;
// Which descriptors are mapped, read without the lock: the shim asks on
// every read and write of the process, the engine's own threads included,
// which must never wait for a caller that waits for them.
constexpr int kMarks = 1 << 16;
std::atomic<bool> marked[kMarks];
// A child's own descriptors on the owner's directories, apart from the
// tables it inherited: a vfork child writes into its parent's memory, and
// the owner must never see them.
std::recursive_mutex cmu;
// Null: an inherited one it closed.
std::unordered_map<int, OpenFile*>& cfds = *new std::unordered_map<int, OpenFile*>;
std::atomic<bool> cmarked[kMarks];
bool is_marked(int fd) {
  return fd >= kMarks || (fd >= 0 && (marked[fd].load(std::memory_order_acquire) ||
                                      cmarked[fd].load(std::memory_order_acquire)));
}
IoCounts counts;
Switch power;
bool cut_done = false;
bool exited = false;
// The process the mapping is of, which holds the devices: a forked child
// reaches them through it, as an executed one does (is_client).
pid_t owner = 0;
bool in_owner() { return ::getpid() == owner; }
// The owner's socket for its children (map_share.hpp), and the directories
// it maps, which a child sees through it.
std::string& share_name = *new std::string;
std::vector<std::string>& dir_paths = *new std::vector<std::string>;
// The single mapped files (in the order of `files`), and the names of their
// devices, by which a child knows the descriptors it inherited.
std::vector<std::string>& file_paths = *new std::vector<std::string>;
std::vector<std::string>& file_disks = *new std::vector<std::string>;
bool is_client() { return !share_name.empty() && !in_owner(); }
void mark(int fd, bool on) {
  if (fd >= 0 && fd < kMarks)
    (is_client() ? cmarked : marked)[fd].store(on, std::memory_order_release);
}
// The lock of this process's table: the owner's, or a child's own.
struct TableLock {
  std::unique_lock<std::recursive_mutex> l{is_client() ? cmu : mu};
};

// A fork while another thread (the owner's server, or a program thread)
// holds the lock would leave the child with a lock nobody releases: the
// forking thread takes the locks first and both sides release them.
void fork_prepare() {
  mu.lock();
  cmu.lock();
  share_fork_prepare();
}
void fork_done() {
  share_fork_done();
  cmu.unlock();
  mu.unlock();
}
// A child forked by the owner starts with no descriptors of its own (what
// vfork children of the owner left in its memory is not the child's).
void fork_child() {
  if (::getppid() == owner) {
    for (auto& [fd, f] : cfds) {
      if (fd >= 0 && fd < kMarks) cmarked[fd].store(false, std::memory_order_relaxed);
    }
    cfds.clear();
  } else {
    // A child's child: the opens it inherited stay its parent's to release.
    for (auto& [fd, f] : cfds)
      if (f) f->held = false;
  }
  // Made anew: a recursive mutex knows its owner by thread id, which the
  // child's thread does not have, so it could not unlock them.
  share_fork_child();
  new (&cmu) std::recursive_mutex;
  new (&mu) std::recursive_mutex;
}
void hold_locks_across_fork() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(fork_prepare, fork_done, fork_child); });
}
bool active() { return !files.empty() || !dirs.empty() || !share_name.empty(); }
// The lock a mapped file's engine hooks take where requests are issued.
void lock_files() { mu.lock(); }
void unlock_files() { mu.unlock(); }

// The system call instruction itself, not libc's syscall() or wrappers:
// under `iostack exec` those hand calls on mapped files and paths back
// here (the shim serves them from libc's own code too), and saving an image
// must never go through the shim. -errno on failure.
template <typename T>
long sys_arg(T v) {
  if constexpr (std::is_pointer_v<T>)
    return reinterpret_cast<long>(v);
  else
    return static_cast<long>(v);
}
template <typename... A>
long sys(long nr, A... args) {
  const long v[6] = {sys_arg(args)...};
  return iostack_raw_syscall6(nr, v[0], v[1], v[2], v[3], v[4], v[5]);
}
int raw_open(const char* path, int flags, unsigned mode) {
  return static_cast<int>(sys(SYS_openat, AT_FDCWD, path, flags, mode));
}
void raw_close(int fd) { sys(SYS_close, fd); }
// Creates the empty placeholder `path` if it is missing, without opening
// it: a close of a descriptor of it here would drop this process's POSIX
// locks on it.
void make_placeholder(const std::string& path) {
  sys(SYS_mknodat, AT_FDCWD, path.c_str(), S_IFREG | 0644, 0);
}

// The call's result (already -errno on failure).
int raw_call(long r) { return static_cast<int>(r); }

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
    if (!w.done.load(std::memory_order_acquire)) block::blk_flush_current_plug_before_sleep();
    while (!w.done.load(std::memory_order_acquire)) w.done.wait(0);
    if (w.res < 0) break;
    if (sys(SYS_pwrite64, out, buf, n, off) != static_cast<long>(n)) break;
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
    if (!m->image().empty())
      save_image(durable_device(m->device()), m->image(), m->unlinked() ? 0 : m->durable_size());
  for (MapDir* d : dirs) {
    std::string err;
    if (!d->image().empty() && !d->extract(durable_device(d->device()), d->image(), &err))
      std::fprintf(stderr, "iostack exec: --image %s/: %s\n", d->path().c_str(), err.c_str());
  }
  sys(SYS_kill, ::getpid(), SIGKILL);
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
      if (m->unlinked()) m->clear();  // its name went: nothing is left
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

// A plain absolute path (no empty, "." or ".." component) outside every
// mapped file and directory, told without allocating: libc opens files from
// inside malloc (a heap trim reads /proc/sys/vm/overcommit_memory), and the
// trap brings that open here with malloc's lock held.
bool surely_elsewhere(const char* path) {
  if (!path || path[0] != '/') return false;
  for (const char* p = path; *p; ++p) {
    if (p[0] != '/') continue;
    if (p[1] == '/') return false;
    if (p[1] == '.' && (!p[2] || p[2] == '/' || (p[2] == '.' && (!p[3] || p[3] == '/'))))
      return false;
  }
  const std::size_t n = std::strlen(path);
  const auto at_or_below = [&](const std::string& m) {
    return n >= m.size() && std::memcmp(path, m.data(), m.size()) == 0 &&
           (n == m.size() || path[m.size()] == '/');
  };
  for (const std::string& d : dir_paths)
    if (at_or_below(d)) return false;
  for (const std::string& f : file_paths)
    if (at_or_below(f)) return false;
  return true;
}

// `path` made absolute, with "." components and repeated or trailing
// slashes gone (".." is left as it is: resolve_dotdot).
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

// `abs` (normalized) with its ".." components resolved as the kernel's path
// walk does: the directory before the last component is the one realpath
// finds (each ".." must follow an existing directory, and symbolic links
// are followed first), which a mapped directory's subdirectories are, as
// real directories of placeholders. When that fails (ENOENT, ENOTDIR) the
// path stays as it is, for the real file system to give the same answer.
std::string resolve_dotdot(const std::string& abs) {
  if ((abs + "/").find("/../") == std::string::npos) return abs;
  const std::size_t slash = abs.rfind('/');
  std::string dir = abs.substr(0, slash), last = abs.substr(slash + 1);
  if (last == "..") {
    dir = abs;
    last.clear();
  }
  char buf[PATH_MAX];
  if (!::realpath(dir.empty() ? "/" : dir.c_str(), buf)) return abs;
  std::string out = buf;
  if (!last.empty()) out += (out == "/" ? "" : "/") + last;
  return out;
}

std::string absolute(int dirfd, const char* path) {
  if (path[0] == '/') return resolve_dotdot(normalize(path));
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
  return resolve_dotdot(normalize(base + "/" + path));
}

// A name below a mapped directory without ".." in it (those are left to
// the real file system).
bool plain_name(const std::string& name) {
  return ("/" + name + "/").find("/../") == std::string::npos;
}

// The subdirectory checks of open(2): 0 when `name`, a subdirectory of
// `d`, may be opened with `flags`.
int subdir_open_check(const MapDir* d, const std::string& name, int flags) {
  if (const int e = d->walk(name)) return e;
  if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT)) return -EISDIR;
  return 0;
}

// The mapped directory `path` is below (`name` its path from there: "a",
// "sub/a") or is (`name` empty); null for other paths.
MapDir* find_dir(int dirfd, const char* path, std::string* name) {
  if (dirs.empty() || !path || !*path) return nullptr;
  const std::string abs = absolute(dirfd, path);
  for (MapDir* d : dirs) {
    if (abs == d->path()) {
      name->clear();
      return d;
    }
    if (abs.size() > d->path().size() + 1 && abs.rfind(d->path() + "/", 0) == 0) {
      *name = abs.substr(d->path().size() + 1);
      return plain_name(*name) ? d : nullptr;
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

// The index of the mapped directory `path` is in (`name` its name there)
// or is (`name` empty); -1 for other paths. Works in children too.
int find_dir_index(int dirfd, const char* path, std::string* name, std::string* abs_out) {
  if (dir_paths.empty() || !path || !*path) return -1;
  const std::string abs = absolute(dirfd, path);
  *abs_out = abs;
  for (std::size_t i = 0; i < dir_paths.size(); ++i) {
    const std::string& d = dir_paths[i];
    if (abs == d) {
      name->clear();
      return static_cast<int>(i);
    }
    if (abs.size() > d.size() + 1 && abs.rfind(d + "/", 0) == 0) {
      *name = abs.substr(d.size() + 1);
      return plain_name(*name) ? static_cast<int>(i) : -1;
    }
  }
  return -1;
}

// The index of the single mapped file `path` names, or -1. Works in
// children too.
int find_file_index(int dirfd, const char* path, std::string* abs_out) {
  if (file_paths.empty() || !path || !*path) return -1;
  *abs_out = absolute(dirfd, path);
  for (std::size_t i = 0; i < file_paths.size(); ++i)
    if (file_paths[i] == *abs_out) return static_cast<int>(i);
  return -1;
}

OpenFile* find_fd(int fd) {
  if (is_client()) {
    auto c = cfds.find(fd);
    if (c != cfds.end()) return c->second;
    // Inherited from the owner by fork.
    auto it = fds.find(fd);
    return it != fds.end() && (it->second->dir || it->second->single >= 0) ? it->second : nullptr;
  }
  auto it = fds.find(fd);
  return it == fds.end() ? nullptr : it->second;
}

// A new descriptor of this process.
void put_fd(int fd, OpenFile* f) {
  (is_client() ? cfds : fds)[fd] = f;
  mark(fd, true);
}

}  // namespace

namespace {

// open(2) of a single mapped file's path, in the owner: O_TRUNC, and after
// its unlink a new file (O_CREAT) or ENOENT. 0 or -errno.
int single_open(MappedFile* m, int flags) {
  if (m->unlinked()) {
    if (!(flags & O_CREAT)) return -ENOENT;
    m->clear();
    m->set_unlinked(false);
    return 0;
  }
  if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;  // it exists
  if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) return m->truncate(0);
  return 0;
}

}  // namespace

void after_write(IoCounts* c) {
  ++c->writes;
  if (power.writes && c->writes >= power.writes && !cut_done) cut();
}

void after_write_call(IoCounts* c) {
  ++c->calls;
  if (power.calls && c->calls >= power.calls && !cut_done) cut();
}

bool count_engine_write(IoCounts* c) {
  if (!cut_done && ((power.calls && c->calls + 1 >= power.calls) ||
                    (power.writes && c->writes + 1 >= power.writes)))
    return true;
  ++c->calls;
  ++c->writes;
  return false;
}

void before_fsync(IoCounts* c) {
  ++c->fsyncs;
  if (power.fsync && c->fsyncs >= power.fsync && !cut_done) cut();
}

}  // namespace iostack::map

extern "C" {
IOSTACK_API int iostack_map_unlink(int dirfd, const char* path);
IOSTACK_API int iostack_map_rename(int olddirfd, const char* oldpath, int newdirfd,
                                   const char* newpath, unsigned flags);
IOSTACK_API int64_t iostack_map_path_size(int dirfd, const char* path);
IOSTACK_API int iostack_map_mkdir(int dirfd, const char* path, unsigned mode);
IOSTACK_API int iostack_map_rmdir(int dirfd, const char* path);
}

namespace iostack::map {
namespace {

// The opens of the owner's directories' files that each child's connection
// holds (directory index, inode): a child's close releases one, the end of
// its connection (exit, exec, death) the rest, as the kernel closes a
// process's files when it goes. Under `mu`.
std::unordered_map<std::uint64_t, std::vector<std::pair<std::uint32_t, std::uint32_t>>>& holds =
    *new std::unordered_map<std::uint64_t, std::vector<std::pair<std::uint32_t, std::uint32_t>>>;

// A close of a child's open on connection `conn`: 0, or -EBADF when it
// holds no such open.
int release_held(std::uint64_t conn, std::uint32_t dir, std::uint32_t ino) {
  auto it = holds.find(conn);
  if (it == holds.end()) return -EBADF;
  auto& v = it->second;
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (v[k].first != dir || v[k].second != ino) continue;
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(k));
    if (dir < dirs.size()) dirs[dir]->release(static_cast<int>(ino));
    return 0;
  }
  return -EBADF;
}

void release_connection(std::uint64_t conn) {
  std::lock_guard lk(mu);
  auto it = holds.find(conn);
  if (it == holds.end()) return;
  for (const auto& [dir, ino] : it->second)
    if (dir < dirs.size()) dirs[dir]->release(static_cast<int>(ino));
  holds.erase(it);
}

// kRw's flags.
constexpr int kRwWrite = 1;
constexpr int kRwDirect = 2;
constexpr int kRwAppend = 4;  // a write at the end of the file; aux: where that was

// One call on a mapped directory or single file, in the owner (its own, or
// a child's through the socket): `buf` holds the data a kRw writes or gets what it
// reads (at most rq.b bytes); `aux` a second result.
std::int64_t dir_op(const ShareRequest& rq, const std::string& p1, const std::string& p2, char* buf,
                    std::int64_t* aux, std::uint64_t conn) {
  std::lock_guard lk(mu);
  switch (rq.op) {
    case ShareOp::kRelease:
      return release_held(conn, rq.dir, rq.ino);
    case ShareOp::kOpen:
    case ShareOp::kLookup: {
      if (rq.op == ShareOp::kOpen && (rq.dir & kSingle)) {
        const std::uint32_t i = rq.dir & ~kSingle;
        return i < files.size() ? single_open(files[i], rq.flags) : -EBADF;
      }
      std::string name;
      MapDir* d = find_dir(AT_FDCWD, p1.c_str(), &name);
      if (!d || name.empty()) return -EINVAL;
      const std::int64_t didx = std::find(dirs.begin(), dirs.end(), d) - dirs.begin();
      // A subdirectory is inode 0.
      if (d->kind(name) == 1) {
        if (rq.op == ShareOp::kOpen)
          if (const int e = subdir_open_check(d, name, rq.flags)) return e;
        return didx << 32;
      }
      MappedFile* m = nullptr;
      if (rq.op == ShareOp::kLookup) {
        const int ino = d->ino_of(name);
        if (ino < 0) return ino;
        // An inherited descriptor an executed child found: held as its own.
        if ((rq.flags & 1) && conn && d->open(name, O_RDONLY, &m) == ino)
          holds[conn].push_back(
              {static_cast<std::uint32_t>(didx), static_cast<std::uint32_t>(ino)});
        return (didx << 32) | ino;
      }
      const int ino = d->open(name, rq.flags, &m);
      if (ino < 0) return ino;
      // A child's open counts until it closes it or its process ends.
      if (conn)
        holds[conn].push_back({static_cast<std::uint32_t>(didx), static_cast<std::uint32_t>(ino)});
      else
        d->release(ino);
      make_placeholder(d->path() + "/" + name);
      return (didx << 32) | ino;
    }
    case ShareOp::kUnlink:
      return iostack_map_unlink(AT_FDCWD, p1.c_str());
    case ShareOp::kMkdir:
      return iostack_map_mkdir(AT_FDCWD, p1.c_str(), static_cast<unsigned>(rq.flags));
    case ShareOp::kRmdir:
      return iostack_map_rmdir(AT_FDCWD, p1.c_str());
    case ShareOp::kRename:
      return iostack_map_rename(AT_FDCWD, p1.c_str(), AT_FDCWD, p2.c_str(),
                                static_cast<unsigned>(rq.flags));
    case ShareOp::kPathSize:
      return iostack_map_path_size(AT_FDCWD, p1.c_str());
    default:
      break;
  }
  MappedFile* m = nullptr;
  if (rq.dir & kSingle) {
    const std::uint32_t i = rq.dir & ~kSingle;
    if (i >= files.size()) return -EBADF;
    m = files[i];
  } else {
    if (rq.dir >= dirs.size()) return -EBADF;
    MapDir* d = dirs[rq.dir];
    if (rq.op == ShareOp::kFsync && rq.ino == 0) {
      before_fsync(&counts);
      return d->fsync(&p1);  // the directory p1 ("" the top)
    }
    m = d->file(rq.ino);
  }
  if (!m) return -EBADF;
  switch (rq.op) {
    case ShareOp::kRw: {
      struct iovec v {
        buf, static_cast<std::size_t>(rq.b)
      };
      const bool write = rq.flags & kRwWrite;
      // The end is found under the lock the write holds: appends never overlap.
      const std::uint64_t at =
          write && (rq.flags & kRwAppend) ? m->size() : static_cast<std::uint64_t>(rq.a);
      if (aux) *aux = static_cast<std::int64_t>(at);
      const long r = m->rw(write, rq.flags & kRwDirect, &v, 1, at);
      if (r >= 0 && write) after_write_call(&counts);
      return r;
    }
    case ShareOp::kFsync:  // b > 0: msync(MS_SYNC) of [a, b)
      before_fsync(&counts);
      return rq.b > 0 ? m->fsync(static_cast<std::uint64_t>(rq.a), static_cast<std::uint64_t>(rq.b))
                      : m->fsync();
    case ShareOp::kSize:
      return static_cast<std::int64_t>(m->size());
    case ShareOp::kTruncate:
      return m->truncate(static_cast<std::uint64_t>(rq.a));
    case ShareOp::kAllocate:
      return m->allocate(static_cast<std::uint64_t>(rq.a), static_cast<std::uint64_t>(rq.b));
    case ShareOp::kWriteback:
      return m->writeback(static_cast<std::uint64_t>(rq.a), static_cast<std::uint64_t>(rq.b));
    case ShareOp::kShare:
      // Named so that msync finds the file of an address in /proc/self/maps.
      m->set_share_name(std::string(kShmPrefix) + std::to_string(rq.dir) + ":" +
                        std::to_string(rq.ino));
      return m->share(static_cast<std::uint64_t>(rq.a), static_cast<std::uint64_t>(rq.b));
    default:
      return -EINVAL;
  }
}

// A call on a mapped directory from wherever this process is: in place in
// the owner, through the socket in a child (which dies with the owner, as
// a power cut would have it).
std::int64_t dir_call(ShareOp op, std::uint32_t dir, std::uint32_t ino, std::int64_t a,
                      std::int64_t b, int flags, const std::string& p1 = {},
                      const std::string& p2 = {}, char* buf = nullptr,
                      std::int64_t* aux = nullptr) {
  ShareRequest rq{op, flags, dir, ino, a, b};
  if (!is_client()) return dir_op(rq, p1, p2, buf, aux, 0);
  const std::int64_t r = share_call(share_name, rq, p1, p2, buf, buf, aux);
  if (r == -ENOTCONN) {
    sys(SYS_kill, ::getpid(), SIGKILL);
    for (;;) pause();
  }
  return r;
}

// The directory (kSingle and its index for a single mapped file) and inode
// an open file names, in the owner or a child.
bool dir_target(const OpenFile* f, std::uint32_t* dir, std::uint32_t* ino) {
  if (f->remote_dir >= 0) {
    *dir = static_cast<std::uint32_t>(f->remote_dir);
  } else if (f->dir) {
    *dir = static_cast<std::uint32_t>(std::find(dirs.begin(), dirs.end(), f->dir) - dirs.begin());
  } else if (f->single >= 0) {
    *dir = kSingle | static_cast<std::uint32_t>(f->single);
  } else {
    return false;
  }
  *ino = static_cast<std::uint32_t>(f->ino);
  return true;
}

// The file position of a directory's file: the real open file's, which
// dup and fork share as they share the kernel's.
std::int64_t real_pos(int fd) { return sys(SYS_lseek, fd, 0, SEEK_CUR); }
void set_real_pos(int fd, std::uint64_t pos) { sys(SYS_lseek, fd, pos, SEEK_SET); }

// read/write on a directory's file: in pieces of at most 1 MiB (a child's
// go through the socket), at `offset` or the file position.
long dir_rw(int fd, const OpenFile* f, std::uint32_t dir, std::uint32_t ino, bool write,
            const struct iovec* iov, int iovcnt, std::int64_t offset) {
  const int acc = f->flags & O_ACCMODE;
  if (write ? acc == O_RDONLY : acc == O_WRONLY) return -EBADF;
  if (iovcnt < 0 || iovcnt > 1024) return -EINVAL;
  const bool use_pos = offset < 0;
  std::int64_t off = use_pos ? real_pos(fd) : offset;
  if (off < 0) return off;
  // O_APPEND: the first piece goes to the end of the file, the rest after it.
  bool append = write && (f->flags & O_APPEND);
  constexpr std::size_t kPiece = 1 << 20;
  std::string piece;
  long done = 0;
  for (int i = 0; i < iovcnt; ++i) {
    for (std::size_t at = 0; at < iov[i].iov_len;) {
      const std::size_t n = std::min(kPiece, iov[i].iov_len - at);
      char* p = static_cast<char*>(iov[i].iov_base) + at;
      // The owner copies straight to or from the caller's memory; a child's
      // data crosses the socket from a buffer.
      const bool copy = is_client();
      if (copy) piece.assign(n, '\0');
      if (copy && write) std::memcpy(piece.data(), p, n);
      const int how = (write ? kRwWrite : 0) | ((f->flags & O_DIRECT) ? kRwDirect : 0) |
                      (append ? kRwAppend : 0);
      std::int64_t went = off;
      const std::int64_t r =
          dir_call(ShareOp::kRw, dir, ino, off + done, static_cast<std::int64_t>(n), how, {}, {},
                   copy ? piece.data() : p, &went);
      if (append && r >= 0) off = went;
      append = false;
      if (r < 0) {
        if (done) goto out;
        return static_cast<long>(r);
      }
      if (copy && !write) std::memcpy(p, piece.data(), static_cast<std::size_t>(r));
      done += r;
      at += static_cast<std::size_t>(r);
      if (static_cast<std::size_t>(r) < n) goto out;
    }
  }
out:
  if (use_pos && done > 0) set_real_pos(fd, static_cast<std::uint64_t>(off + done));
  if (done > 0 && write && (f->flags & O_DSYNC)) {
    const std::int64_t e = dir_call(ShareOp::kFsync, dir, ino, 0, 0, 0);
    if (e < 0) return static_cast<long>(e);
  }
  return done;
}

// The io_uring and AIO requests of a child of the program on a mapped
// file: each one call to the owner (key: directory << 32 | inode), direct
// or buffered I/O of the file there as the descriptor's O_DIRECT says, in
// pieces of at most 1 MiB (the socket's).
long remote_rw(std::uint64_t key, bool write, bool direct, const struct iovec* iov, int iovcnt,
               std::int64_t* pos) {
  const auto dir = static_cast<std::uint32_t>(key >> 32);
  const auto ino = static_cast<std::uint32_t>(key);
  constexpr std::size_t kPiece = 1 << 20;
  thread_local std::string piece;  // kept: no allocation per request
  long done = 0;
  for (int i = 0; i < iovcnt; ++i) {
    for (std::size_t at = 0; at < iov[i].iov_len;) {
      const std::size_t n = std::min(kPiece, iov[i].iov_len - at);
      char* p = static_cast<char*>(iov[i].iov_base) + at;
      piece.resize(n);
      if (write) std::memcpy(piece.data(), p, n);
      // A write at the end (*pos -1) goes there as one piece, the rest after it.
      const bool append = *pos < 0;
      std::int64_t went = *pos;
      const std::int64_t r =
          dir_call(ShareOp::kRw, dir, ino, *pos + done, static_cast<std::int64_t>(n),
                   (write ? kRwWrite : 0) | (direct ? kRwDirect : 0) | (append ? kRwAppend : 0), {},
                   {}, piece.data(), &went);
      if (append && r >= 0) *pos = went;
      if (r < 0) return done ? done : static_cast<long>(r);
      if (!write) std::memcpy(p, piece.data(), static_cast<std::size_t>(r));
      done += r;
      at += static_cast<std::size_t>(r);
      if (static_cast<std::size_t>(r) < n) return done;
    }
  }
  return done;
}

int remote_fsync(std::uint64_t key) {
  return static_cast<int>(dir_call(ShareOp::kFsync, static_cast<std::uint32_t>(key >> 32),
                                   static_cast<std::uint32_t>(key), 0, 0, 0));
}

const block::BdevRemote kRemote{remote_rw, remote_fsync};

std::uint64_t remote_key(std::uint32_t dir, std::uint32_t ino) {
  return (std::uint64_t{dir} << 32) | ino;
}

// A child's new descriptor of a mapped file: its engines' requests go to
// the owner (the placeholder holds nothing).
void client_attach(int fd, const OpenFile* f) {
  std::uint32_t dir, ino;
  if (!dir_target(f, &dir, &ino) || !ino) return;
  block::bdev_file_attach_remote(fd,
                                 f->flags & (O_ACCMODE | O_DIRECT | O_DSYNC | O_APPEND | O_CLOEXEC),
                                 &kRemote, remote_key(dir, ino));
}

// The open file of a mapped file (not a directory) `fd` names, and where
// its calls go: null after *err is set.
OpenFile* file_of(int fd, std::uint32_t* dir, std::uint32_t* ino, int* err) {
  OpenFile* f = find_fd(fd);
  if (!f || !dir_target(f, dir, ino)) {
    *err = -EBADF;
    return nullptr;
  }
  if (!*ino) {
    *err = -EISDIR;
    return nullptr;
  }
  return f;
}

}  // namespace
}  // namespace iostack::map

namespace iostack::map {
namespace {

// Unlinks the empty regular files under the real directory of `d` that it
// does not name, and the subdirectories it does not name once they are
// empty (anything else is left alone). `sub`: the path from the top.
void remove_stale_placeholders(const MapDir* d, const std::string& sub) {
  const std::string real = sub.empty() ? d->path() : d->path() + "/" + sub;
  DIR* dp = ::opendir(real.c_str());
  if (!dp) return;
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(dp)) {
    const std::string n = e->d_name, name = sub.empty() ? n : sub + "/" + n;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (sys(SYS_newfstatat, ::dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const int kind = d->kind(name);
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(name);
    } else if (kind != 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
      sys(SYS_unlinkat, ::dirfd(dp), e->d_name, 0);
    }
  }
  ::closedir(dp);
  for (const std::string& name : subdirs) {
    remove_stale_placeholders(d, name);
    if (d->kind(name) != 1)
      sys(SYS_unlinkat, AT_FDCWD, (d->path() + "/" + name).c_str(), AT_REMOVEDIR);
  }
}

// The flags of the real open of a mapped file's placeholder: the program's
// access mode, so that the kernel's lock rules (a write lock needs a
// writable descriptor) and F_GETFL see it, and O_APPEND for an executed
// child that inherits it.
int placeholder_flags(int flags) { return (flags & (O_ACCMODE | O_CLOEXEC | O_APPEND)) | O_CREAT; }

// A program executed by a mapped one (or by its children): its mapped
// directories and files are the owner's, reached through
// IOSTACK_EXEC_MAP_SHARE ("SOCKET\nDIR...\nFDISK\tFILE..."); the descriptors
// it inherited on them are found by name. 1 when there are some, else 0.
int start_client() {
  const char* env = std::getenv("IOSTACK_EXEC_MAP_SHARE");
  if (!env || !*env) return 0;
  std::lock_guard lk(cmu);
  std::string all = env;
  std::size_t at = all.find('\n');
  share_name = all.substr(0, at);
  while (at != std::string::npos) {
    const std::size_t next = all.find('\n', at + 1);
    const std::string line = all.substr(at + 1, next == std::string::npos ? next : next - at - 1);
    const std::size_t tab = line.find('\t');
    if (line.rfind('F', 0) == 0 && tab != std::string::npos) {
      file_disks.push_back(line.substr(1, tab - 1));
      file_paths.push_back(line.substr(tab + 1));
    } else {
      dir_paths.push_back(line);
    }
    at = next;
  }
  if (share_name.empty() || (dir_paths.empty() && file_paths.empty())) return 0;
  hold_locks_across_fork();
  for (int fd = 0; fd < 1024; ++fd) {
    char link[64], buf[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const long n = sys(SYS_readlink, link, buf, sizeof buf - 1);
    if (n <= 0 || buf[0] != '/') continue;
    buf[n] = 0;
    const long fl = sys(SYS_fcntl, fd, F_GETFL);
    std::string name, abs;
    if (const int i = find_file_index(AT_FDCWD, buf, &abs); i >= 0) {
      auto* f = new OpenFile{nullptr, static_cast<int>(fl < 0 ? O_RDWR : fl), nullptr, 1};
      f->remote_dir = static_cast<int>(kSingle | static_cast<std::uint32_t>(i));
      put_fd(fd, f);
      client_attach(fd, f);
      continue;
    }
    const int d = find_dir_index(AT_FDCWD, buf, &name, &abs);
    if (d < 0) continue;
    int ino = 0;
    if (!name.empty()) {
      const std::int64_t r = dir_call(ShareOp::kLookup, 0, 0, 0, 0, 1, abs);
      if (r < 0) continue;
      ino = static_cast<int>(r & 0xffffffff);
    }
    auto* f = new OpenFile{nullptr, static_cast<int>(fl < 0 ? O_RDWR : fl), nullptr, ino};
    f->remote_dir = d;
    f->held = ino != 0;
    if (ino == 0) f->sub = name;
    put_fd(fd, f);
    client_attach(fd, f);
  }
  return 1;
}

}  // namespace
}  // namespace iostack::map

using namespace iostack::map;

extern "C" {

IOSTACK_API int iostack_map_init(void) {
  const char* env = std::getenv("IOSTACK_EXEC_MAP");
  if (!env || !*env) return start_client();
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
      // Its files exist on the real file system too, empty, for stat()
      // and readdir, and only they: the empty placeholders of names an
      // earlier run left that this device does not hold go.
      for (const std::string& n : d->names()) {  // parents first
        const std::string real = d->path() + "/" + n;
        if (d->kind(n) == 1) {
          sys(SYS_mkdirat, AT_FDCWD, real.c_str(), 0755);
          continue;
        }
        make_placeholder(real);
      }
      remove_stale_placeholders(d, "");
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
  if (!dirs.empty() || !files.empty()) {
    // The directories and files are served to the children, forked or
    // executed.
    for (MapDir* d : dirs) dir_paths.push_back(d->path());
    for (MappedFile* m : files) {
      file_paths.push_back(m->path());
      file_disks.push_back(m->disk()->name());
    }
    share_name = share_listen(
        [](const ShareRequest& rq, const std::string& p1, const std::string& p2, std::string* out,
           std::int64_t* aux, std::uint64_t conn) {
          const bool rw = rq.op == ShareOp::kRw, write = rw && (rq.flags & kRwWrite);
          if (!rw) return dir_op(rq, p1, p2, nullptr, nullptr, conn);
          // A child's O_DIRECT data is in a buffer aligned here: its
          // offset and length are checked, not its own memory's alignment.
          const std::size_t n = static_cast<std::size_t>(std::max<std::int64_t>(rq.b, 0));
          void* mem = std::aligned_alloc(4096, (n + 4095) / 4096 * 4096 + 4096);
          if (!mem) return std::int64_t{-ENOMEM};
          char* data = static_cast<char*>(mem);
          if (write) std::memcpy(data, p2.data(), std::min(n, p2.size()));
          const std::int64_t r = dir_op(rq, p1, p2, data, aux, conn);
          if (!write && r > 0) out->assign(data, static_cast<std::size_t>(r));
          std::free(mem);
          return r;
        },
        release_connection);
    std::string env_share = share_name;
    for (const std::string& d : dir_paths) env_share += "\n" + d;
    for (std::size_t i = 0; i < file_paths.size(); ++i)
      env_share += "\nF" + file_disks[i] + "\t" + file_paths[i];
    if (!share_name.empty()) setenv("IOSTACK_EXEC_MAP_SHARE", env_share.c_str(), 1);
    hold_locks_across_fork();
  }
  if (power.ms) {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(power.ms));
      cut();
    }).detach();
  }
  return files.empty() && dirs.empty() ? 0 : 1;
}

IOSTACK_API int iostack_map_open(int dirfd, const char* path, int flags, unsigned mode) {
  if (surely_elsewhere(path)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    TableLock lk;
    std::string name, abs;
    if (const int i = find_file_index(dirfd, path, &abs); i >= 0) {
      // A single file: the owner opens it (O_TRUNC, a new file after its
      // unlink); the descriptor is its placeholder's, whose position and
      // locks are the open file's.
      const std::uint32_t dir = kSingle | static_cast<std::uint32_t>(i);
      if (const auto e = dir_call(ShareOp::kOpen, dir, 1, 0, 0, flags)) return static_cast<int>(e);
      const int fd =
          raw_call(sys(SYS_openat, AT_FDCWD, file_paths[static_cast<std::size_t>(i)].c_str(),
                       placeholder_flags(flags), 0644));
      if (fd < 0) return fd;
      auto* f = new OpenFile{nullptr, flags, nullptr, 1};
      f->remote_dir = static_cast<int>(dir);
      put_fd(fd, f);
      client_attach(fd, f);
      return fd;
    }
    const int d = find_dir_index(dirfd, path, &name, &abs);
    if (d < 0) return IOSTACK_MAP_NOT_MINE;
    int ino = 0;
    const std::string real = name.empty() ? dir_paths[static_cast<std::size_t>(d)] : abs;
    if (!name.empty()) {
      const std::int64_t r = dir_call(ShareOp::kOpen, 0, 0, 0, 0, flags, abs);
      if (r < 0) return static_cast<int>(r);
      ino = static_cast<int>(r & 0xffffffff);
    }
    // The top or a subdirectory (inode 0) opens as it is.
    const int real_flags = ino == 0 ? flags : placeholder_flags(flags);
    const int fd = raw_call(sys(SYS_openat, AT_FDCWD, real.c_str(), real_flags, 0644));
    if (fd < 0) {
      if (ino) dir_call(ShareOp::kRelease, static_cast<std::uint32_t>(d), ino, 0, 0, 0);
      return fd;
    }
    auto* f = new OpenFile{nullptr, flags, nullptr, ino};
    f->remote_dir = d;
    f->held = ino != 0;
    if (ino == 0) f->sub = name;
    put_fd(fd, f);
    client_attach(fd, f);
    return fd;
  }
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    // The directory itself or a subdirectory, for its fsync (readdir is
    // the real one's, whose names are the placeholders).
    if (name.empty() || d->kind(name) == 1) {
      if (!name.empty())
        if (const int e = subdir_open_check(d, name, flags)) return e;
      const std::string real = name.empty() ? d->path() : d->path() + "/" + name;
      const int fd = raw_call(sys(SYS_openat, AT_FDCWD, real.c_str(), flags, mode));
      if (fd < 0) return fd;
      auto* f = new OpenFile{nullptr, flags, d};
      f->sub = name;
      put_fd(fd, f);
      return fd;
    }
    MappedFile* m = nullptr;
    const int ino = d->open(name, flags, &m);
    if (ino < 0) return ino;
    // The descriptor is the real placeholder's: its inode is one per file
    // for fstat, and POSIX and OFD locks and flock on it are the kernel's.
    const int fd = raw_call(sys(SYS_openat, AT_FDCWD, (d->path() + "/" + name).c_str(),
                                placeholder_flags(flags), 0644));
    if (fd < 0) {
      d->release(ino);
      return fd;
    }
    put_fd(fd, new OpenFile{m, flags, d, ino});
    // io_uring and AIO on it reach the file's extent of the device, as
    // direct I/O of the file (as on a single file); a forked child's
    // through this process.
    m->set_child_remote(
        &kRemote, remote_key(static_cast<std::uint32_t>(std::find(dirs.begin(), dirs.end(), d) -
                                                        dirs.begin()),
                             static_cast<std::uint32_t>(ino)));
    iostack::block::bdev_file_attach(
        fd, d->device()->disk(),
        (flags & O_ACCMODE) | (flags & (O_DIRECT | O_DSYNC | O_APPEND | O_CLOEXEC)), m->base(),
        m->capacity(), m->bdev_inode(lock_files, unlock_files));
    return fd;
  }
  MappedFile* m = find_path(dirfd, path);
  if (!m) return IOSTACK_MAP_NOT_MINE;
  const int acc = flags & O_ACCMODE;
  if (const int e = single_open(m, flags)) return e;
  // The descriptor is the placeholder's, as in a mapped directory: fstat,
  // POSIX and OFD locks and flock see one inode and behave as the kernel's
  // (a close of any descriptor of it drops the process's POSIX locks), and
  // io_uring and AIO on it are direct I/O of the file on the whole device:
  // coherent with the page cache, reads end at the file's size, writes
  // extend it, fsync is the file's.
  const int fd =
      raw_call(sys(SYS_openat, AT_FDCWD, m->path().c_str(), placeholder_flags(flags), 0644));
  if (fd < 0) return fd;
  const int single = static_cast<int>(std::find(files.begin(), files.end(), m) - files.begin());
  m->set_child_remote(&kRemote, remote_key(kSingle | static_cast<std::uint32_t>(single), 1));
  if (const int e = iostack::block::bdev_file_attach(
          fd, m->disk(), acc | (flags & (O_DIRECT | O_DSYNC | O_APPEND | O_CLOEXEC)), 0, 0,
          m->bdev_inode(lock_files, unlock_files))) {
    raw_close(fd);
    return e;
  }
  // Inode 1 of "directory" kSingle | index: children reach it as they reach
  // a directory's files, and its position is the placeholder's, which fork shares.
  auto* f = new OpenFile{m, flags, nullptr, 1};
  f->single = single;
  put_fd(fd, f);
  return fd;
}

IOSTACK_API int iostack_map_unlink(int dirfd, const char* path) {
  if (surely_elsewhere(path)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    std::string name, abs;
    if (find_file_index(dirfd, path, &abs) < 0 &&
        (find_dir_index(dirfd, path, &name, &abs) < 0 || name.empty()))
      return IOSTACK_MAP_NOT_MINE;
    return static_cast<int>(dir_call(ShareOp::kUnlink, 0, 0, 0, 0, 0, abs));
  }
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    if (name.empty()) return IOSTACK_MAP_NOT_MINE;
    if (const int e = d->unlink(name)) return e;
    sys(SYS_unlinkat, AT_FDCWD, (d->path() + "/" + name).c_str(), 0);
    return 0;
  }
  MappedFile* m = find_path(dirfd, path);
  if (!m) return IOSTACK_MAP_NOT_MINE;
  // The name goes; the descriptors and mappings still open keep the data.
  if (m->unlinked()) return -ENOENT;
  m->set_unlinked(true);
  return 0;
}

IOSTACK_API int iostack_map_mkdir(int dirfd, const char* path, unsigned mode) {
  if (surely_elsewhere(path)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    std::string name, abs;
    if (find_dir_index(dirfd, path, &name, &abs) < 0) return IOSTACK_MAP_NOT_MINE;
    if (name.empty()) return -EEXIST;
    return static_cast<int>(dir_call(ShareOp::kMkdir, 0, 0, 0, 0, static_cast<int>(mode), abs));
  }
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string name;
  MapDir* d = find_dir(dirfd, path, &name);
  if (!d) return IOSTACK_MAP_NOT_MINE;
  if (name.empty()) return -EEXIST;
  if (const int e = d->mkdir(name)) return e;
  // Its placeholder: a real directory, for stat, readdir and the files' placeholders.
  sys(SYS_mkdirat, AT_FDCWD, (d->path() + "/" + name).c_str(), mode & 07777);
  return 0;
}

IOSTACK_API int iostack_map_rmdir(int dirfd, const char* path) {
  if (surely_elsewhere(path)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    std::string name, abs;
    if (find_dir_index(dirfd, path, &name, &abs) < 0) return IOSTACK_MAP_NOT_MINE;
    if (name.empty()) return -EBUSY;
    return static_cast<int>(dir_call(ShareOp::kRmdir, 0, 0, 0, 0, 0, abs));
  }
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string name;
  MapDir* d = find_dir(dirfd, path, &name);
  if (!d) return IOSTACK_MAP_NOT_MINE;
  if (name.empty()) return -EBUSY;  // as a mount point
  if (const int e = d->rmdir(name)) return e;
  sys(SYS_unlinkat, AT_FDCWD, (d->path() + "/" + name).c_str(), AT_REMOVEDIR);
  return 0;
}

IOSTACK_API int iostack_map_rename(int olddirfd, const char* oldpath, int newdirfd,
                                   const char* newpath, unsigned flags) {
  if (surely_elsewhere(oldpath) && surely_elsewhere(newpath)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    std::string n1, a1, n2, a2;
    const int d1 = find_dir_index(olddirfd, oldpath, &n1, &a1);
    const int d2 = find_dir_index(newdirfd, newpath, &n2, &a2);
    if (d1 < 0 && d2 < 0) return IOSTACK_MAP_NOT_MINE;
    if (d1 != d2) return -EXDEV;
    return static_cast<int>(
        dir_call(ShareOp::kRename, 0, 0, 0, 0, static_cast<int>(flags), a1, a2));
  }
  if (!in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string from, to;
  MapDir* a = find_dir(olddirfd, oldpath, &from);
  MapDir* b = find_dir(newdirfd, newpath, &to);
  if (!a && !b) return IOSTACK_MAP_NOT_MINE;
  if (a != b) return -EXDEV;
  if (from.empty() || to.empty()) return -EBUSY;  // the mapped directory itself
  if (const int e = a->rename(from, to, flags)) return e;
  sys(SYS_renameat2, AT_FDCWD, (a->path() + "/" + from).c_str(), AT_FDCWD,
      (a->path() + "/" + to).c_str(), 0);
  return 0;
}

IOSTACK_API int iostack_map_fd(int fd) {
  if (!active() || !is_marked(fd)) return 0;
  TableLock lk;
  const OpenFile* f = find_fd(fd);
  std::uint32_t dir, ino;
  if (!f || !dir_target(f, &dir, &ino)) return 0;
  if (!in_owner() && !is_client()) return 0;
  return ino ? 1 : 2;
}

IOSTACK_API ssize_t iostack_map_rw(int fd, int write, const struct iovec* iov, int iovcnt,
                                   int64_t offset) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  OpenFile* f = file_of(fd, &dir, &ino, &err);
  if (!f) return err;
  return dir_rw(fd, f, dir, ino, write, iov, iovcnt, offset);
}

IOSTACK_API int64_t iostack_map_lseek(int fd, int64_t offset, int whence) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  OpenFile* f = file_of(fd, &dir, &ino, &err);
  if (!f) return err;
  std::int64_t size = 0;
  if (whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE) {
    size = dir_call(ShareOp::kSize, dir, ino, 0, 0, 0);
    if (size < 0) return size;
  }
  std::int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = real_pos(fd);
      if (base < 0) return base;
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
  set_real_pos(fd, static_cast<std::uint64_t>(base + offset));
  return base + offset;
}

IOSTACK_API int iostack_map_fsync(int fd, int /*datasync*/) {
  TableLock lk;
  OpenFile* f = find_fd(fd);
  std::uint32_t dir, ino;
  if (!f || !dir_target(f, &dir, &ino)) return -EBADF;
  return static_cast<int>(dir_call(ShareOp::kFsync, dir, ino, 0, 0, 0, f->sub));
}

IOSTACK_API int iostack_map_sync_file_range(int fd, int64_t offset, int64_t nbytes,
                                            unsigned flags) {
  TableLock lk;
  OpenFile* f = find_fd(fd);
  std::uint32_t dir, ino;
  if (!f || !dir_target(f, &dir, &ino)) return -EBADF;
  if (offset < 0 || nbytes < 0 || (flags & ~7u)) return -EINVAL;
  if (!(flags & 2u /* SYNC_FILE_RANGE_WRITE */) || !ino) return 0;
  const std::uint64_t hi = nbytes ? static_cast<std::uint64_t>(offset + nbytes) : UINT64_MAX;
  return static_cast<int>(
      dir_call(ShareOp::kWriteback, dir, ino, offset, static_cast<std::int64_t>(hi), 0));
}

IOSTACK_API int iostack_map_fallocate(int fd, int mode, int64_t offset, int64_t len) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  OpenFile* f = file_of(fd, &dir, &ino, &err);
  if (!f) return err == -EISDIR ? -ENODEV : err;
  if (offset < 0 || len <= 0) return -EINVAL;
  if ((f->flags & O_ACCMODE) == O_RDONLY) return -EBADF;
  if (mode == 0x01 /* FALLOC_FL_KEEP_SIZE */) return 0;
  if (mode != 0) return -EOPNOTSUPP;
  return static_cast<int>(dir_call(ShareOp::kAllocate, dir, ino, offset, len, 0));
}

IOSTACK_API int iostack_map_ftruncate(int fd, int64_t length) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  OpenFile* f = file_of(fd, &dir, &ino, &err);
  if (!f) return err == -EISDIR ? -EINVAL : err;
  if (length < 0) return -EINVAL;
  if ((f->flags & O_ACCMODE) == O_RDONLY) return -EINVAL;
  return static_cast<int>(dir_call(ShareOp::kTruncate, dir, ino, length, 0, 0));
}

IOSTACK_API int64_t iostack_map_size(int fd) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  if (!file_of(fd, &dir, &ino, &err)) return err;
  return dir_call(ShareOp::kSize, dir, ino, 0, 0, 0);
}

IOSTACK_API int64_t iostack_map_path_size(int dirfd, const char* path) {
  if (surely_elsewhere(path)) return IOSTACK_MAP_NOT_MINE;
  if (is_client()) {
    std::string name, abs;
    if (find_file_index(dirfd, path, &abs) < 0 &&
        (find_dir_index(dirfd, path, &name, &abs) < 0 || name.empty()))
      return IOSTACK_MAP_NOT_MINE;
    return dir_call(ShareOp::kPathSize, 0, 0, 0, 0, 0, abs);
  }
  if ((files.empty() && dirs.empty()) || !in_owner()) return IOSTACK_MAP_NOT_MINE;
  TableLock lk;
  std::string name;
  if (MapDir* d = find_dir(dirfd, path, &name)) {
    if (name.empty()) return IOSTACK_MAP_NOT_MINE;
    return d->size_of(name);  // -ENOENT for a stale placeholder
  }
  if (MappedFile* m = find_path(dirfd, path))
    return m->unlinked() ? -ENOENT : static_cast<std::int64_t>(m->size());
  return IOSTACK_MAP_NOT_MINE;
}

IOSTACK_API int iostack_map_ident(int fd, uint64_t* dev, uint64_t* ino) {
  {
    TableLock lk;
    std::uint32_t dir, i;
    int err;
    if (!file_of(fd, &dir, &i, &err)) return err;
  }
  // Every descriptor of a mapped file is its placeholder's.
  struct stat st;
  const int r = raw_call(sys(SYS_fstat, fd, &st));
  if (r < 0) return r;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

IOSTACK_API void iostack_map_dup(int oldfd, int newfd) {
  if (!active() || (!is_marked(oldfd) && !is_marked(newfd))) return;
  TableLock lk;
  iostack_map_close(newfd);
  OpenFile* f = find_fd(oldfd);
  if (!f) return;
  if (is_client()) {
    // Its own open file is shared, with the open the owner counts for it.
    auto own = cfds.find(oldfd);
    if (own != cfds.end() && own->second) {
      ++f->refs;
      put_fd(newfd, f);
      return;
    }
    // An inherited one: a copy of its own (the position is the real open
    // file's anyway).
    std::uint32_t dir, ino;
    if (!dir_target(f, &dir, &ino)) return;
    auto* copy = new OpenFile{nullptr, f->flags, nullptr, static_cast<int>(ino)};
    copy->remote_dir = static_cast<int>(dir);
    copy->sub = f->sub;
    put_fd(newfd, copy);
    client_attach(newfd, copy);
    return;
  }
  ++f->refs;
  put_fd(newfd, f);
}

IOSTACK_API void iostack_map_close(int fd) {
  if (!active() || !is_marked(fd)) return;
  TableLock lk;
  if (is_client()) {
    auto c = cfds.find(fd);
    if (c != cfds.end()) {
      OpenFile* f = c->second;
      cfds.erase(c);
      if (f && --f->refs == 0) {
        std::uint32_t dir, ino;
        if (f->held && dir_target(f, &dir, &ino)) dir_call(ShareOp::kRelease, dir, ino, 0, 0, 0);
        delete f;
      }
    }
    // An inherited one stays in the owner's table: it is closed here.
    if (fds.count(fd)) cfds[fd] = nullptr;
    cmarked[fd].store(fds.count(fd) != 0, std::memory_order_release);
    return;
  }
  auto it = fds.find(fd);
  if (it == fds.end()) return;
  mark(fd, false);
  if (--it->second->refs == 0) {
    if (it->second->dir && it->second->ino && in_owner()) it->second->dir->release(it->second->ino);
    delete it->second;
  }
  fds.erase(it);
}

IOSTACK_API int iostack_map_mmap(int fd, int64_t offset, uint64_t len, int prot, int* owned) {
  TableLock lk;
  std::uint32_t dir, ino;
  int err;
  OpenFile* f = file_of(fd, &dir, &ino, &err);
  if (!f) return err == -EISDIR ? -ENODEV : err;
  // do_mmap's checks against the open file's mode (O_APPEND is no bar: the
  // kernel refuses only append-only inodes).
  const int acc = f->flags & O_ACCMODE;
  if (acc == O_WRONLY) return -EACCES;
  if ((prot & PROT_WRITE) && acc != O_RDWR) return -EACCES;
  if (offset < 0 || (offset & 4095) || !len) return -EINVAL;
  if (!in_owner() && !is_client()) return -ENODEV;
  // A child gets a descriptor of its own of the owner's memory file.
  *owned = is_client();
  return static_cast<int>(
      dir_call(ShareOp::kShare, dir, ino, offset, static_cast<std::int64_t>(len), 0));
}

IOSTACK_API int iostack_map_msync(void* addr, size_t len, int flags) {
  if (!active() || !(flags & MS_SYNC)) return 0;  // MS_ASYNC: the kernel's no-op since 2.6.19
  const int mfd = raw_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
  if (mfd < 0) return 0;
  std::string maps;
  char buf[8192];
  for (long n; (n = sys(SYS_read, mfd, buf, sizeof buf)) > 0;)
    maps.append(buf, static_cast<std::size_t>(n));
  raw_close(mfd);
  const auto lo_addr = reinterpret_cast<std::uint64_t>(addr);
  const std::uint64_t hi_addr = lo_addr + len;
  int ret = 0;
  std::size_t at = 0;
  while (at < maps.size()) {
    std::size_t nl = maps.find('\n', at);
    if (nl == std::string::npos) nl = maps.size();
    const std::string line = maps.substr(at, nl - at);
    at = nl + 1;
    unsigned long long start, end, pgoff;
    char perms[8];
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &pgoff,
                    &path_at) < 4 ||
        !path_at)
      continue;
    const std::string path = line.substr(static_cast<std::size_t>(path_at));
    const std::string want = std::string("/memfd:") + kShmPrefix;
    if (path.rfind(want, 0) != 0 || end <= lo_addr || start >= hi_addr) continue;
    if (perms[3] != 's') continue;  // a private mapping's stores are its own
    unsigned dir = 0, ino = 0;
    if (std::sscanf(path.c_str() + want.size(), "%u:%u", &dir, &ino) != 2 || !ino) continue;
    const std::uint64_t from = std::max<std::uint64_t>(start, lo_addr);
    const std::uint64_t to = std::min<std::uint64_t>(end, hi_addr);
    const std::int64_t flo = static_cast<std::int64_t>(pgoff + (from - start));
    const std::int64_t fhi = flo + static_cast<std::int64_t>(to - from);
    TableLock lk;
    const std::int64_t r = dir_call(ShareOp::kFsync, dir, ino, flo, fhi, 0);
    if (r < 0 && !ret) ret = static_cast<int>(r);
  }
  return ret;
}

}  // extern "C"
