// Wild pointers through every door of io_uring, to the kernel and to
// iostack: the same unmapped, PROT_NONE, read-only, straddling,
// non-canonical and kernel addresses must give the same results (system
// call return values, CQEs) and never a crash. Which error wins when a
// request has several (EFAULT against EBADF, EINVAL, ENOENT...) and whether
// it shows at prep (the whole link fails) or at issue follows the kernel.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "../common/wild_memory.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

using iostack::test::WildMemory;

// Results of one sequence: system call returns and CQE fields, flattened.
using Outcome = std::vector<long>;

void put(Outcome& o, const std::vector<Cqe>& cqes) {
  for (const Cqe& c : cqes) {
    o.push_back(static_cast<long>(c.user_data));
    o.push_back(c.res);
  }
}

// A scratch file of `size` bytes.
struct ScratchFile {
  std::string path;
  int fd = -1;
  explicit ScratchFile(std::size_t size) {
    char tmpl[] = "/tmp/iostack-uaccess-XXXXXX";
    fd = mkstemp(tmpl);
    path = tmpl;
    std::string data(size, 'q');
    if (size) {
      EXPECT_EQ(static_cast<ssize_t>(size), write(fd, data.data(), size));
    }
  }
  ~ScratchFile() {
    ::close(fd);
    unlink(path.c_str());
  }
};

// Runs `seq` on a fresh ring of each backend and compares.
void same(const std::function<Outcome(Ring&, const WildMemory&)>& seq,
          io_uring_params params = {}) {
  WildMemory m;
  if (!m.ok()) GTEST_SKIP() << "the fixed test address is in use";
  KernelBackend kb;
  IostackBackend ib;
  Outcome k, o;
  {
    Ring r(&kb);
    ASSERT_GE(r.init(8, params), 0);
    k = seq(r, m);
  }
  {
    Ring r(&ib);
    ASSERT_GE(r.init(8, params), 0);
    o = seq(r, m);
  }
  EXPECT_EQ(k, o) << "kernel vs iostack";
}

// Submits what was queued and waits for `n` CQEs.
std::vector<Cqe> run(Ring& r, unsigned n) {
  EXPECT_EQ(static_cast<int>(n), r.submit(0));
  return r.wait(n);
}

// The lowest free descriptor: setup that fails must not take one.
int next_fd() {
  const int fd = dup(0);
  ::close(fd);
  return fd;
}

// ---- io_uring_setup

TEST(UringUaccessDiff, SetupParams) {
  SKIP_WITHOUT_KERNEL_URING();
  WildMemory m;
  SKIP_WITHOUT_WILD_MEMORY(m);
  KernelBackend kb;
  IostackBackend ib;
  for (Backend* b : {static_cast<Backend*>(&kb), static_cast<Backend*>(&ib)}) {
    SCOPED_TRACE(b->name());
    auto* p = reinterpret_cast<io_uring_params*>(m.gone());
    EXPECT_EQ(b->setup(8, nullptr), -EFAULT);
    EXPECT_EQ(b->setup(8, p), -EFAULT);
    EXPECT_EQ(b->setup(8, reinterpret_cast<io_uring_params*>(m.none())), -EFAULT);
    EXPECT_EQ(b->setup(8, static_cast<io_uring_params*>(WildMemory::noncanonical())), -EFAULT);
    EXPECT_EQ(b->setup(8, static_cast<io_uring_params*>(WildMemory::kernel())), -EFAULT);
    // Half of it readable.
    EXPECT_EQ(b->setup(8, reinterpret_cast<io_uring_params*>(m.before_none(60))), -EFAULT);
    // Readable but not writable: read, checked, set up, and then the write
    // back fails; no ring and no descriptor stay behind.
    const int before = next_fd();
    EXPECT_EQ(b->setup(8, reinterpret_cast<io_uring_params*>(m.ro())), -EFAULT);
    EXPECT_EQ(next_fd(), before);
    // The checks on the contents come after the copy and before the write.
    io_uring_params bad{};
    bad.resv[0] = 1;
    m.fill_ro(&bad, sizeof(bad));
    EXPECT_EQ(b->setup(8, reinterpret_cast<io_uring_params*>(m.ro())), -EINVAL);
    io_uring_params zero{};
    m.fill_ro(&zero, sizeof(zero));
  }
}

// ---- io_uring_enter

