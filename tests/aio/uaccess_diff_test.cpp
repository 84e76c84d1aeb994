// Wild pointers through every AIO system call, to the kernel and to iostack:
// unmapped, PROT_NONE, read-only, straddling, non-canonical and kernel
// addresses for ctxp, the iocb array, the iocbs, their buffers and iovec
// arrays, the event array, timeouts and signal masks must give the same
// return values and io_event results, and never a crash.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <vector>

#include "../common/wild_memory.hpp"
#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

using iostack::test::WildMemory;
using Outcome = std::vector<long>;

bool kernel_aio_usable(std::string* why) {
  aio_context_t ctx = 0;
  const long r = kernel_aio().setup(1, &ctx);
  if (r != 0) {
    *why = "kernel io_setup refused: " + std::to_string(r);
    return false;
  }
  kernel_aio().destroy(ctx);
  return true;
}

class AioUaccessDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!kernel_aio_usable(&why)) GTEST_SKIP() << why;
    if (!mem_.ok()) GTEST_SKIP() << "the fixed test address is in use";
  }

  // Runs `seq` against a fresh context of each backend and compares.
  void same(const std::function<Outcome(const AioBackend&, aio_context_t)>& seq) {
    Outcome k, s;
    for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
      aio_context_t ctx = 0;
      ASSERT_EQ(b->setup(16, &ctx), 0) << b->name;
      (b == &kernel_aio() ? k : s) = seq(*b, ctx);
      EXPECT_EQ(b->destroy(ctx), 0) << b->name;
    }
    EXPECT_EQ(k, s) << "kernel vs iostack";
  }

  // Submits `n` iocbs through `list`; when some went in, reaps that many
  // events and records their results.
  static void submit(Outcome& o, const AioBackend& b, aio_context_t ctx, long n,
                     struct iocb** list) {
    const long r = b.submit(ctx, n, list);
    o.push_back(r);
    for (long i = 0; i < r; ++i) {
      struct io_event ev {};
      o.push_back(reap1(b, ctx, &ev));
      o.push_back(static_cast<long>(ev.res));
    }
  }
  static void submit1(Outcome& o, const AioBackend& b, aio_context_t ctx, struct iocb* cb) {
    struct iocb* list[1] = {cb};
    submit(o, b, ctx, 1, list);
  }

  TempFile file_{16384};
  WildMemory mem_;
};

TEST_F(AioUaccessDiff, IoSetupContextPointer) {
  const WildMemory& m = mem_;
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    const unsigned long nr_before = iostack_aio_nr();
    EXPECT_EQ(b->setup(8, nullptr), -EFAULT);
    EXPECT_EQ(b->setup(8, reinterpret_cast<aio_context_t*>(m.gone())), -EFAULT);
    EXPECT_EQ(b->setup(8, reinterpret_cast<aio_context_t*>(m.none())), -EFAULT);
    EXPECT_EQ(b->setup(8, reinterpret_cast<aio_context_t*>(m.before_none(4))), -EFAULT);
    EXPECT_EQ(b->setup(8, static_cast<aio_context_t*>(WildMemory::noncanonical())), -EFAULT);
    EXPECT_EQ(b->setup(8, static_cast<aio_context_t*>(WildMemory::kernel())), -EFAULT);
    // Read-only: a non-zero value is refused before anything is made...
    const aio_context_t one = 1;
    m.fill_ro(&one, sizeof(one));
    EXPECT_EQ(b->setup(8, reinterpret_cast<aio_context_t*>(m.ro())), -EINVAL);
    // ...a zero is read, the context made, the id cannot be written back:
    // the context is gone again, its events no longer counted.
    const aio_context_t zero = 0;
    m.fill_ro(&zero, sizeof(zero));
    EXPECT_EQ(b->setup(8, reinterpret_cast<aio_context_t*>(m.ro())), -EFAULT);
    EXPECT_EQ(iostack_aio_nr(), nr_before);
  }
}

