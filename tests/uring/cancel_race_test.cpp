// A cancel racing an io-wq worker: an IOSQE_ASYNC read of an empty pipe is
// cancelled right after its submission, at varying moments of its worker's
// try-then-poll. Whatever the cancel finds (queued, running, armed), the
// read ends. The kernel has a window here: a cancel that finds the worker
// running (-EALREADY) looks for an armed poll before the worker arms it,
// and the read stays armed until data comes (6.18: about one round in
// several hundred of this loop). iostack's worker sees the cancel when it
// arms and ends the read -EINTR, as the kernel's blocked worker would.
#include <time.h>
#include <unistd.h>

#include <vector>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

// Busy-waits `ns` nanoseconds: places the cancel at another point of the
// worker's issue each round.
void spin_for(long ns) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

// Per round: 1 when both requests ended with a cancel's results (the read
// -ECANCELED or -EINTR, the cancel 0 or -EALREADY), else 0.
std::vector<int> cancel_async_reads(Backend* b, int rounds) {
  std::vector<int> out;
  Ring r(b);
  if (r.init(8) < 0) return out;
  int p[2];
  if (pipe(p)) return out;
  static char buf[8];
  for (int i = 0; i < rounds; ++i) {
    add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 1, IOSQE_ASYNC);
    if (r.submit(0) != 1) break;
    spin_for((i % 40) * 250L);
    add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 2, 0)->addr = 1;
    if (r.submit(0) != 1) break;
    std::vector<Cqe> got = r.wait(2, 2000);
    sort_by_user_data(&got);
    const bool ended = got.size() == 2 && (got[0].res == -ECANCELED || got[0].res == -EINTR) &&
                       (got[1].res == 0 || got[1].res == -EALREADY);
    out.push_back(ended ? 1 : 0);
    if (!ended) {
      ADD_FAILURE() << "round " << i << ": " << ::testing::PrintToString(got);
      break;  // a read left pending would take the next round's data
    }
  }
  close(p[0]);
  close(p[1]);
  return out;
}

TEST(CancelRace, AsyncReadCancelledWhileItsWorkerTriesEnds) {
  constexpr int kRounds = 5000;
  IostackBackend i;
  EXPECT_EQ(std::vector<int>(kRounds, 1), cancel_async_reads(&i, kRounds));
}

}  // namespace
}  // namespace uring_test
