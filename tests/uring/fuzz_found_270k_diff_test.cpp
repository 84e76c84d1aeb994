// Differences iostack-fuzz found in seeds 270000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <vector>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A READ_MULTISHOT of a DEFER_TASKRUN ring's own descriptor: the ring's file
// has no read method and no FMODE_NOWAIT, so the kernel asks its poll first
// (io_file_supports_nowait), and with no CQE in the ring the read waits on
// it instead of failing (fuzz seed 277905, where iostack answered -EINVAL
// at once; the kernel's final cancel finds it, -ECANCELED).
TEST(UringFuzzFound270k, MultishotReadOfItsOwnRingWaitsForACqe) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        static char bufs[4][128];
        add(r, IORING_OP_PROVIDE_BUFFERS, 4, bufs, sizeof(bufs[0]), 10, 3, 0);
        add(r, 49 /* READ_MULTISHOT */, r.fd(), nullptr, 0, 0, 5, IOSQE_BUFFER_SELECT);
        std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
        append(&v, r.wait(2, 50));  // PROVIDE_BUFFERS's 0; the read waits
        return v;
      },
      32, params);
}

}  // namespace
}  // namespace uring_test
