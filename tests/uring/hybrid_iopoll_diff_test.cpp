// IORING_SETUP_HYBRID_IOPOLL (6.13): an IOPOLL ring that sleeps before it
// polls. Its validation and the answers of requests on such a ring are
// compared with the kernel's (they are IOPOLL's: the hybrid flag changes
// only how long the poller sleeps).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;
constexpr unsigned kHybrid = uapi::kSetupHybridIopoll;

struct SetupAnswer {
  int ret;
  unsigned flags;
  unsigned sq_entries;
  unsigned cq_entries;
  bool operator==(const SetupAnswer& o) const = default;
};
std::ostream& operator<<(std::ostream& os, const SetupAnswer& a) {
  return os << "{ret=" << (a.ret < 0 ? a.ret : 0) << " flags=0x" << std::hex << a.flags << std::dec
            << " sq=" << a.sq_entries << " cq=" << a.cq_entries << "}";
}

SetupAnswer setup_once(Backend* b, unsigned flags) {
  io_uring_params p{};
  p.flags = flags;
  if (flags & IORING_SETUP_CQSIZE) p.cq_entries = 64;
  const int fd = b->setup(8, &p);
  if (fd >= 0) b->close_ring(fd);
  return {fd < 0 ? fd : 0, p.flags, p.sq_entries, p.cq_entries};
}

TEST(UringHybridIopollDiff, SetupValidatesAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const std::vector<std::pair<std::string, unsigned>> cases = {
      {"hybrid alone", kHybrid},
      {"hybrid with IOPOLL", kHybrid | IORING_SETUP_IOPOLL},
      {"hybrid with SQPOLL, no IOPOLL", kHybrid | IORING_SETUP_SQPOLL},
      {"hybrid with IOPOLL and SQPOLL", kHybrid | IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL},
      {"hybrid with IOPOLL, DEFER_TASKRUN",
       kHybrid | IORING_SETUP_IOPOLL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN},
      {"hybrid with IOPOLL, CQSIZE, CLAMP, SUBMIT_ALL",
       kHybrid | IORING_SETUP_IOPOLL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
           IORING_SETUP_SUBMIT_ALL},
      {"hybrid with IOPOLL, SQE128 and CQE32",
       kHybrid | IORING_SETUP_IOPOLL | IORING_SETUP_SQE128 | IORING_SETUP_CQE32},
      {"hybrid with IOPOLL, disabled", kHybrid | IORING_SETUP_IOPOLL | IORING_SETUP_R_DISABLED},
      {"hybrid with COOP_TASKRUN, no IOPOLL", kHybrid | IORING_SETUP_COOP_TASKRUN},
  };
  for (const auto& [name, flags] : cases)
    EXPECT_EQ(setup_once(&kb, flags), setup_once(&ib, flags)) << name;
}

// A file opened with O_DIRECT on the disk the tests run on, and one without.
struct Files {
  std::string path;
  int direct = -1;
  int buffered = -1;
  int shm = -1;  // tmpfs: O_DIRECT, but no f_op->iopoll
  Files() {
    char shm_tmpl[] = "/dev/shm/iostack-hybrid-XXXXXX";
    shm = mkostemp(shm_tmpl, O_DIRECT | O_CLOEXEC);
    if (shm >= 0) unlink(shm_tmpl);
    char tmpl[] = "/var/tmp/iostack-hybrid-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd < 0) return;
    path = tmpl;
    char block[4096];
    std::memset(block, 'h', sizeof(block));
    if (write(fd, block, sizeof(block)) != static_cast<ssize_t>(sizeof(block))) return;
    close(fd);
    direct = open(tmpl, O_RDWR | O_DIRECT | O_CLOEXEC);
    buffered = open(tmpl, O_RDWR | O_CLOEXEC);
  }
  ~Files() {
    if (direct >= 0) close(direct);
    if (buffered >= 0) close(buffered);
    if (shm >= 0) close(shm);
    if (!path.empty()) unlink(path.c_str());
  }
};

// Reads and writes (direct and buffered), a NOP, ops IOPOLL refuses, and a
// register opcode refused on polled rings.
std::vector<Cqe> iopoll_ops(Ring& r, const Files& f) {
  std::vector<Cqe> v;
  void* buf = nullptr;
  if (posix_memalign(&buf, 4096, 8192)) return v;
  std::memset(buf, 'w', 8192);
  const int efd = eventfd(0, EFD_CLOEXEC);
  prep(r.sqe(), IORING_OP_READ, f.direct, buf, 4096, 0, 1);
  prep(r.sqe(), IORING_OP_WRITE, f.direct, buf, 4096, 4096, 2);
  prep(r.sqe(), IORING_OP_READ, f.buffered, buf, 4096, 0, 3);
  prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 4);
  // At EOF no bio is needed; across it one is; a write past it extends.
  prep(r.sqe(), IORING_OP_READ, f.direct, buf, 4096, 1 << 20, 7);
  prep(r.sqe(), IORING_OP_READ, f.direct, buf, 8192, 0, 8);
  prep(r.sqe(), IORING_OP_WRITE, f.direct, buf, 4096, 0, 9);
  prep(r.sqe(), IORING_OP_READ, f.shm, buf, 4096, 0, 10);
  prep(r.sqe(), IORING_OP_READ, f.direct, buf, 0, 0, 11);
  prep(r.sqe(), IORING_OP_FSYNC, f.direct, nullptr, 0, 0, 5);
  prep(r.sqe(), IORING_OP_POLL_ADD, efd, nullptr, 0, 0, 6);
  // A polled ring's wait ignores timeouts: wait only for what was taken
  // (without SUBMIT_ALL, submission stops at the first SQE refused at prep).
  const int submitted = r.submit(0);
  v.push_back(Cqe{0, submitted, 0});
  append(&v, r.wait(submitted > 0 ? static_cast<unsigned>(submitted) : 0));
  sort_by_user_data(&v);
  std::uint32_t napi[4] = {};
  v.push_back(Cqe{100, r.reg(uapi::kRegisterNapi, napi, 1), 0});
  close(efd);
  free(buf);
  return v;
}

TEST(UringHybridIopollDiff, RequestsAnswerAsOnAnIopollRing) {
  SKIP_WITHOUT_KERNEL_URING();
  Files f;
  if (f.direct < 0) GTEST_SKIP() << "no O_DIRECT file in /var/tmp: " << strerror(errno);
  for (unsigned flags :
       {IORING_SETUP_IOPOLL | kHybrid, IORING_SETUP_IOPOLL | kHybrid | IORING_SETUP_SUBMIT_ALL}) {
    io_uring_params p{};
    p.flags = flags;
    compare_with_kernel([&f](Ring& r) { return iopoll_ops(r, f); }, 16, p);
  }
}

}  // namespace
}  // namespace uring_test
