// Runs an io_uring fuzz program in the current (child) process, on the
// kernel's io_uring (raw system calls) or on iostack's (its C API), and
// writes the canonical log: setup and register results, every
// io_uring_enter return value, the CQEs sorted by user_data (arrival order
// kept among CQEs of one request), ring counters and the world's final state.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>

#include "iostack/uring.h"
#include "uring_prog.hpp"

namespace fuzz {

namespace {

constexpr std::uint64_t kFinalCancelUd = 0xCA7CA7;

struct Backend {
  bool kernel;
  int setup(unsigned entries, io_uring_params* p) const {
    if (!kernel) return iostack_io_uring_setup(entries, p);
    const long r = syscall(__NR_io_uring_setup, entries, p);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  int enter(int fd, unsigned s, unsigned m, unsigned f, const void* a, std::size_t sz) const {
    if (!kernel) return iostack_io_uring_enter(fd, s, m, f, a, sz);
    const long r = syscall(__NR_io_uring_enter, fd, s, m, f, a, sz);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  int reg(int fd, unsigned op, void* arg, unsigned nr) const {
    if (!kernel) return iostack_io_uring_register(fd, op, arg, nr);
    const long r = syscall(__NR_io_uring_register, fd, op, arg, nr);
    return r < 0 ? -errno : static_cast<int>(r);
  }
  void* map(int fd, off_t off, std::size_t len) const {
    if (!kernel) {
      void* p = iostack_io_uring_mmap(fd, off, len);
      return IOSTACK_URING_IS_ERR(p) ? nullptr : p;
    }
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);
    return p == MAP_FAILED ? nullptr : p;
  }
  // After the program's own write to a pipe or an eventfd: the kernel runs
  // the wakeups it caused before write() returns; under `iostack exec` the
  // interposed write() hands them to iostack the same way.
  void wrote() const {
    if (!kernel) iostack_io_uring_run_wakeups();
  }
};

struct Cqe {
  std::uint64_t ud;
  std::int32_t res;
  std::uint32_t flags;
  std::uint64_t big[2];  // a CQE32 ring's extra words
};

class Ring {
 public:
  Ring(const Backend& b) : b_(b) {}
  int init(unsigned entries, unsigned flags) {
    p_ = {};
    p_.flags = flags;
    const int fd = b_.setup(entries, &p_);
    if (fd < 0) return fd;
    fd_ = fd;
    sqe_shift_ = (p_.flags & IORING_SETUP_SQE128) ? 1 : 0;
    cqe_shift_ = (p_.flags & IORING_SETUP_CQE32) ? 1 : 0;
    const std::size_t ring_sz = std::max(p_.sq_off.array + p_.sq_entries * 4u,
                                         p_.cq_off.cqes + (p_.cq_entries << cqe_shift_) * 16u);
    ring_ = static_cast<char*>(b_.map(fd_, IORING_OFF_SQ_RING, ring_sz));
    sqes_ = static_cast<io_uring_sqe*>(
        b_.map(fd_, IORING_OFF_SQES, (p_.sq_entries << sqe_shift_) * sizeof(io_uring_sqe)));
    if (!ring_ || !sqes_) return -ENOMEM;
    tail_ = load(p_.sq_off.tail);
    return fd_;
  }
  int fd() const { return fd_; }
  std::uint32_t load(std::uint32_t off) {
    return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(ring_ + off))
        .load(std::memory_order_acquire);
  }
  void store(std::uint32_t off, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(ring_ + off))
        .store(v, std::memory_order_release);
  }
  io_uring_sqe* sqe() {
    if (tail_ - load(p_.sq_off.head) >= p_.sq_entries) return nullptr;
    const std::uint32_t idx = tail_ & (p_.sq_entries - 1);
    io_uring_sqe* s = &sqes_[idx << sqe_shift_];
    std::memset(s, 0, sizeof(*s) << sqe_shift_);
    reinterpret_cast<std::uint32_t*>(ring_ + p_.sq_off.array)[idx] = idx;
    tail_++;
    return s;
  }
  // Publishes the new SQEs; returns how many wait in the SQ ring.
  unsigned flush() {
    store(p_.sq_off.tail, tail_);
    return tail_ - load(p_.sq_off.head);
  }
  int enter(unsigned n, unsigned min, unsigned flags, const void* arg, std::size_t sz) {
    return b_.enter(fd_, n, min, flags, arg, sz);
  }
  bool peek(Cqe* c) {
    const std::uint32_t head = load(p_.cq_off.head);
    if (head == load(p_.cq_off.tail)) return false;
    const auto* q = reinterpret_cast<const io_uring_cqe*>(ring_ + p_.cq_off.cqes) +
                    ((head & (p_.cq_entries - 1)) << cqe_shift_);
    *c = Cqe{q->user_data, q->res, q->flags, {0, 0}};
    if (cqe_shift_) std::memcpy(c->big, q + 1, sizeof(c->big));
    store(p_.cq_off.head, head + 1);
    return true;
  }
  std::uint32_t sq_head() { return load(p_.sq_off.head); }
  std::uint32_t dropped() { return load(p_.sq_off.dropped); }
  std::uint32_t overflow() { return load(p_.cq_off.overflow); }
  bool big_sqes() const { return sqe_shift_; }
  bool big_cqes() const { return cqe_shift_; }

