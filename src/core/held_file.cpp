// Held files (see held_file.hpp): one private descriptor per program
// descriptor of a regular file, kept in the process's table of held files and
// checked against the program's descriptor at each use; a descriptor of its
// own per hold for everything else.
#include "core/held_file.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "core/fd_high.hpp"
#include "core/fd_mode_cache.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "core/raw_syscall.h"

namespace iostack::core {
namespace {

// Private descriptors kept in tables of held files: at most a quarter of the
// descriptor limit, the rest of which is the program's.
std::atomic<int> g_kept{0};
// Bumped by each reported F_SETFL: flags a HeldFile learned under another
// value are learned again.
std::atomic<std::uint32_t> g_flags_gen{0};

int kept_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<int>(rl.rlim_cur / 4);
}

// The open file behind a private descriptor, and what identifies it for a
// program descriptor that claims to name it (when kcmp() is refused).
class HeldFile final : public File {
 public:
  // A descriptor per hold.
  explicit HeldFile(int fd) : File(&kOps), fd_(fd), dev_(0), ino_(0), flags_(0), kept_(false) {}
  // One kept in the table for the program's descriptor of the file `st`.
  HeldFile(int fd, const struct stat& st, int flags)
      : File(&kOps), fd_(fd), dev_(st.st_dev), ino_(st.st_ino), flags_(flags), kept_(true) {
    g_kept.fetch_add(1, std::memory_order_relaxed);
  }

  int fd() const { return fd_.load(std::memory_order_relaxed); }
  // The program closed our descriptor itself (close_range over it): its
  // number may name another file by now and must not be closed again.
  void forget_fd() { fd_.store(-1, std::memory_order_relaxed); }
  bool same_as(const struct stat& st, int flags) const {
    return st.st_dev == dev_ && st.st_ino == ino_ && flags == flags_;
  }
  // The open flags (F_GETFL of the private descriptor), learned once per
  // g_flags_gen value; -errno if they cannot be.
  int flags_now() {
    const std::uint32_t gen = g_flags_gen.load(std::memory_order_acquire);
    const std::uint64_t v = cached_flags_.load(std::memory_order_relaxed);
    if ((v & kFlagsKnown) && static_cast<std::uint32_t>(v >> 32) == gen)
      return static_cast<int>(v & ~kFlagsKnown & 0xffffffffu);
    const int fl = ::fcntl(fd(), F_GETFL);
    if (fl < 0) return -errno;
    cached_flags_.store(
        (static_cast<std::uint64_t>(gen) << 32) | kFlagsKnown | static_cast<std::uint32_t>(fl),
        std::memory_order_relaxed);
    return fl;
  }
  // In a forked child: the copy the child's table of held files made of
  // this (the parent's) object, or null.
  HeldFile* forked() const { return forked_; }

 private:
  static void release(File* f) {
    auto* h = static_cast<HeldFile*>(f);
    if (h->kept_) g_kept.fetch_sub(1, std::memory_order_relaxed);
    if (const int fd = h->fd(); fd >= 0) {
      fd_mode_forget(fd);                                  // the number may name another file next
      iostack_raw_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);  // not reported as the program's
    }
    delete h;
  }
  // fork() copied the descriptor into the child, which now owns it.
  static File* fork_child(File* f) {
    auto* h = static_cast<HeldFile*>(f);
    if (h->fd() < 0) return nullptr;
    h->forked_ = new HeldFile(*h);  // counted already: the parent's copy never goes here
    return h->forked_;
  }
  static constexpr FileOps kOps = {"held file", release, fork_child};

  // Open flags never have bit 31 set: it marks cached_flags_ as filled.
  static constexpr std::uint64_t kFlagsKnown = 1u << 31;

  std::atomic<int> fd_;
  // g_flags_gen in the high half, kFlagsKnown | the flags in the low one.
  std::atomic<std::uint64_t> cached_flags_{0};
  const dev_t dev_;
  const ino_t ino_;
  const int flags_;
  const bool kept_;
  HeldFile* forked_ = nullptr;

  HeldFile(const HeldFile& parent)
      : File(&kOps),
        fd_(parent.fd()),
        dev_(parent.dev_),
        ino_(parent.ino_),
        flags_(parent.flags_),
        kept_(parent.kept_) {}
};

std::atomic<bool> g_tracking{false};
// kcmp(KCMP_FILE) answers "same open file?" in one call; container
// profiles without CAP_SYS_PTRACE refuse it, and then fstat+F_GETFL do.
std::atomic<bool> g_kcmp_refused{false};

// Per process (a forked child starts unlocked): misses take it, so that no
// two private descriptors of one program descriptor are made and one closed
// (which would drop the program's locks).
struct HeldFileMisses {
  Mutex lock;
};

