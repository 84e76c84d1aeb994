// The fixture step shared by the reductions of what iostack-fuzz found
// (fuzz_found_diff_test.cpp, fuzz_found_ext_diff_test.cpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "ring_harness.hpp"

namespace uring_test {

// Submits what was prepared and waits for `n` CQEs; the enter result goes
// first as a CQE with ud 0, then the CQEs by user_data (arrival order kept
// within one request), so the kernel's and iostack's lists compare.
inline std::vector<Cqe> run(Ring& r, unsigned n) {
  std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
  auto c = r.wait(n);
  std::stable_sort(c.begin(), c.end(),
                   [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
  v.insert(v.end(), c.begin(), c.end());
  return v;
}

// A new pipe `p` with 16 bytes written, moved by an io_uring SPLICE into
// `dn` (/dev/null): the enter result and the SPLICE's CQE.
inline std::vector<Cqe> pipe_emptied_by_splice(Ring& r, int dn, int p[2]) {
  EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
  EXPECT_EQ(16, ::write(p[1], "0123456789abcdef", 16));
  io_uring_sqe* s = add(r, IORING_OP_SPLICE, dn, nullptr, 16, ~0ull, 1, 0);
  s->splice_fd_in = p[0];
  s->splice_off_in = ~0ull;
  return run(r, 1);
}

// The programs' final cancel: every request still pending, as user_data `ud`.
inline io_uring_sqe* cancel_all(Ring& r, std::uint64_t ud) {
  io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, ud, 0);
  s->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  return s;
}

// The final cancel and what it ends: the enter's result and `n` CQEs (the
// cancel's among them), then whatever else has come by then.
inline void cancel_all_and_reap(Ring& r, std::vector<Cqe>* v, unsigned n) {
  cancel_all(r, 9);
  append(v, run(r, n));
  append(v, r.reap());
}

}  // namespace uring_test