 private:
  const Backend& b_;
  io_uring_params p_{};
  int fd_ = -1;
  char* ring_ = nullptr;
  io_uring_sqe* sqes_ = nullptr;
  std::uint32_t tail_ = 0;
  unsigned sqe_shift_ = 0, cqe_shift_ = 0;
};

void fill(World& w, const SqeSpec& s, io_uring_sqe* q, bool big) {
  q->opcode = s.opcode;
  q->flags = s.flags;
  q->ioprio = s.ioprio;
  q->fd = w.fd(s.fd);
  q->off = w.addr(s.off);
  q->addr = s.addr.kind == AK::kIov ? w.iovec_array(s.iov) : w.addr(s.addr);
  q->len = s.len;
  q->rw_flags = static_cast<__kernel_rwf_t>(s.op_flags);
  q->user_data = s.user_data;
  q->buf_index = s.buf_index;
  q->personality = s.personality;
  q->splice_fd_in = static_cast<__s32>(s.file_index);
  q->addr3 = s.addr3;
  if (big && s.big_fill) std::memset(q + 1, s.big_fill, sizeof(*q));
  if (s.addr3_at.kind != AK::kRaw) q->addr3 = w.addr(s.addr3_at);
  switch (s.fd2_in) {
    case SqeSpec::kFd2SpliceIn:
      q->splice_fd_in = w.fd(s.fd2);
      break;
    case SqeSpec::kFd2Len:
      q->len = static_cast<std::uint32_t>(w.fd(s.fd2));
      break;
    case SqeSpec::kFd2Off:
      q->off = static_cast<std::uint64_t>(w.fd(s.fd2));
      break;
    case SqeSpec::kNoFd2:
      break;
  }
}

}  // namespace

