// Differential tests of a ring's lifetime against its mappings: a vma of
// the ring fd holds the ring's file, so a ring whose descriptor is closed
// while its SQ/CQ rings, SQEs or a buffer ring are mapped lives on (its
// requests complete into the mapped CQ ring) and is released, requests
// cancelled and registered files dropped, when the last mapping goes.
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::kOffPbufRing;
using iostack::uring::uapi::kOffPbufShift;
using iostack::uring::uapi::kPbufRingMmap;

// Waits, boundedly, until `r` has `n` CQEs ready in its mapped CQ ring. On
// the kernel the completions of a closed ring run as task work of the
// submitting thread, which its sleeps here let run.
bool cq_ready_within(Ring& r, unsigned n, int timeout_ms = 10000) {
  for (int waited = 0; r.cq_ready() < n; ++waited) {
    if (waited >= timeout_ms) return false;
    const struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
  return true;
}

// 1 when the write end of a pipe is still held by someone (the reader does
// not see end of file now), 0 when the reader sees end of file within
// `timeout_ms`, -1 otherwise.
int writer_held(int rfd, int timeout_ms) {
  struct pollfd p = {rfd, POLLIN, 0};
  const int n = poll(&p, 1, timeout_ms);
  if (n == 0) return 1;
  char c;
  return n == 1 && read(rfd, &c, 1) == 0 ? 0 : -1;
}

// A pipe whose write end only the ring holds (registered as fixed file 0),
// and a data pipe the ring reads from.
struct Pipes {
  int held[2] = {-1, -1};
  int data[2] = {-1, -1};
  bool ok = false;
  explicit Pipes(Ring& r) {
    if (pipe(held) || pipe(data)) return;
    if (r.reg(IORING_REGISTER_FILES, &held[1], 1) != 0) return;
    close(held[1]);
    held[1] = -1;
    ok = true;
  }
  ~Pipes() {
    for (int fd : {held[0], held[1], data[0], data[1]})
      if (fd >= 0) close(fd);
  }
};

// What a program sees when it closes the ring fd with requests pending and
// its mappings kept, reaps from the mapped CQ ring, then unmaps. Each step
// is a Cqe {step, value, 0}.
std::vector<Cqe> close_then_unmap(Backend* b, bool sqes_first) {
  std::vector<Cqe> out;
  Ring r(b);
  if (r.init(8) < 0) return out;
  Pipes pp(r);
  if (!pp.ok) return out;
  char buf2[8] = {}, buf3[8] = {};
  add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
  out.push_back(Cqe{1, r.submit(1), 0});
  add(r, IORING_OP_READ, pp.data[0], buf2, 5, 0, 2, 0);
  add(r, IORING_OP_READ, pp.data[0], buf3, 5, 0, 3, 0);
  out.push_back(Cqe{2, r.submit(0), 0});
  out.push_back(Cqe{3, r.close_fd(), 0});
  // The CQE posted before the close is still there, the registered file
  // still held.
  Cqe c{};
  out.push_back(Cqe{4, r.peek(&c) ? static_cast<int>(c.user_data) : -1, 0});
  out.push_back(Cqe{5, c.res, 0});
  out.push_back(Cqe{6, writer_held(pp.held[0], 0), 0});
  // A pending read completes into the mapped CQ ring.
  out.push_back(Cqe{7, static_cast<int>(write(pp.data[1], "hello", 5)), 0});
  out.push_back(Cqe{8, cq_ready_within(r, 1) ? 1 : 0, 0});
  // Which of the two reads takes the data is the pipe's wakeup order: the
  // step records what completed, and whether the data landed there.
  const std::vector<Cqe> done = r.reap();
  out.push_back(Cqe{9, static_cast<int>(done.size()), 0});
  const bool two_done = !done.empty() && done[0].user_data == 2;
  char* const completed = two_done ? buf2 : buf3;
  char* const pending = two_done ? buf3 : buf2;
  out.push_back(Cqe{10, done.empty() ? -1 : done[0].res, 0});
  out.push_back(Cqe{11, std::memcmp(completed, "hello", 5), 0});
  // One mapping left: still alive.
  if (sqes_first)
    r.unmap_sqes();
  else
    r.unmap_rings();
  out.push_back(Cqe{12, writer_held(pp.held[0], 0), 0});
  // The last one: released, the pending read cancelled (it takes nothing
  // written later) and the registered write end dropped.
  if (sqes_first)
    r.unmap_rings();
  else
    r.unmap_sqes();
  out.push_back(Cqe{13, writer_held(pp.held[0], 10000), 0});
  out.push_back(Cqe{14, static_cast<int>(write(pp.data[1], "world", 5)), 0});
  char got[8] = {};
  out.push_back(Cqe{15, static_cast<int>(read(pp.data[0], got, sizeof(got))), 0});
  out.push_back(Cqe{16, std::memcmp(got, "world", 5), 0});
  out.push_back(Cqe{17, pending[0], 0});
  return out;
}

// The value recorded at `step`, or INT_MIN.
int at(const std::vector<Cqe>& out, std::uint64_t step) {
  for (const Cqe& c : out)
    if (c.user_data == step) return c.res;
  return INT32_MIN;
}

TEST(UringLifetimeDiff, ClosedRingLivesUntilItsLastMappingGoes) {
  SKIP_WITHOUT_KERNEL_URING();
  for (bool sqes_first : {true, false}) {
    KernelBackend kb;
    IostackBackend ib;
    const std::vector<Cqe> k = close_then_unmap(&kb, sqes_first);
    const std::vector<Cqe> o = close_then_unmap(&ib, sqes_first);
    ASSERT_EQ(17u, k.size()) << "kernel: " << ::testing::PrintToString(k);
    // The kernel: the CQE posted before the close stays readable; closing
    // kept the ring and its registered file; a read completed into the
    // mapped CQ ring after the close; the last munmap released the ring.
    EXPECT_EQ(1, at(k, 4));
    EXPECT_EQ(1, at(k, 6));
    EXPECT_EQ(5, at(k, 10));
    EXPECT_EQ(1, at(k, 12));
    EXPECT_EQ(0, at(k, 13));
    EXPECT_EQ(k, o) << "kernel vs iostack, sqes unmapped first: " << sqes_first;
  }
}

// A registered ring fd holds the ring too: with the descriptor closed and
// every mapping gone, the ring still answers through its registered index
// and goes when that is unregistered.
std::vector<Cqe> registered_fd_holds(Backend* b) {
  std::vector<Cqe> out;
  Ring r(b);
  if (r.init(8) < 0) return out;
  Pipes pp(r);
  if (!pp.ok) return out;
  io_uring_rsrc_update up{};
  up.offset = ~0u;
  up.data = static_cast<std::uint32_t>(r.fd());
  out.push_back(Cqe{1, r.reg(IORING_REGISTER_RING_FDS, &up, 1), 0});
  const int index = static_cast<int>(up.offset);
  r.unmap_sqes();
  r.unmap_rings();
  out.push_back(Cqe{2, r.close_fd(), 0});
  out.push_back(Cqe{3, writer_held(pp.held[0], 0), 0});
  out.push_back(Cqe{4, b->enter(index, 0, 0, IORING_ENTER_REGISTERED_RING, nullptr, 0), 0});
  io_uring_rsrc_update del{};
  del.offset = static_cast<std::uint32_t>(index);
  out.push_back(Cqe{
      5, b->reg(index, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING, &del, 1),
      0});
  out.push_back(Cqe{6, writer_held(pp.held[0], 10000), 0});
  return out;
}

// Runs `seq` on the kernel, then on iostack: the kernel must have done all
// `steps` and released the ring at the last one; iostack must match.
void compare_steps(std::vector<Cqe> (*seq)(Backend*), std::size_t steps) {
  KernelBackend kb;
  IostackBackend ib;
  const std::vector<Cqe> k = seq(&kb);
  const std::vector<Cqe> o = seq(&ib);
  ASSERT_EQ(steps, k.size()) << ::testing::PrintToString(k);
  EXPECT_EQ(0, k.back().res) << "the kernel did not release the ring";
  EXPECT_EQ(k, o);
}

TEST(UringLifetimeDiff, RegisteredRingFdHoldsAClosedUnmappedRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_steps(registered_fd_holds, 6);
}

// munmap of part of a mapping (the kernel splits the vma, each piece holds
// the file), and a provided-buffer ring's mapping (IOU_PBUF_RING_MMAP),
// which holds the ring as the others do.
std::vector<Cqe> pieces_and_buffer_rings(Backend* b) {
  std::vector<Cqe> out;
  Ring r(b);
  if (r.init(128) < 0) return out;  // 8 KiB of SQEs: two pages
  Pipes pp(r);
  if (!pp.ok) return out;
  io_uring_buf_reg reg{};
  reg.ring_entries = 8;
  reg.bgid = 5;
  reg.pad = kPbufRingMmap;
  out.push_back(Cqe{1, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
  void* br = b->map(r.fd(), static_cast<off_t>(kOffPbufRing | (5ull << kOffPbufShift)), 4096);
  out.push_back(Cqe{2, br != nullptr, 0});
  out.push_back(Cqe{3, r.sqes_bytes() == 8192, 0});
  char* sqes = reinterpret_cast<char*>(r.sqes());
  b->unmap(sqes, 4096);  // the first page of the SQEs
  r.unmap_rings();
  out.push_back(Cqe{4, r.close_fd(), 0});
  out.push_back(Cqe{5, writer_held(pp.held[0], 0), 0});
  b->unmap(sqes + 4096, 4096);  // the rest of the SQEs
  out.push_back(Cqe{6, writer_held(pp.held[0], 0), 0});
  if (br) b->unmap(br, 4096);  // the buffer ring, the last mapping
  out.push_back(Cqe{7, writer_held(pp.held[0], 10000), 0});
  r.forget_sqes();  // unmapped above
  return out;
}

TEST(UringLifetimeDiff, EveryPieceOfEveryMappingHoldsTheRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_steps(pieces_and_buffer_rings, 7);
}

// Threads: one reaps from the mapped CQ ring while another closes the ring
// fd and then feeds the reads that complete into it; the submitting thread
// unmaps once both are done. Several rings at once. Each ring's result: the
// CQEs reaped (all `kReads` of them, one byte each), then whether the
// registered file went with the last mapping.
constexpr unsigned kReads = 32;
constexpr unsigned kRings = 4;

struct Reaped {
  unsigned cqes = 0;
  unsigned bytes = 0;
  int close_ret = -1;
  int released = -1;
  bool operator==(const Reaped& o) const {
    return cqes == o.cqes && bytes == o.bytes && close_ret == o.close_ret && released == o.released;
  }
};

std::vector<Reaped> reap_while_closing(Backend* b) {
  std::vector<Reaped> out(kRings);
  std::vector<std::unique_ptr<Ring>> rings;
  std::vector<std::unique_ptr<Pipes>> pipes;
  static char bufs[kRings][kReads];
  for (unsigned i = 0; i < kRings; ++i) {
    rings.push_back(std::make_unique<Ring>(b));
    if (rings[i]->init(kReads) < 0) return {};
    pipes.push_back(std::make_unique<Pipes>(*rings[i]));
    if (!pipes[i]->ok) return {};
    for (unsigned j = 0; j < kReads; ++j)
      add(*rings[i], IORING_OP_READ, pipes[i]->data[0], &bufs[i][j], 1, 0, j, 0);
    if (rings[i]->submit(0) != static_cast<int>(kReads)) return {};
  }
  std::vector<std::thread> threads;
  std::array<std::atomic<bool>, kRings> reaping{};
  for (unsigned i = 0; i < kRings; ++i) {
    Ring& r = *rings[i];
    Reaped& res = out[i];
    std::atomic<bool>* started = &reaping[i];
    threads.emplace_back([&r, &res, started] {
      started->store(true, std::memory_order_release);
      for (int waited = 0; res.cqes < kReads && waited < 10000;) {
        Cqe c;
        if (r.peek(&c)) {
          ++res.cqes;
          res.bytes += c.res > 0 ? static_cast<unsigned>(c.res) : 0;
          continue;
        }
        const struct timespec ms = {0, 1000000};
        nanosleep(&ms, nullptr);
        ++waited;
      }
    });
    threads.emplace_back([&r, &res, started, fd = pipes[i]->data[1]] {
      while (!started->load(std::memory_order_acquire)) std::this_thread::yield();
      res.close_ret = r.close_fd();
      for (unsigned j = 0; j < kReads; ++j)
        if (write(fd, "x", 1) != 1) return;
    });
  }
  for (std::thread& t : threads) t.join();
  for (unsigned i = 0; i < kRings; ++i) {
    rings[i]->unmap_sqes();
    rings[i]->unmap_rings();
    out[i].released = writer_held(pipes[i]->held[0], 10000);
  }
  return out;
}

TEST(UringLifetimeDiff, ReapingFromTheMappedRingWhileAnotherThreadCloses) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const std::vector<Reaped> k = reap_while_closing(&kb);
  const std::vector<Reaped> o = reap_while_closing(&ib);
  ASSERT_EQ(kRings, k.size());
  ASSERT_EQ(kRings, o.size());
  for (unsigned i = 0; i < kRings; ++i) {
    EXPECT_EQ(kReads, k[i].cqes) << "kernel ring " << i;
    EXPECT_EQ(kReads, k[i].bytes) << "kernel ring " << i;
    EXPECT_EQ(0, k[i].released) << "kernel ring " << i;
    EXPECT_TRUE(k[i] == o[i]) << "ring " << i << ": iostack reaped " << o[i].cqes << " CQEs, "
                              << o[i].bytes << " bytes, close " << o[i].close_ret << ", released "
                              << o[i].released;
  }
}

}  // namespace
}  // namespace uring_test