TEST(UringUaccessDiff, EnterSigset) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    const unsigned get = IORING_ENTER_GETEVENTS;
    // Enough events already (none wanted): the mask is never read.
    o.push_back(r.enter(0, 0, get, m.gone(), 8));
    // Read when waiting; the size is checked first.
    o.push_back(r.enter(0, 1, get, m.gone(), 8));
    o.push_back(r.enter(0, 1, get, m.gone(), 16));
    o.push_back(r.enter(0, 1, get, m.before_none(4), 8));
    o.push_back(r.enter(0, 1, get, WildMemory::noncanonical(), 8));
    // Without GETEVENTS nothing is read.
    o.push_back(r.enter(0, 1, 0, m.gone(), 8));
    return o;
  });
}

TEST(UringUaccessDiff, EnterExtArg) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    const unsigned ext = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    const auto size = sizeof(io_uring_getevents_arg);
    o.push_back(r.enter(0, 1, ext, nullptr, size));
    o.push_back(r.enter(0, 1, ext, m.gone(), size));
    o.push_back(r.enter(0, 1, ext, m.gone(), size - 8));  // size first
    o.push_back(r.enter(0, 1, ext, m.before_none(16), size));
    o.push_back(r.enter(0, 1, ext, WildMemory::kernel(), size));
    // A good argument pointing at a bad timespec, then at a bad sigmask
    // (with a good 10 ms timeout, so a missed check cannot hang the test).
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<std::uintptr_t>(m.gone());
    o.push_back(r.enter(0, 1, ext, &arg, size));
    arg.ts = reinterpret_cast<std::uintptr_t>(m.before_none(8));
    o.push_back(r.enter(0, 1, ext, &arg, size));
    __kernel_timespec ts{0, 10 * 1000 * 1000};
    arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
    arg.sigmask = reinterpret_cast<std::uintptr_t>(m.gone());
    arg.sigmask_sz = 8;
    o.push_back(r.enter(0, 1, ext, &arg, size));
    arg.sigmask_sz = 4;
    o.push_back(r.enter(0, 1, ext, &arg, size));
    // Good all through: the timeout expires.
    sigset_t set;
    sigemptyset(&set);
    arg.sigmask = reinterpret_cast<std::uintptr_t>(&set);
    arg.sigmask_sz = 8;
    o.push_back(r.enter(0, 1, ext, &arg, size));
    // The argument is read from read-only memory without trouble.
    m.fill_ro(&arg, sizeof(arg));
    o.push_back(r.enter(0, 1, ext, m.ro(), size));
    return o;
  });
}

// ---- io_uring_register

TEST(UringUaccessDiff, RegisterBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    auto reg = [&](const struct iovec* iov, unsigned nr) {
      const int ret = r.reg(IORING_REGISTER_BUFFERS, const_cast<struct iovec*>(iov), nr);
      o.push_back(ret);
      if (ret == 0) o.push_back(r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0));
    };
    reg(nullptr, 1);
    reg(reinterpret_cast<struct iovec*>(m.gone()), 1);
    reg(reinterpret_cast<struct iovec*>(m.before_none(8)), 1);
    char* good = m.good();
    const struct iovec cases[][2] = {
        {{good, 4096}, {good, 100}},      // fine
        {{m.gone(), 4096}, {good, 100}},  // unmapped buffer
        {{m.none(), 4096}, {good, 100}},  // PROT_NONE buffer
        {{m.ro(), 4096}, {good, 100}},    // pinned for writing: read-only fails
        {{good, 8192}, {good, 100}},      // runs into PROT_NONE
        {{good, 4096}, {m.gone(), 100}},  // the second one is bad
        {{WildMemory::noncanonical(), 4096}, {good, 1}},
        {{WildMemory::kernel(), 4096}, {good, 1}},
        {{nullptr, 0}, {good, 1}},  // sparse slot
        {{nullptr, 1}, {good, 1}},
        {{reinterpret_cast<void*>(~0ull - 4095), 4096}, {good, 1}},
    };
    for (const auto& c : cases) reg(c, 2);
    // The array itself straddles: entry 0 readable, entry 1 not.
    auto* straddle = reinterpret_cast<struct iovec*>(m.before_none(sizeof(struct iovec)));
    *straddle = {good, 4096};
    reg(straddle, 2);
    return o;
  });
}