TEST_F(AioUaccessDiff, IoSubmitIocbArrayAndIocbs) {
  const WildMemory& m = mem_;
  const int fd = file_.fd();
  same([&](const AioBackend& b, aio_context_t ctx) {
    Outcome o;
    char* buf = m.page(2);
    struct iocb good = make_iocb(fd, IOCB_CMD_PREAD, buf, 100, 0, 7);
    // The array of pointers.
    o.push_back(b.submit(ctx, 1, nullptr));
    o.push_back(b.submit(ctx, 1, reinterpret_cast<struct iocb**>(m.gone())));
    o.push_back(b.submit(ctx, 0, reinterpret_cast<struct iocb**>(m.gone())));
    o.push_back(b.submit(ctx, 1, static_cast<struct iocb**>(WildMemory::noncanonical())));
    // Its second entry unreadable: the first one is submitted.
    auto** list = reinterpret_cast<struct iocb**>(m.before_none(sizeof(void*)));
    list[0] = &good;
    submit(o, b, ctx, 2, list);
    // The iocbs it points to.
    struct iocb* bad[] = {nullptr,
                          reinterpret_cast<struct iocb*>(m.gone()),
                          reinterpret_cast<struct iocb*>(m.none()),
                          reinterpret_cast<struct iocb*>(m.before_none(32)),
                          static_cast<struct iocb*>(WildMemory::noncanonical()),
                          static_cast<struct iocb*>(WildMemory::kernel())};
    for (struct iocb* cb : bad) submit1(o, b, ctx, cb);
    // A good iocb, then a bad one: one submitted.
    struct iocb* pair[2] = {&good, reinterpret_cast<struct iocb*>(m.gone())};
    submit(o, b, ctx, 2, pair);
    // Readable but read-only: aio_key cannot be written, nothing runs.
    m.fill_ro(&good, sizeof(good));
    submit1(o, b, ctx, reinterpret_cast<struct iocb*>(m.ro()));
    // A bad descriptor is found before aio_key is written.
    struct iocb badfd = make_iocb(9999, IOCB_CMD_PREAD, buf, 100);
    m.fill_ro(&badfd, sizeof(badfd));
    submit1(o, b, ctx, reinterpret_cast<struct iocb*>(m.ro()));
    return o;
  });
}

TEST_F(AioUaccessDiff, BuffersAndIovecArrays) {
  const WildMemory& m = mem_;
  const int fd = file_.fd();
  same([&](const AioBackend& b, aio_context_t ctx) {
    Outcome o;
    char* buf = m.page(2);
    auto one = [&](int op, const void* p, std::uint64_t n) {
      struct iocb cb = make_iocb(fd, op, const_cast<void*>(p), n, 0);
      submit1(o, b, ctx, &cb);
    };
    // Plain buffers: outside user space at submission, unmapped or
    // read-only when the (buffered) transfer runs.
    one(IOCB_CMD_PREAD, WildMemory::noncanonical(), 16);
    one(IOCB_CMD_PREAD, WildMemory::kernel(), 16);
    one(IOCB_CMD_PREAD, m.gone(), 16);
    one(IOCB_CMD_PREAD, m.ro(), 16);
    one(IOCB_CMD_PREAD, m.before_none(10), 16);
    one(IOCB_CMD_PWRITE, m.gone(), 16);
    one(IOCB_CMD_PWRITE, m.ro(), 16);
    // iovec arrays.
    for (int op : {IOCB_CMD_PREADV, IOCB_CMD_PWRITEV}) {
      one(op, nullptr, 1);
      one(op, m.gone(), 2);
      one(op, m.none(), 1);
      one(op, WildMemory::noncanonical(), 1);
      one(op, m.gone(), 0);
      auto* iov = reinterpret_cast<struct iovec*>(m.before_none(sizeof(struct iovec)));
      *iov = {buf, 16};
      one(op, iov, 2);  // the second entry is unreadable
      *iov = {buf, static_cast<size_t>(-1)};
      one(op, iov, 2);  // a negative length before the fault: -EINVAL
      struct iovec segs[16];
      for (auto& s : segs) s = {buf, 8};
      segs[1] = {WildMemory::kernel(), 8};
      one(op, segs, 2);
      segs[1] = {m.gone(), 8};
      one(op, segs, 2);   // transferred up to the fault
      one(op, segs, 16);  // the same with the array on the heap
      segs[1] = {m.ro(), 8};
      one(op, segs, 2);
      // The segment count is an unsigned int: 2^32 + 1 is one segment.
      one(op, segs, (1ull << 32) + 1);
    }
    return o;
  });
}