std::string uring_execute(const UringProgram& p, bool kernel, const std::string& dir,
                          int quiet_ms) {
  Log log;
  World w;
  w.epoll_as_iostack = !kernel;
  std::string err;
  if (!w.create(dir, &err)) {
    log.add("world", "failed: " + err);
    return log.serialize();
  }
  Backend b{kernel};
  Ring ring(b);
  const int fd = ring.init(p.entries, p.setup_flags);
  log.add("setup", fd < 0 ? res_str(fd) : "ok");
  if (fd < 0) {
    w.final_state(&log);
    return log.serialize();
  }
  w.fds[kRing] = fd;
  if (p.reg_files) {
    int fds[kNumFixedFiles];
    for (unsigned i = 0; i < kNumFixedFiles; ++i)
      fds[i] = kFixedFiles[i] < 0 ? -1 : w.fds[kFixedFiles[i]];
    log.add("register files", res_str(b.reg(fd, IORING_REGISTER_FILES, fds, kNumFixedFiles)));
  }
  if (p.reg_bufs) {
    struct iovec iov[2];
    for (unsigned i = 0; i < 2; ++i) iov[i] = {w.bufptr(kFixedBufs[i]), kBufSize};
    log.add("register buffers", res_str(b.reg(fd, IORING_REGISTER_BUFFERS, iov, 2)));
  }

  std::vector<Cqe> cqes;
  std::uint64_t terminal = 0;
  // A request is done at its first CQE without F_MORE; later ones (the
  // notification behind a zero-copy send's cancelled result) and CQEs of
  // no SQE (a MSG_RING's message to the ring itself) do not count, or the
  // wait would end before the last CQEs came (fuzz seeds 38075, 52663).
  std::map<std::uint64_t, bool> done{{kFinalCancelUd, false}};
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) done[s.user_data] = false;
  auto reap = [&] {
    Cqe c;
    bool any = false;
    while (ring.peek(&c)) {
      cqes.push_back(c);
      auto it = done.find(c.ud);
      if (!(c.flags & IORING_CQE_F_MORE) && it != done.end() && !it->second) {
        it->second = true;
        terminal++;
      }
      any = true;
    }
    return any;
  };
  // Waits until every consumed SQE has its last CQE, or nothing came for
  // quiet_ms (requests that wait for events, and CQEs skipped on success).
  auto drain = [&](std::uint64_t expected) {
    reap();
    while (terminal < expected) {
      __kernel_timespec ts{0, quiet_ms * 1000000LL};
      io_uring_getevents_arg arg{};
      arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
      const int r =
          ring.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
      if (!reap() && r < 0 && r != -EINTR) break;
    }
  };

  int n = 0;
  for (const Step& st : p.steps) {
    switch (st.kind) {
      case Step::kPipeWrite:
        log.add("pipe write", res_str(write(w.fds[kPipeW], "PQRSTUVW", 8) < 0 ? -errno : 8));
        b.wrote();
        continue;
      case Step::kEventfdWrite: {
        const std::uint64_t one = 1;
        log.add("eventfd write", res_str(write(w.fds[kEventfd], &one, 8) < 0 ? -errno : 8));
        b.wrote();
        continue;
      }
      case Step::kPipeRead: {
        char tmp[64];
        // Only what is there: never block.
        const int fl = fcntl(w.fds[kPipeR], F_GETFL);
        if (fl < 0) {
          log.add("pipe read", "-EBADF");
          continue;
        }
        fcntl(w.fds[kPipeR], F_SETFL, fl | O_NONBLOCK);
        const ssize_t r = read(w.fds[kPipeR], tmp, sizeof(tmp));
        fcntl(w.fds[kPipeR], F_SETFL, fl);
        log.add("pipe read", res_str(r < 0 ? -errno : r));
        continue;
      }
      case Step::kSubmit:
        break;
    }
    unsigned added = 0;
    for (const SqeSpec& s : st.sqes) {
      io_uring_sqe* q = ring.sqe();
      if (!q) break;
      fill(w, s, q, ring.big_sqes());
      added++;
    }
    const unsigned pending = ring.flush();
    const int r = ring.enter(pending, 0, 0, nullptr, 0);
    log.add("enter " + std::to_string(n++),
            res_str(r) + (added < st.sqes.size() ? " (sq full)" : ""));
    reap();
  }
  std::uint64_t consumed = ring.sq_head();
  drain(consumed);
  // SQEs an enter left in the SQ ring (it stopped at a failed one) go in
  // on their own, so that the log has their answers too.
  for (int i = 0; const unsigned rest = ring.flush(); ++i) {
    const int r = ring.enter(rest, 0, 0, nullptr, 0);
    log.add("enter rest " + std::to_string(i), res_str(r));
    if (r <= 0) break;
    consumed = ring.sq_head();
    drain(consumed);
  }
  if (terminal < consumed) {
    // Whatever still waits (polls, long timeouts, reads of empty pipes) is
    // cancelled, and its CQEs are part of the log.
    io_uring_sqe* q = ring.sqe();
    if (q) {
      q->opcode = IORING_OP_ASYNC_CANCEL;
      q->fd = -1;
      q->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
      q->user_data = kFinalCancelUd;
      const unsigned pending = ring.flush();
      log.add("enter cancel", res_str(ring.enter(pending, 0, 0, nullptr, 0)));
      consumed = ring.sq_head();
      drain(consumed);
    }
  }
  // Canonical order: by user_data; arrival order among one request's CQEs.
  std::stable_sort(cqes.begin(), cqes.end(),
                   [](const Cqe& a, const Cqe& c) { return a.ud < c.ud; });
  std::map<std::uint64_t, int> seen;
  std::map<std::uint64_t, std::uint8_t> opcode;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) opcode[s.user_data] = s.opcode;
  for (const Cqe& c : cqes) {
    std::string res = res_str(c.res);
    auto it = opcode.find(c.ud);
    // Descriptor numbers depend on what else the process holds.
    if (it != opcode.end() && uring_returns_fd(it->second) && c.res >= 0) res = "fd";
    std::string big;
    if (ring.big_cqes()) big = " big=" + hex(c.big[0]) + "," + hex(c.big[1]);
    log.add("cqe " + std::to_string(c.ud) + "#" + std::to_string(seen[c.ud]++),
            "res=" + res + " flags=" + hex(c.flags) + big);
  }
  log.add("sq", "head=" + std::to_string(ring.sq_head()) +
                    " dropped=" + std::to_string(ring.dropped()) +
                    " cq_overflow=" + std::to_string(ring.overflow()));
  w.final_state(&log);
  return log.serialize();
}

}  // namespace fuzz