TEST(UringUaccessDiff, RegisterFilesAndUpdates) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    o.push_back(r.reg(IORING_REGISTER_FILES, m.gone(), 1));
    // One good descriptor, then the array runs into the bad page: nothing
    // stays registered.
    auto* fds = reinterpret_cast<int*>(m.before_none(sizeof(int)));
    fds[0] = 0;
    o.push_back(r.reg(IORING_REGISTER_FILES, fds, 2));
    o.push_back(r.reg(IORING_UNREGISTER_FILES, nullptr, 0));
    // Read-only memory is fine for reading.
    const int ro_fds[2] = {0, -1};
    m.fill_ro(ro_fds, sizeof(ro_fds));
    o.push_back(r.reg(IORING_REGISTER_FILES, m.ro(), 2));
    // Updates: the struct, then the descriptor array it points to.
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, nullptr, 1));
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, m.gone(), 1));
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, m.before_none(8), 1));
    io_uring_files_update up{};
    up.offset = 0;
    up.fds = reinterpret_cast<std::uintptr_t>(m.gone());
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, &up, 1));
    // The first of two is read and applied, the second faults: count 1.
    up.fds = reinterpret_cast<std::uintptr_t>(fds);
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, &up, 2));
    up.fds = reinterpret_cast<std::uintptr_t>(WildMemory::noncanonical());
    o.push_back(r.reg(IORING_REGISTER_FILES_UPDATE, &up, 1));
    o.push_back(r.reg(IORING_UNREGISTER_FILES, nullptr, 0));
    return o;
  });
}

TEST(UringUaccessDiff, RegisterEventfdProbeAndWorkers) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    o.push_back(r.reg(IORING_REGISTER_EVENTFD, nullptr, 1));
    o.push_back(r.reg(IORING_REGISTER_EVENTFD, m.gone(), 1));
    o.push_back(r.reg(IORING_REGISTER_EVENTFD, m.gone(), 2));  // count first
    o.push_back(r.reg(IORING_REGISTER_EVENTFD_ASYNC, m.before_none(2), 1));

    o.push_back(r.reg(IORING_REGISTER_PROBE, nullptr, 4));
    o.push_back(r.reg(IORING_REGISTER_PROBE, m.gone(), 4));
    o.push_back(r.reg(IORING_REGISTER_PROBE, m.before_none(16), 4));
    // Zeroed but read-only: read and checked, then the answer cannot go back.
    o.push_back(r.reg(IORING_REGISTER_PROBE, m.ro(), 4));

    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, nullptr, 2));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, m.gone(), 2));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, m.gone(), 3));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, m.before_none(4), 2));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, m.ro(), 2));  // {0, 0}: reads, no write
    unsigned big[2] = {0x80000000u, 0};
    o.push_back(r.reg(IORING_REGISTER_IOWQ_MAX_WORKERS, big, 2));
    return o;
  });
}

TEST(UringUaccessDiff, RegisterIowqAffinity) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    o.push_back(r.reg(IORING_REGISTER_IOWQ_AFF, nullptr, 8));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_AFF, m.gone(), 8));
    // CPU 0 in the last 8 readable bytes: as much is read as the kernel's
    // cpumask holds, not the length given.
    auto* mask = reinterpret_cast<std::uint64_t*>(m.before_none(8));
    *mask = 1;
    o.push_back(r.reg(IORING_REGISTER_IOWQ_AFF, mask, 8));
    o.push_back(r.reg(IORING_REGISTER_IOWQ_AFF, mask, 16));
    o.push_back(r.reg(IORING_UNREGISTER_IOWQ_AFF, nullptr, 0));
    return o;
  });
}

// Registered ring descriptors are per thread: each run starts clean.
TEST(UringUaccessDiff, RegisterRingFds) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    std::thread([&] {
      o.push_back(r.reg(IORING_REGISTER_RING_FDS, nullptr, 1));
      o.push_back(r.reg(IORING_REGISTER_RING_FDS, m.gone(), 1));
      o.push_back(r.reg(IORING_REGISTER_RING_FDS, m.gone(), 0));  // count first
      // Readable, so registered; the slot cannot be written back, so it is
      // released again.
      io_uring_rsrc_update u{};
      u.offset = static_cast<std::uint32_t>(-1);
      u.data = static_cast<std::uint64_t>(r.fd());
      m.fill_ro(&u, sizeof(u));
      o.push_back(r.reg(IORING_REGISTER_RING_FDS, m.ro(), 1));
      o.push_back(r.backend()->enter(0, 0, 0, IORING_ENTER_REGISTERED_RING, nullptr, 0));
      // Two entries, the second one unreadable: the first counts.
      auto* two = reinterpret_cast<io_uring_rsrc_update*>(m.before_none(sizeof(u)));
      *two = u;
      o.push_back(r.reg(IORING_REGISTER_RING_FDS, two, 2));
      o.push_back(static_cast<long>(two->offset));
      o.push_back(r.backend()->enter(static_cast<int>(two->offset), 0, 0,
                                     IORING_ENTER_REGISTERED_RING, nullptr, 0));
      o.push_back(r.reg(IORING_UNREGISTER_RING_FDS, m.gone(), 1));
      io_uring_rsrc_update drop{};
      drop.offset = two->offset;
      o.push_back(r.reg(IORING_UNREGISTER_RING_FDS, &drop, 1));
    }).join();
    return o;
  });
}

