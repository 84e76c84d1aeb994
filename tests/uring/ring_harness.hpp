// Test harness: the same ring code driven either by the kernel's io_uring
// (raw system calls) or by iostack's, so tests can run one sequence on both
// and compare what comes back.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "iostack/uring.h"

namespace uring_test {

struct Backend {
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int setup(unsigned entries, io_uring_params* p) = 0;
  virtual int enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                    const void* arg, size_t argsz) = 0;
  virtual int reg(int fd, unsigned op, void* arg, unsigned nr) = 0;
  virtual void* map(int fd, off_t off, size_t len) = 0;  // null on failure
  virtual void unmap(void* p, size_t len) { munmap(p, len); }
  virtual int close_ring(int fd) = 0;
  // After the test's own write to a polled file: the kernel handles the
  // wakeups inside the write; under `iostack exec` the interposed write
  // hands them to iostack (iostack_io_uring_run_wakeups).
  virtual void wrote() {}
  // The program's own epoll_ctl and epoll_wait; under `iostack exec` the
  // interposed calls give rings in an epoll instance io_uring_poll's mask.
  virtual int epoll_ctl(int ep, int op, int fd, epoll_event* ev) {
    return ::epoll_ctl(ep, op, fd, ev) == 0 ? 0 : -errno;
  }
  virtual int epoll_wait(int ep, epoll_event* ev, int max) {
    const int n = ::epoll_wait(ep, ev, max, 0);
    return n < 0 ? -errno : n;
  }
};