HeldFile* as_held(File* f) { return static_cast<HeldFile*>(f); }

bool still_names(int fd, const HeldFile* h) {
  if (!g_kcmp_refused.load(std::memory_order_relaxed)) {
    const long self = current_pid();
    const long r = iostack_raw_syscall6(SYS_kcmp, self, self, KCMP_FILE, fd, h->fd(), 0);
    if (r >= 0) return r == 0;
    if (r == -EBADF) return false;
    g_kcmp_refused.store(true, std::memory_order_relaxed);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return h->same_as(st, ::fcntl(fd, F_GETFL));
}

// A private descriptor of `fd` owned by the reference returned, kept in the
// table when it names a regular file and closes are reported.
int make_held(int fd, bool keep, FileRef* out) {
  const int dup = dup_high_raw(fd);
  if (dup < 0) return dup;
  struct stat st;
  if (!keep || g_kept.load(std::memory_order_relaxed) >= kept_limit() || ::fstat(dup, &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    *out = FileRef(new HeldFile(dup));
    return 0;
  }
  auto* h = new HeldFile(dup, st, ::fcntl(dup, F_GETFL));
  h->get();  // the table's
  Process::current().held_files().install(fd, h);
  *out = FileRef(h);
  return 0;
}

}  // namespace

int file_hold(int fd, FileRef* out) {
  if (fd < 0) return -EBADF;
  // Pipes and sockets are not kept (a reader would miss the EOF of a close
  // iostack did not see), nor looked up: an event loop arms polls by the
  // thousand.
  if (!g_tracking.load(std::memory_order_acquire) || !fd_is_regular_file(fd))
    return make_held(fd, false, out);
  FdTable& table = Process::current().held_files();
  if (FileRef h = table.get(fd); h && still_names(fd, as_held(h.get()))) {
    *out = std::move(h);
    return 0;
  }
  auto& misses = Process::current().state<HeldFileMisses>();
  LockGuard guard(misses.lock);
  FileRef h = table.get(fd);
  if (h && still_names(fd, as_held(h.get()))) {
    *out = std::move(h);
    return 0;
  }
  // Closed and reused behind iostack's back (fclose() closes without the
  // shim): the stale private descriptor goes when its last hold does.
  if (h) table.remove_if(fd, h.get());
  const int r = make_held(fd, true, out);
  // A close reported while the copy was made may have come before it was
  // kept: checked again now that a later close finds it.
  if (r == 0 && !still_names(fd, as_held(out->get()))) table.remove_if(fd, out->get());
  return r;
}

bool held_file_lookup(int fd, FileRef* out, int* flags) {
  if (fd < 0 || !g_tracking.load(std::memory_order_acquire) ||
      g_kcmp_refused.load(std::memory_order_relaxed))
    return false;
  FileRef h = Process::current().held_files().get(fd);
  if (!h || !still_names(fd, as_held(h.get()))) return false;
  const int fl = as_held(h.get())->flags_now();
  if (fl < 0) return false;
  *flags = fl;
  *out = std::move(h);
  return true;
}

void held_files_flags_changed() { g_flags_gen.fetch_add(1, std::memory_order_acq_rel); }

FileRef held_file_adopt(int private_fd) {
  if (private_fd < 0) return {};
  return FileRef(new HeldFile(private_fd));
}

FileRef held_file_after_fork(const FileRef& parent_held) {
  if (!parent_held) return {};
  auto* h = as_held(parent_held.get());
  if (HeldFile* child = h->forked()) {
    child->get();
    return FileRef(child);
  }
  return held_file_adopt(h->fd());
}

int held_fd(const FileRef& held) { return held ? as_held(held.get())->fd() : -1; }

void held_files_track(bool on) {
  g_tracking.store(on, std::memory_order_release);
  if (on) return;
  FdTable& table = Process::current().held_files();
  table.for_each([&](int fd, File* f) { table.remove_if(fd, f); });
}

void held_files_without_kcmp(bool on) { g_kcmp_refused.store(on, std::memory_order_relaxed); }

void held_files_closed(int fd) { Process::current().held_files().remove(fd); }

void held_files_closed_range(unsigned first, unsigned last) {
  Process& p = Process::current();
  auto in_range = [&](int fd) {
    return fd >= 0 && static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last;
  };
  p.held_files().for_each([&](int fd, File* f) {
    auto* h = as_held(f);
    if (in_range(h->fd())) h->forget_fd();
    if (in_range(fd) || h->fd() < 0) p.held_files().remove_if(fd, f);
  });
}

}  // namespace iostack::core
