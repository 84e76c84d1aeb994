// Differential test of an SQPOLL ring's SQ head as seen by a program woken
// by a CQE: the SQE that CQE answers is already consumed. liburing's
// io_uring_submit counts tail - head as submitted, so a stale head makes it
// return one more than it queued (liburing's bind-listen test then waited
// for a CQE that never came and took a later one for it).
#include <sched.h>

#include <vector>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

// Keeps the calling thread on one CPU for its lifetime.
class PinnedToCpu0 {
 public:
  PinnedToCpu0() {
    ok_ = sched_getaffinity(0, sizeof(old_), &old_) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    ok_ = ok_ && sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinnedToCpu0() {
    if (ok_) sched_setaffinity(0, sizeof(old_), &old_);
  }
  PinnedToCpu0(const PinnedToCpu0&) = delete;
  PinnedToCpu0& operator=(const PinnedToCpu0&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t old_;
  bool ok_ = false;
};

constexpr unsigned kRounds = 100;

// One NOP at a time, the program sleeping in io_uring_enter for its CQE
// while the SQ thread -- on the same CPU, so that the woken program
// preempts it -- posts it. Returns one CQE per round (its res), then a
// last one whose res counts the rounds that saw the head behind the tail.
std::vector<Cqe> nop_rounds(Ring& r) {
  std::vector<Cqe> out;
  unsigned stale = 0;
  for (unsigned i = 0; i < kRounds; ++i) {
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, i, 0);
    r.flush();
    if (r.sq_flags() & IORING_SQ_NEED_WAKEUP) r.enter(0, 0, IORING_ENTER_SQ_WAKEUP);
    const std::vector<Cqe> c = r.wait(1);
    if (r.load(r.params().sq_off.head) != r.sq_tail()) ++stale;
    append(&out, c);
  }
  out.push_back(Cqe{~0ull, static_cast<int>(stale), 0});
  return out;
}

TEST(UringSqpollHead, ConsumedBeforeTheCqeWakesTheProgram) {
  SKIP_WITHOUT_KERNEL_URING();
  PinnedToCpu0 pin;
  if (!pin.ok()) GTEST_SKIP() << "cannot run on CPU 0 alone";
  io_uring_params p{};
  p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
  p.sq_thread_cpu = 0;
  p.sq_thread_idle = 1000;
  // The kernel commits the head a few instructions after it posts; a
  // preemptible kernel may rarely show that window, so its usual answer
  // (no stale head) is the one compared.
  compare_with_settled_kernel(
      nop_rounds, 8, [](const std::vector<Cqe>& k) { return !k.empty() && k.back().res == 0; }, p);
}

}  // namespace
}  // namespace uring_test