struct KernelBackend : Backend {
  const char* name() const override { return "kernel"; }
  int setup(unsigned entries, io_uring_params* p) override {
    long r = syscall(__NR_io_uring_setup, entries, p);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  int enter(int fd, unsigned s, unsigned m, unsigned f, const void* a, size_t sz) override {
    long r = syscall(__NR_io_uring_enter, fd, s, m, f, a, sz);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  int reg(int fd, unsigned op, void* arg, unsigned nr) override {
    long r = syscall(__NR_io_uring_register, fd, op, arg, nr);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  void* map(int fd, off_t off, size_t len) override {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);
    return p == MAP_FAILED ? nullptr : p;
  }
  int close_ring(int fd) override { return ::close(fd) == 0 ? 0 : -errno; }
};

struct IostackBackend : Backend {
  const char* name() const override { return "iostack"; }
  int setup(unsigned entries, io_uring_params* p) override {
    return iostack_io_uring_setup(entries, p);
  }
  int enter(int fd, unsigned s, unsigned m, unsigned f, const void* a, size_t sz) override {
    return iostack_io_uring_enter(fd, s, m, f, a, sz);
  }
  int reg(int fd, unsigned op, void* arg, unsigned nr) override {
    return iostack_io_uring_register(fd, op, arg, nr);
  }
  void* map(int fd, off_t off, size_t len) override {
    void* p = iostack_io_uring_mmap(fd, off, len);
    return IOSTACK_URING_IS_ERR(p) ? nullptr : p;
  }
  void unmap(void* p, size_t len) override { iostack_io_uring_munmap(p, len); }
  int close_ring(int fd) override { return iostack_io_uring_close(fd); }
  void wrote() override { iostack_io_uring_run_wakeups(); }
  int epoll_ctl(int ep, int op, int fd, epoll_event* ev) override {
    const int r = Backend::epoll_ctl(ep, op, fd, ev);
    if (r == 0) iostack_epoll_ctl_done(ep, op, fd, ev);
    return r;
  }
  int epoll_wait(int ep, epoll_event* ev, int max) override {
    static const struct timespec kNow = {0, 0};
    return iostack_epoll_pwait2(ep, ev, max, &kNow, nullptr);
  }
};

// Whether this process may use the kernel's io_uring at all.
inline bool kernel_uring_available(std::string* why) {
  io_uring_params p{};
  long r = syscall(__NR_io_uring_setup, 2, &p);
  if (r < 0) {
    *why = std::string("kernel io_uring_setup refused: ") + strerror(errno);
    return false;
  }
  ::close(static_cast<int>(r));
  return true;
}

#define SKIP_WITHOUT_KERNEL_URING()                                       \
  do {                                                                    \
    std::string why_;                                                     \
    if (!uring_test::kernel_uring_available(&why_)) GTEST_SKIP() << why_; \
  } while (0)

struct Cqe {
  std::uint64_t user_data;
  std::int32_t res;
  std::uint32_t flags;
  bool operator==(const Cqe& o) const {
    return user_data == o.user_data && res == o.res && flags == o.flags;
  }
};
inline std::ostream& operator<<(std::ostream& os, const Cqe& c) {
  return os << "{ud=" << c.user_data << " res=" << c.res << " flags=" << c.flags << "}";
}

// A mapped ring, as liburing would set it up.
class Ring {
 public:
  explicit Ring(Backend* b) : b_(b) {}
  ~Ring() { exit(); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  int init(unsigned entries, io_uring_params params = {}) {
    p_ = params;
    const int fd = b_->setup(entries, &p_);
    if (fd < 0) return fd;
    fd_ = fd;
    ring_sz_ = std::max(p_.sq_off.array + p_.sq_entries * 4u,
                        p_.cq_off.cqes + (p_.cq_entries << cqe_shift()) * 16u);
    ring_ = static_cast<char*>(b_->map(fd_, IORING_OFF_SQ_RING, ring_sz_));
    sqes_sz_ = (p_.sq_entries << sqe_shift()) * sizeof(io_uring_sqe);
    sqes_ = static_cast<io_uring_sqe*>(b_->map(fd_, IORING_OFF_SQES, sqes_sz_));
    if (!ring_ || !sqes_) return -ENOMEM;
    sqe_tail_ = sq_tail();
    return fd_;
  }

  // IORING_SETUP_NO_MMAP: the rings at `rings`, the SQEs at `sqes` (memory
  // the caller owns and keeps). The ring fd, or -errno.
  int init_mem(unsigned entries, io_uring_params params, void* sqes, void* rings) {
    p_ = params;
    p_.flags |= 1u << 14;  // IORING_SETUP_NO_MMAP
    p_.sq_off.resv2 = reinterpret_cast<std::uintptr_t>(sqes);
    p_.cq_off.resv2 = reinterpret_cast<std::uintptr_t>(rings);
    const int fd = b_->setup(entries, &p_);
    if (fd < 0) return fd;
    fd_ = fd;
    user_mem_ = true;
    ring_ = static_cast<char*>(rings);
    sqes_ = static_cast<io_uring_sqe*>(sqes);
    sqe_tail_ = sq_tail();
    return fd_;
  }

  // After IORING_REGISTER_RESIZE_RINGS returned `np`: maps the new rings
  // (or, with NO_MMAP, takes them at `sqes` and `rings`). The old mapping
  // of the rings is given back to the caller (who unmaps ring_bytes() of
  // it), or unmapped with `keep_old` false; the old SQEs are unmapped.
  char* remap(const io_uring_params& np, bool keep_old, void* sqes = nullptr,
              void* rings = nullptr) {
    char* old = ring_;
    const std::size_t old_sz = ring_sz_;
    if (sqes_ && !user_mem_) b_->unmap(sqes_, sqes_sz_);
    p_ = np;
    if (user_mem_) {
      ring_ = static_cast<char*>(rings);
      sqes_ = static_cast<io_uring_sqe*>(sqes);
    } else {
      ring_sz_ = std::max(p_.sq_off.array + p_.sq_entries * 4u,
                          p_.cq_off.cqes + (p_.cq_entries << cqe_shift()) * 16u);
      ring_ = static_cast<char*>(b_->map(fd_, IORING_OFF_SQ_RING, ring_sz_));
      sqes_sz_ = (p_.sq_entries << sqe_shift()) * sizeof(io_uring_sqe);
      sqes_ = static_cast<io_uring_sqe*>(b_->map(fd_, IORING_OFF_SQES, sqes_sz_));
    }
    old_ring_sz_ = old_sz;
    if (!keep_old && !user_mem_ && old) {
      b_->unmap(old, old_sz);
      old = nullptr;
    }
    return old;
  }
  std::size_t old_ring_bytes() const { return old_ring_sz_; }
  // close(2) of the descriptor alone, the mappings kept (a program that
  // closes its ring fd first and goes on reaping). 0 or -errno.
  int close_fd() {
    const int r = b_->close_ring(fd_);
    fd_ = -1;
    return r;
  }
  // munmap of the SQE array, of the rings (SQ and CQ: one mapping).
  void unmap_sqes() {
    if (sqes_ && !user_mem_) b_->unmap(sqes_, sqes_sz_);
    sqes_ = nullptr;
  }
  void unmap_rings() {
    if (ring_ && !user_mem_) b_->unmap(ring_, ring_sz_);
    ring_ = nullptr;
  }
  void forget_sqes() { sqes_ = nullptr; }  // the caller unmapped them
  io_uring_sqe* sqes() const { return sqes_; }
  std::size_t sqes_bytes() const { return sqes_sz_; }
  bool mapped() const { return ring_ && sqes_; }

  void exit() {
    if (user_mem_) ring_ = nullptr, sqes_ = nullptr;
    if (ring_) b_->unmap(ring_, ring_sz_);
    if (sqes_) b_->unmap(sqes_, sqes_sz_);
    ring_ = nullptr;
    sqes_ = nullptr;
    if (fd_ >= 0) b_->close_ring(fd_);
    fd_ = -1;
  }

  // IORING_SETUP_SQE128 and IORING_SETUP_CQE32: entry i is at i << shift.
  unsigned sqe_shift() const { return (p_.flags & IORING_SETUP_SQE128) ? 1 : 0; }
  unsigned cqe_shift() const { return (p_.flags & IORING_SETUP_CQE32) ? 1 : 0; }

  int fd() const { return fd_; }
  const io_uring_params& params() const { return p_; }
  Backend* backend() const { return b_; }

  std::uint32_t& u32(std::uint32_t off) { return *reinterpret_cast<std::uint32_t*>(ring_ + off); }
  std::uint32_t load(std::uint32_t off) {
    return std::atomic_ref<std::uint32_t>(u32(off)).load(std::memory_order_acquire);
  }
  void store(std::uint32_t off, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(u32(off)).store(v, std::memory_order_release);
  }
  std::uint32_t sq_tail() { return load(p_.sq_off.tail); }
  std::uint32_t sq_flags() { return load(p_.sq_off.flags); }
  std::uint32_t sq_dropped() { return load(p_.sq_off.dropped); }
  std::uint32_t cq_overflow() { return load(p_.cq_off.overflow); }
  std::uint32_t& cq_flags() { return u32(p_.cq_off.flags); }
  std::uint32_t* sq_array() { return &u32(p_.sq_off.array); }

  // Next SQE, zeroed, its index placed in the SQ array.
  io_uring_sqe* sqe() {
    const std::uint32_t head = load(p_.sq_off.head);
    if (sqe_tail_ - head >= p_.sq_entries) return nullptr;
    const std::uint32_t idx = sqe_tail_ & (p_.sq_entries - 1);
    io_uring_sqe* s = &sqes_[idx << sqe_shift()];
    std::memset(s, 0, sizeof(*s) << sqe_shift());
    if (!(p_.flags & (1u << 16))) sq_array()[idx] = idx;  // no IORING_SETUP_NO_SQARRAY
    sqe_tail_++;
    return s;
  }
  // Publishes the SQEs taken so far.
  unsigned flush() {
    const std::uint32_t tail = sq_tail();
    store(p_.sq_off.tail, sqe_tail_);
    return sqe_tail_ - tail;
  }
  // Publishes without touching the SQ array (for tests that write it).
  void set_tail(std::uint32_t t) {
    sqe_tail_ = t;
    store(p_.sq_off.tail, t);
  }
  io_uring_sqe* sqe_at(unsigned idx) { return &sqes_[idx << sqe_shift()]; }

  int enter(unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg = nullptr,
            size_t argsz = 0) {
    return b_->enter(fd_, to_submit, min_complete, flags, arg, argsz);
  }
  int submit(unsigned wait_nr = 0) {
    const unsigned n = flush();
    return enter(n, wait_nr, wait_nr ? IORING_ENTER_GETEVENTS : 0, nullptr, 8);
  }
  int reg(unsigned op, void* arg, unsigned nr) { return b_->reg(fd_, op, arg, nr); }

  unsigned cq_ready() { return load(p_.cq_off.tail) - load(p_.cq_off.head); }
  // big: a CQE32 ring's big_cqe[0] and [1].
  bool peek(Cqe* out, std::uint64_t* big = nullptr) {
    const std::uint32_t head = load(p_.cq_off.head);
    if (head == load(p_.cq_off.tail)) return false;
    const auto* c = reinterpret_cast<const io_uring_cqe*>(ring_ + p_.cq_off.cqes) +
                    ((head & (p_.cq_entries - 1)) << cqe_shift());
    *out = Cqe{c->user_data, c->res, c->flags};
    if (big) {
      big[0] = cqe_shift() ? c->big_cqe[0] : 0;
      big[1] = cqe_shift() ? c->big_cqe[1] : 0;
    }
    store(p_.cq_off.head, head + 1);
    return true;
  }
  std::vector<Cqe> reap() {
    std::vector<Cqe> v;
    Cqe c;
    while (peek(&c)) v.push_back(c);
    return v;
  }
  // Waits until `n` CQEs have been reaped (or an error / `timeout_ms`).
  std::vector<Cqe> wait(unsigned n, int timeout_ms = 5000) {
    std::vector<Cqe> v;
    while (v.size() < n) {
      Cqe c;
      if (peek(&c)) {
        v.push_back(c);
        continue;
      }
      __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
      io_uring_getevents_arg arg{};
      arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
      const int r = enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
      if (r < 0 && r != -EINTR) break;
    }
    return v;
  }

 private:
  Backend* b_;
  int fd_ = -1;
  io_uring_params p_{};
  char* ring_ = nullptr;
  std::size_t ring_sz_ = 0;
  std::size_t old_ring_sz_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  std::size_t sqes_sz_ = 0;
  bool user_mem_ = false;
  std::uint32_t sqe_tail_ = 0;
};

// SQE builders (what liburing's io_uring_prep_* do).
inline void prep(io_uring_sqe* s, std::uint8_t op, int fd, const void* addr, unsigned len,
                 std::uint64_t off, std::uint64_t ud) {
  s->opcode = op;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uintptr_t>(addr);
  s->len = len;
  s->off = off;
  s->user_data = ud;
}

// The next SQE of `r`, prepared as prep() does and with `flags` set.
template <typename Ring>
io_uring_sqe* add(Ring& r, std::uint8_t op, int fd, const void* addr, unsigned len,
                  std::uint64_t off, std::uint64_t ud, std::uint8_t flags) {
  io_uring_sqe* s = r.sqe();
  prep(s, op, fd, addr, len, off, ud);
  s->flags = flags;
  return s;
}

// Where two long CQE lists part (gtest prints only their first 32 entries).
inline std::string first_difference(const std::vector<Cqe>& k, const std::vector<Cqe>& o) {
  std::size_t i = 0;
  while (i < k.size() && i < o.size() && k[i] == o[i]) ++i;
  if (i == k.size() && i == o.size()) return {};
  std::ostringstream os;
  os << "; first difference at entry " << i << ": kernel ";
  if (i < k.size())
    os << k[i];
  else
    os << "(end)";
  os << ", iostack ";
  if (i < o.size())
    os << o[i];
  else
    os << "(end)";
  return os.str();
}

// Runs `seq` on a fresh ring of the kernel's and then of iostack's, with
// the same setup, and expects the same CQEs (in the order `seq` returns).
// A sequence whose kernel answer has a rare second outcome when the machine
// is loaded (its io-wq racing the sequence) names the usual one: `settled`;
// the kernel's run is repeated, up to five times, until it accepts it.
inline void compare_with_settled_kernel(const std::function<std::vector<Cqe>(Ring&)>& seq,
                                        unsigned entries,
                                        const std::function<bool(const std::vector<Cqe>&)>& settled,
                                        io_uring_params params = {}) {
  KernelBackend kb;
  IostackBackend ib;
  std::vector<Cqe> k, o;
  for (int tries = 0; tries < 5 && (tries == 0 || !settled(k)); ++tries) {
    Ring r(&kb);
    ASSERT_GE(r.init(entries, params), 0);
    k = seq(r);
  }
  Ring r(&ib);
  ASSERT_GE(r.init(entries, params), 0);
  o = seq(r);
  EXPECT_EQ(k, o) << "kernel CQEs vs iostack CQEs" << first_difference(k, o);
}

inline void compare_with_kernel(const std::function<std::vector<Cqe>(Ring&)>& seq, unsigned entries,
                                io_uring_params params = {}) {
  compare_with_settled_kernel(
      seq, entries, [](const std::vector<Cqe>&) { return true; }, params);
}

// compare_with_kernel on rings made with IORING_SETUP_SUBMIT_ALL.
inline void compare_submit_all(const std::function<std::vector<Cqe>(Ring&)>& seq,
                               unsigned entries = 16) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  compare_with_kernel(seq, entries, params);
}

// Submits the `n` SQEs prepared and waits for `cqes` CQEs (default: one each).
inline std::vector<Cqe> submit_wait(Ring& r, unsigned n, unsigned cqes = 0) {
  EXPECT_EQ(static_cast<int>(n), r.submit(0));
  return r.wait(cqes ? cqes : n);
}

inline void append(std::vector<Cqe>* out, const std::vector<Cqe>& c) {
  out->insert(out->end(), c.begin(), c.end());
}

// For requests that may finish in any order.
inline void sort_by_user_data(std::vector<Cqe>* c) {
  std::sort(c->begin(), c->end(),
            [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
}

// Runs `body` in a forked child and returns its exit status, 128 + the
// signal that ended it, or -1 when it hung (SIGALRM after `seconds`).
template <class Fn>
int in_child(Fn body, unsigned seconds = 20) {
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(seconds);
    _exit(body());
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) return -2;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WTERMSIG(status) == SIGALRM ? -1 : 128 + WTERMSIG(status);
}

// Page-aligned anonymous memory, zeroed.
struct Pages {
  char* p = nullptr;
  std::size_t len;
  explicit Pages(std::size_t n, int prot = PROT_READ | PROT_WRITE) : len(n * 4096) {
    void* m = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p = m == MAP_FAILED ? nullptr : static_cast<char*>(m);
  }
  ~Pages() {
    if (p) munmap(p, len);
  }
};

}  // namespace uring_test