// IORING_REGISTER_RESTRICTIONS reads its array; once the ring is enabled
// the restrictions hold for SQEs and register calls.
TEST(UringUaccessDiff, Restrictions) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params disabled{};
  disabled.flags = IORING_SETUP_R_DISABLED;
  same(
      [](Ring& r, const WildMemory& m) {
        Outcome o;
        const unsigned op = IORING_REGISTER_RESTRICTIONS;
        o.push_back(r.reg(op, nullptr, 1));
        o.push_back(r.reg(op, m.gone(), 1));
        o.push_back(r.reg(op, WildMemory::noncanonical(), 1));
        // Two entries, the second one in the bad page.
        auto* two = reinterpret_cast<io_uring_restriction*>(m.before_none(16));
        *two = {};
        two->opcode = IORING_RESTRICTION_SQE_OP;
        two->sqe_op = IORING_OP_NOP;
        o.push_back(r.reg(op, two, 2));
        io_uring_restriction res[4] = {};
        res[0].opcode = 9;  // no such restriction
        o.push_back(r.reg(op, res, 1));
        res[0].opcode = IORING_RESTRICTION_SQE_OP;
        res[0].sqe_op = IORING_OP_NOP;
        res[1].opcode = IORING_RESTRICTION_REGISTER_OP;
        res[1].register_op = IORING_REGISTER_EVENTFD;
        res[2].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
        res[2].sqe_flags = IOSQE_IO_LINK;
        res[3].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
        res[3].sqe_flags = 0;
        // From read-only memory, which is fine; then only once.
        m.fill_ro(res, sizeof(res));
        o.push_back(r.reg(op, m.ro(), 4));
        o.push_back(r.reg(op, res, 4));
        // Nothing is restricted before the ring is enabled.
        o.push_back(r.reg(IORING_REGISTER_PROBE, nullptr, 4));
        o.push_back(r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
        o.push_back(r.reg(IORING_REGISTER_PROBE, nullptr, 4));
        o.push_back(r.reg(IORING_REGISTER_EVENTFD, nullptr, 1));
        o.push_back(r.reg(op, res, 4));
        // An SQE the restrictions refuse fails at init and ends the batch.
        auto one = [&](std::uint8_t opcode, const void* addr, unsigned len, std::uint64_t ud,
                       std::uint8_t flags) {
          add(r, opcode, -1, addr, len, 0, ud, flags);
          o.push_back(r.submit(0));
          put(o, r.wait(1));
        };
        one(IORING_OP_NOP, nullptr, 0, 1, IOSQE_IO_LINK);
        one(IORING_OP_NOP, nullptr, 0, 2, 0);
        one(IORING_OP_NOP, nullptr, 0, 3, IOSQE_ASYNC);
        one(IORING_OP_TIMEOUT, m.gone(), 1, 4, 0);  // refused before its timespec is read
        return o;
      },
      disabled);
  // A ring that was never disabled takes no restrictions.
  same([](Ring& r, const WildMemory& m) {
    return Outcome{r.reg(IORING_REGISTER_RESTRICTIONS, m.gone(), 1)};
  });
}

// ---- what SQEs point to

