// One small kernel io_uring per process, made on first use: submissions
// under a lock, a batch per enter; an internal thread waits for completions and
// runs them.
#include "core/host_uring.hpp"

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"

namespace iostack::core {

namespace {

std::atomic<bool> g_disabled{false};

int sys_setup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(SYS_io_uring_setup, entries, p));
}
int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags) {
  return static_cast<int>(syscall(SYS_io_uring_enter, fd, submit, min, flags, nullptr, 0));
}

std::atomic_ref<std::uint32_t> ring_word(void* base, std::uint32_t off) {
  return std::atomic_ref<std::uint32_t>(
      *reinterpret_cast<std::uint32_t*>(static_cast<char*>(base) + off));
}

struct HostUring {
  static constexpr unsigned kEntries = 256;
  std::once_flag once;
  bool usable = false;
  int fd = -1;
  io_uring_params p{};
  void* rings = nullptr;
  io_uring_sqe* sqes = nullptr;
  Mutex sq_lock;
  std::uint32_t sq_tail GUARDED_BY(sq_lock) = 0;  // and the slots behind it
  std::atomic<std::uint32_t> in_flight{0};

  void start() {
    p = {};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = kEntries * 4;
    const int f = sys_setup(kEntries, &p);
    if (f < 0) return;
    // One mapping for both rings (FEAT_SINGLE_MMAP, every kernel since 5.4).
    const std::size_t ring_len =
        std::max<std::size_t>(p.sq_off.array + p.sq_entries * sizeof(std::uint32_t),
                              p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe));
    void* r = mmap(nullptr, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, f,
                   IORING_OFF_SQ_RING);
    void* s = mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, f, IORING_OFF_SQES);
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) || r == MAP_FAILED || s == MAP_FAILED) {
      if (r != MAP_FAILED) munmap(r, ring_len);
      if (s != MAP_FAILED) munmap(s, p.sq_entries * sizeof(io_uring_sqe));
      ::close(f);
      return;
    }
    fd = f;
    rings = r;
    sqes = static_cast<io_uring_sqe*>(s);
    {
      LockGuard lock(sq_lock);
      sq_tail = ring_word(rings, p.sq_off.tail).load(std::memory_order_relaxed);
    }
    if (start_detached_internal_thread(ThreadKind::kHostUring, reap, this) != 0) return;
    usable = true;
  }

  // Writes the SQEs of reqs[0..n) and enters once: how many the kernel took.
  unsigned submit(HostUringReq* const* reqs, unsigned n) {
    // Room in the CQ ring for every request in flight: none is ever dropped.
    const std::uint32_t before = in_flight.fetch_add(n, std::memory_order_acq_rel);
    const unsigned cq_room = before >= p.cq_entries ? 0 : p.cq_entries - before;
    unsigned taken = 0;
    {
      LockGuard lock(sq_lock);
      const std::uint32_t head = ring_word(rings, p.sq_off.head).load(std::memory_order_acquire);
      const unsigned want = std::min({n, cq_room, p.sq_entries - (sq_tail - head)});
      auto* array = reinterpret_cast<std::uint32_t*>(static_cast<char*>(rings) + p.sq_off.array);
      for (unsigned i = 0; i < want; ++i) {
        const std::uint32_t idx = (sq_tail + i) & (p.sq_entries - 1);
        fill_sqe(&sqes[idx], reqs[i]);
        array[idx] = idx;
      }
      if (want) {
        ring_word(rings, p.sq_off.tail).store(sq_tail + want, std::memory_order_release);
        const int got = sys_enter(fd, want, 0, 0);
        taken = got > 0 ? static_cast<unsigned>(got) : 0;
        // Only enters made under this lock take SQEs, so the slots not
        // taken can be taken back.
        sq_tail += taken;
        ring_word(rings, p.sq_off.tail).store(sq_tail, std::memory_order_release);
      }
    }
    if (taken < n) in_flight.fetch_sub(n - taken, std::memory_order_acq_rel);
    return taken;
  }

  static void fill_sqe(io_uring_sqe* sqe, HostUringReq* req) {
    std::memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = req->opcode;
    sqe->fd = req->fd;
    sqe->addr = req->addr;
    sqe->len = req->len;
    sqe->off = req->off;
    sqe->rw_flags = static_cast<__kernel_rwf_t>(req->rw_flags);
    sqe->ioprio = req->ioprio;
    sqe->user_data = reinterpret_cast<std::uintptr_t>(req);
    req->handed.store(true, std::memory_order_release);
  }

  static void reap(void* arg) {
    auto* self = static_cast<HostUring*>(arg);
    const io_uring_params& p = self->p;
    auto* cqes = reinterpret_cast<io_uring_cqe*>(static_cast<char*>(self->rings) + p.cq_off.cqes);
    auto head_word = ring_word(self->rings, p.cq_off.head);
    auto tail_word = ring_word(self->rings, p.cq_off.tail);
    for (;;) {
      std::uint32_t head = head_word.load(std::memory_order_relaxed);
      const std::uint32_t tail = tail_word.load(std::memory_order_acquire);
      if (head == tail) {
        if (sys_enter(self->fd, 0, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR) return;
        continue;
      }
      while (head != tail) {
        const io_uring_cqe cqe = cqes[head & (p.cq_entries - 1)];
        head++;
        head_word.store(head, std::memory_order_release);
        self->in_flight.fetch_sub(1, std::memory_order_acq_rel);
        auto* req = reinterpret_cast<HostUringReq*>(static_cast<std::uintptr_t>(cqe.user_data));
        (void)req->handed.load(std::memory_order_acquire);
        req->done(req->owner, cqe.res);
      }
    }
  }
};

HostUring* host_uring() {
  if (g_disabled.load(std::memory_order_relaxed)) return nullptr;
  HostUring& h = Process::current().state<HostUring>();
  std::call_once(h.once, [&h] { h.start(); });
  return h.usable ? &h : nullptr;
}

}  // namespace

bool host_uring_usable() { return host_uring() != nullptr; }

unsigned host_uring_submit_batch(HostUringReq* const* reqs, unsigned n) {
  HostUring* h = host_uring();
  return h && n ? h->submit(reqs, n) : 0;
}

bool host_uring_submit(HostUringReq* req) { return host_uring_submit_batch(&req, 1) == 1; }

void host_uring_allow(bool allowed) { g_disabled.store(!allowed, std::memory_order_relaxed); }

}  // namespace iostack::core