TEST_F(AioUaccessDiff, GeteventsOutputAndTimeout) {
  const WildMemory& m = mem_;
  const int fd = file_.fd();
  same([&](const AioBackend& b, aio_context_t ctx) {
    Outcome o;
    char* buf = m.page(2);
    struct iocb cbs[2] = {make_iocb(fd, IOCB_CMD_PREAD, buf, 10, 0, 1),
                          make_iocb(fd, IOCB_CMD_PREAD, buf, 20, 0, 2)};
    struct iocb* list[2] = {&cbs[0], &cbs[1]};
    o.push_back(b.submit(ctx, 2, list));  // buffered: both complete inside
    struct timespec zero {
      0, 0
    };
    auto* bad_events = reinterpret_cast<struct io_event*>(m.gone());
    o.push_back(b.getevents(ctx, 0, 1, bad_events, &zero));
    o.push_back(b.getevents(ctx, 0, 1, reinterpret_cast<struct io_event*>(m.ro()), &zero));
    o.push_back(b.getevents(ctx, 0, 1, static_cast<struct io_event*>(WildMemory::kernel()), &zero));
    // Room for one event before the bad page: the whole call fails and
    // both events stay in the ring.
    auto* one_fits = reinterpret_cast<struct io_event*>(m.before_none(sizeof(struct io_event)));
    o.push_back(b.getevents(ctx, 0, 2, one_fits, &zero));
    o.push_back(b.getevents(ctx, 0, 1, one_fits, &zero));
    o.push_back(static_cast<long>(one_fits->data));
    struct io_event ev[2]{};
    o.push_back(b.getevents(ctx, 0, 2, ev, &zero));
    o.push_back(static_cast<long>(ev[0].data));
    // Nothing left: nothing written, whatever the pointer.
    o.push_back(b.getevents(ctx, 0, 1, bad_events, &zero));
    // Timeouts are read first.
    o.push_back(b.getevents(ctx, 0, 1, ev, reinterpret_cast<struct timespec*>(m.gone())));
    o.push_back(b.getevents(ctx, 0, 1, ev, reinterpret_cast<struct timespec*>(m.before_none(8))));
    o.push_back(b.getevents(ctx, 5, 1, ev, reinterpret_cast<struct timespec*>(m.gone())));
    o.push_back(b.getevents(0, 0, 1, ev, reinterpret_cast<struct timespec*>(m.gone())));
    return o;
  });
}

struct AioSigset {
  const sigset_t* sigmask;
  std::size_t sigsetsize;
};

TEST_F(AioUaccessDiff, PgeteventsSignalMask) {
  const WildMemory& m = mem_;
  same([&](const AioBackend& b, aio_context_t ctx) {
    Outcome o;
    struct io_event ev {};
    struct timespec zero {
      0, 0
    };
    struct timespec ms {
      0, 1000 * 1000
    };
    sigset_t set;
    sigemptyset(&set);
    o.push_back(b.pgetevents(ctx, 0, 1, &ev, &zero, m.gone()));
    o.push_back(b.pgetevents(ctx, 0, 1, &ev, &zero, m.before_none(8)));
    AioSigset s{reinterpret_cast<const sigset_t*>(m.gone()), 8};
    o.push_back(b.pgetevents(ctx, 1, 1, &ev, &ms, &s));
    s.sigsetsize = 16;
    o.push_back(b.pgetevents(ctx, 1, 1, &ev, &ms, &s));  // the size first
    s.sigmask = reinterpret_cast<const sigset_t*>(m.before_none(4));
    s.sigsetsize = 8;
    o.push_back(b.pgetevents(ctx, 1, 1, &ev, &ms, &s));
    // The timeout is read before the mask: its fault wins over -EINVAL.
    s.sigmask = &set;
    s.sigsetsize = 16;
    o.push_back(b.pgetevents(ctx, 0, 1, &ev, reinterpret_cast<struct timespec*>(m.gone()), &s));
    // No mask pointer: nothing else read. A good one, from read-only memory.
    s.sigmask = nullptr;
    o.push_back(b.pgetevents(ctx, 0, 1, &ev, &zero, &s));
    s.sigmask = &set;
    s.sigsetsize = 8;
    m.fill_ro(&s, sizeof(s));
    o.push_back(b.pgetevents(ctx, 1, 1, &ev, &ms, m.ro()));
    return o;
  });
}

TEST_F(AioUaccessDiff, CancelReadsAioKey) {
  const WildMemory& m = mem_;
  same([&](const AioBackend& b, aio_context_t ctx) {
    Outcome o;
    struct io_event res {};
    o.push_back(b.cancel(ctx, nullptr, &res));
    o.push_back(b.cancel(ctx, reinterpret_cast<struct iocb*>(m.gone()), &res));
    o.push_back(b.cancel(ctx, static_cast<struct iocb*>(WildMemory::noncanonical()), &res));
    // aio_key sits at offset 8: readable in front of the bad page.
    o.push_back(b.cancel(ctx, reinterpret_cast<struct iocb*>(m.before_none(12)), &res));
    o.push_back(b.cancel(ctx, reinterpret_cast<struct iocb*>(m.before_none(8)), &res));
    return o;
  });
}

}  // namespace
}  // namespace iostack::aio::testing