TEST(UringUaccessDiff, ReadvWritevIovecArrays) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    ScratchFile f(8192);
    Outcome o;
    char* buf = m.page(2);
    auto vec = [&](std::uint8_t op, int fd, const void* iov, unsigned nr, std::uint64_t ud) {
      prep(r.sqe(), op, fd, iov, nr, 0, ud);
      put(o, run(r, 1));
    };
    for (std::uint8_t op : {std::uint8_t{IORING_OP_READV}, std::uint8_t{IORING_OP_WRITEV}}) {
      vec(op, f.fd, m.gone(), 2, 1);
      vec(op, f.fd, m.none(), 1, 2);
      vec(op, f.fd, WildMemory::noncanonical(), 1, 3);
      vec(op, f.fd, m.gone(), 0, 4);     // nothing to read: fine
      vec(op, f.fd, m.gone(), 1025, 5);  // too many: -EINVAL first
      // Straddling array: entry 0 fine, entry 1 unreadable.
      auto* iov = reinterpret_cast<struct iovec*>(m.before_none(sizeof(struct iovec)));
      *iov = {buf, 16};
      vec(op, f.fd, iov, 2, 6);
      // A negative length before the fault wins; after it, the fault.
      *iov = {buf, static_cast<size_t>(-1)};
      vec(op, f.fd, iov, 2, 7);
      // Segments outside user space are refused at import.
      struct iovec segs[2] = {{buf, 16}, {WildMemory::kernel(), 16}};
      vec(op, f.fd, segs, 2, 8);
      segs[1] = {WildMemory::noncanonical(), 0};
      vec(op, f.fd, segs, 2, 9);
      // Segments in user space but unmapped: the transfer itself faults.
      segs[1] = {m.gone(), 16};
      vec(op, f.fd, segs, 2, 10);
      segs[0] = {m.gone(), 16};
      vec(op, f.fd, segs, 1, 11);
      // Read into read-only memory.
      segs[0] = {m.ro(), 16};
      vec(op, f.fd, segs, 1, 12);
      // A bad descriptor with a bad array: the array is read at prep,
      // before the file is looked up.
      vec(op, -1, m.gone(), 1, 13);
      vec(op, 1000, m.gone(), 1, 14);
      const struct iovec empty {};
      vec(op, -1, &empty, 1, 15);
    }
    return o;
  });
}

// A prep failure fails the whole link before anything runs; an issue
// failure lets earlier members run.
TEST(UringUaccessDiff, WhereTheFaultIsReportedInALink) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    ScratchFile f(8192);
    Outcome o;
    auto link = [&](std::uint8_t op, const void* addr, unsigned len, std::uint64_t ud) {
      add(r, IORING_OP_NOP, -1, nullptr, 0, 0, ud, IOSQE_IO_LINK);
      prep(r.sqe(), op, f.fd, addr, len, 0, ud + 1);
      put(o, run(r, 2));
    };
    link(IORING_OP_READV, m.gone(), 1, 10);
    link(IORING_OP_READ, WildMemory::noncanonical(), 16, 20);
    link(IORING_OP_READ, m.gone(), 16, 30);  // in user space: fails at issue
    link(IORING_OP_WRITE, WildMemory::kernel(), 16, 40);
    link(IORING_OP_READ, m.ro(), 16, 50);
    return o;
  });
}

// READV of 16 segments (more than fit inline) where the first attempt is
// short: the engine moves its iovec pointer and must still free the array
// it allocated, not the moved pointer. (Segments of 50 bytes make glibc's
// free() abort on the moved pointer even without ASan: the length it finds
// in front of it does not look like a chunk size.)
TEST(UringUaccessDiff, ShortReadvOfManySegments) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory&) {
    ScratchFile f(100);
    Outcome o;
    char buf[16][50];
    struct iovec iov[16];
    for (int i = 0; i < 16; ++i) iov[i] = {buf[i], sizeof(buf[i])};
    for (int round = 0; round < 3; ++round) {
      prep(r.sqe(), IORING_OP_READV, f.fd, iov, 16, 0, 1);
      prep(r.sqe(), IORING_OP_READV, f.fd, iov, 16, 30, 2);
      put(o, run(r, 2));
    }
    return o;
  });
}

