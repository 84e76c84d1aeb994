// Drained requests beside multishot polls, round after round on one ring,
// compared with the kernel: each round arms a multishot POLL_ADD after the
// previous round's IOSQE_IO_DRAIN left draining on, wakes it twice, removes
// it, and drains a NOP behind it. The kernel frees a request as it posts its
// CQE, so the next round's poll is never held back for it.
#include <poll.h>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

// One write and the CQE it brings (on iostack the write is followed by
// iostack_io_uring_run_wakeups, as the shim does), then the data read back.
void wake(Ring& r, int p[2], std::vector<Cqe>* out) {
  char buf[4];
  if (write(p[1], "foo", 3) != 3) return;
  iostack_io_uring_run_wakeups();
  append(out, r.wait(1));
  if (read(p[0], buf, 3) != 3) out->push_back(Cqe{999, -1, 0});
}

std::vector<Cqe> rounds(Ring& r) {
  std::vector<Cqe> out;
  for (int round = 0; round < 20; ++round) {
    int a[2], b[2];
    if (pipe(a) || pipe(b)) return out;
    add(r, IORING_OP_POLL_ADD, a[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1, 0)->poll32_events =
        POLLIN;
    add(r, IORING_OP_POLL_ADD, b[0], nullptr, 0, 0, 2, 0)->poll32_events = POLLIN;
    out.push_back(Cqe{100, r.submit(0), 0});
    wake(r, a, &out);
    wake(r, a, &out);
    wake(r, b, &out);
    add(r, IORING_OP_POLL_REMOVE, -1, nullptr, 0, 0, 3, 0)->addr = 1;
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, IOSQE_IO_DRAIN);
    out.push_back(Cqe{101, r.submit(0), 0});
    std::vector<Cqe> last = r.wait(3, 2000);  // the remove, the poll's end, the NOP
    sort_by_user_data(&last);
    append(&out, last);
    for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
  }
  return out;
}

TEST(DrainMshot, MultishotPollsAfterADrainAreArmedAndRemoved) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(rounds, 64);
}

TEST(DrainMshot, MultishotPollsAfterADrainOnADeferTaskrunRing) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(rounds, 64, p);
}

}  // namespace
}  // namespace uring_test