TEST(UringUaccessDiff, Timeouts) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    Outcome o;
    auto one = [&](std::uint8_t op, const void* ts, unsigned len, std::uint64_t off,
                   std::uint64_t ud) {
      prep(r.sqe(), op, -1, ts, len, off, ud);
      put(o, run(r, 1));
    };
    one(IORING_OP_TIMEOUT, nullptr, 1, 0, 1);
    one(IORING_OP_TIMEOUT, m.gone(), 1, 0, 2);
    one(IORING_OP_TIMEOUT, m.before_none(8), 1, 0, 3);
    one(IORING_OP_TIMEOUT, WildMemory::noncanonical(), 1, 0, 4);
    one(IORING_OP_TIMEOUT, m.gone(), 2, 0, 5);  // len first
    one(IORING_OP_TIMEOUT, m.gone(), 1, 3, 6);  // by count: still read
    // From read-only memory: a timeout of 0 that fires at once.
    one(IORING_OP_TIMEOUT, m.ro(), 1, 0, 7);
    // TIMEOUT_REMOVE reads a timespec only for an update.
    one(IORING_OP_TIMEOUT_REMOVE, m.gone(), 0, 0, 8);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 9);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;
    s->addr2 = reinterpret_cast<std::uintptr_t>(m.gone());
    put(o, run(r, 1));
    s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 10);
    s->timeout_flags = IORING_TIMEOUT_UPDATE;
    s->addr2 = reinterpret_cast<std::uintptr_t>(m.before_none(12));
    put(o, run(r, 1));
    s = r.sqe();
    prep(s, IORING_OP_TIMEOUT_REMOVE, -1, nullptr, 0, 0, 11);
    s->timeout_flags = IORING_TIMEOUT_UPDATE | IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_REALTIME;
    s->addr2 = reinterpret_cast<std::uintptr_t>(m.gone());  // flags first
    put(o, run(r, 1));
    // LINK_TIMEOUT with a bad timespec fails its link at prep.
    add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 12, IOSQE_IO_LINK);
    prep(r.sqe(), IORING_OP_LINK_TIMEOUT, -1, m.gone(), 1, 0, 13);
    put(o, run(r, 2));
    return o;
  });
}

TEST(UringUaccessDiff, OpenatAndStatxPaths) {
  SKIP_WITHOUT_KERNEL_URING();
  same([](Ring& r, const WildMemory& m) {
    ScratchFile f(10);
    Outcome o;
    auto open_at = [&](const void* path, std::uint64_t ud, unsigned file_index = 0) {
      io_uring_sqe* s = r.sqe();
      prep(s, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, ud);
      s->open_flags = O_RDONLY;
      s->file_index = file_index;
      auto c = run(r, 1);
      if (!c.empty() && c[0].res >= 0) {
        ::close(c[0].res);
        c[0].res = 0;
      }
      put(o, c);
    };
    open_at(nullptr, 1);
    open_at(m.gone(), 2);
    open_at(m.none(), 3);
    open_at(WildMemory::noncanonical(), 4);
    open_at(WildMemory::kernel(), 5);
    open_at("", 6);
    // No NUL before the bad page, then a NUL right before it.
    std::memset(m.before_none(8), 'x', 8);
    open_at(m.before_none(8), 7);
    std::memcpy(m.before_none(8), "/nope/\0", 8);
    open_at(m.before_none(8), 8);
    // Paths of PATH_MAX bytes and more have no room for the NUL.
    std::string longest(PATH_MAX - 1, 'a');
    open_at(longest.c_str(), 9);
    std::string too_long(PATH_MAX, 'a');
    open_at(too_long.c_str(), 10);
    open_at(f.path.c_str(), 11);
    // The path is read before the (here unsupported) direct slot is looked at.
    open_at(m.gone(), 12, 1);

    auto stat_at = [&](const void* path, int flags, void* buf, std::uint64_t ud) {
      io_uring_sqe* s = r.sqe();
      prep(s, IORING_OP_STATX, flags & AT_EMPTY_PATH ? f.fd : AT_FDCWD, path, STATX_SIZE, 0, ud);
      s->statx_flags = static_cast<std::uint32_t>(flags);
      s->addr2 = reinterpret_cast<std::uintptr_t>(buf);
      put(o, run(r, 1));
    };
    struct statx stx {};
    stat_at(m.gone(), 0, &stx, 20);
    stat_at("", 0, &stx, 21);
    stat_at("", AT_EMPTY_PATH, &stx, 22);
    stat_at(f.path.c_str(), 0, m.gone(), 23);  // the result buffer: at issue
    stat_at(f.path.c_str(), 0, m.ro(), 24);
    stat_at(f.path.c_str(), 0, m.before_none(100), 25);
    stat_at(nullptr, AT_EMPTY_PATH, &stx, 26);
    stat_at(f.path.c_str(), 0, &stx, 27);
    o.push_back(static_cast<long>(stx.stx_size));
    return o;
  });
}

}  // namespace
}  // namespace uring_test
