// io_submit's checks against the kernel's: each malformed iocb gets the same
// errno (or the same io_event result when the kernel reports it there), a
// partial batch returns the count, and the request budget runs out at the
// same point.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <functional>
#include <vector>

#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

struct Outcome {
  long submit = 0;
  long events = 0;
  long long res = 0;
};

// Runs `make` on a fresh context of each backend; returns submit's result
// and, when something was queued, the event's res.
Outcome run(const AioBackend& b, const std::function<struct iocb()>& make) {
  Outcome o;
  aio_context_t ctx = 0;
  EXPECT_EQ(b.setup(16, &ctx), 0);
  struct iocb cb = make();
  cb.aio_key = 0xdead;
  o.submit = submit1(b, ctx, &cb);
  if (o.submit == 1) {
    EXPECT_EQ(cb.aio_key, 0u) << b.name << ": aio_key is written on submit";
    struct io_event ev {};
    o.events = reap1(b, ctx, &ev);
    o.res = static_cast<long long>(ev.res);
    EXPECT_EQ(ev.obj, reinterpret_cast<std::uintptr_t>(&cb));
  }
  EXPECT_EQ(b.destroy(ctx), 0);
  return o;
}

void expect_same(const char* what, const std::function<struct iocb()>& make) {
  SCOPED_TRACE(what);
  const Outcome k = run(kernel_aio(), make);
  const Outcome s = run(iostack_aio(), make);
  EXPECT_EQ(s.submit, k.submit);
  EXPECT_EQ(s.events, k.events);
  EXPECT_EQ(s.res, k.res);
}

class AioSubmitErrors : public ::testing::Test {
 protected:
  TempFile file_{8192};
  char buf_[8192];
};

TEST_F(AioSubmitErrors, IocbFieldChecks) {
  const int fd = file_.fd();
  char* buf = buf_;
  expect_same("good read", [&] { return make_iocb(fd, IOCB_CMD_PREAD, buf, 100, 10); });
  expect_same("reserved2", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 100);
    cb.aio_reserved2 = 1;
    return cb;
  });
  expect_same("negative nbytes", [&] { return make_iocb(fd, IOCB_CMD_PREAD, buf, ~0ull); });
  expect_same("NOOP", [&] { return make_iocb(fd, IOCB_CMD_NOOP); });
  expect_same("opcode 99", [&] { return make_iocb(fd, 99); });
  expect_same("bad fd", [&] { return make_iocb(9999, IOCB_CMD_PREAD, buf, 1); });
  expect_same("bad fd and opcode", [&] { return make_iocb(9999, 99); });
  expect_same("negative offset", [&] { return make_iocb(fd, IOCB_CMD_PREAD, buf, 1, -1); });
  expect_same("offset overflow",
              [&] { return make_iocb(fd, IOCB_CMD_PREAD, buf, 100, 0x7fffffffffffffffll - 10); });
  expect_same("unknown aio_flags bits", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = 0x80;
    return cb;
  });
  for (std::uint32_t flags : {0x200u, 0x1000u, 0x30u, 0x40u, 0x100u, 0x1u, 0x2u, 0x4u, 0x8u}) {
    expect_same(("rw_flags " + std::to_string(flags)).c_str(), [&] {
      auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 16);
      cb.aio_rw_flags = flags;
      return cb;
    });
  }
  expect_same("ioprio class 7", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = IOCB_FLAG_IOPRIO;
    cb.aio_reqprio = static_cast<__s16>(0xe000);
    return cb;
  });
  expect_same("ioprio BE/3", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = IOCB_FLAG_IOPRIO;
    cb.aio_reqprio = (2 << 13) | 3;
    return cb;
  });
  expect_same("kernel address", [&] {
    return make_iocb(fd, IOCB_CMD_PREAD, reinterpret_cast<void*>(0xffffffffffff0000ull), 10);
  });
  expect_same("NULL buffer", [&] { return make_iocb(fd, IOCB_CMD_PREAD, nullptr, 10); });
  expect_same("1025 segments", [&] { return make_iocb(fd, IOCB_CMD_PREADV, nullptr, 1025); });
  expect_same("0 segments", [&] { return make_iocb(fd, IOCB_CMD_PREADV, nullptr, 0); });
  static struct iovec neg[2] = {{nullptr, 0}, {nullptr, static_cast<size_t>(-5)}};
  neg[0].iov_base = buf;
  neg[0].iov_len = 10;
  expect_same("negative iov_len", [&] { return make_iocb(fd, IOCB_CMD_PREADV, neg, 2); });
}

TEST_F(AioSubmitErrors, AccessModes) {
  const int ro = file_.reopen(O_RDONLY);
  const int wo = file_.reopen(O_WRONLY);
  const int path = file_.reopen(O_PATH);
  char* buf = buf_;
  expect_same("write O_RDONLY", [&] { return make_iocb(ro, IOCB_CMD_PWRITE, buf, 1); });
  expect_same("read O_WRONLY", [&] { return make_iocb(wo, IOCB_CMD_PREAD, buf, 1); });
  expect_same("read O_PATH", [&] { return make_iocb(path, IOCB_CMD_PREAD, buf, 1); });
  expect_same("fsync O_RDONLY", [&] { return make_iocb(ro, IOCB_CMD_FSYNC); });
  ::close(ro);
  ::close(wo);
  ::close(path);
}

TEST_F(AioSubmitErrors, FsyncPollAndEventfdChecks) {
  const int fd = file_.fd();
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  expect_same("fsync", [&] { return make_iocb(fd, IOCB_CMD_FSYNC); });
  expect_same("fdsync", [&] { return make_iocb(fd, IOCB_CMD_FDSYNC); });
  expect_same("fsync nbytes", [&] { return make_iocb(fd, IOCB_CMD_FSYNC, nullptr, 1); });
  expect_same("fsync offset", [&] { return make_iocb(fd, IOCB_CMD_FSYNC, nullptr, 0, 4); });
  expect_same("fsync pipe", [&] { return make_iocb(p[0], IOCB_CMD_FSYNC); });
  expect_same("poll regular POLLIN", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_POLL);
    cb.aio_buf = POLLIN;
    return cb;
  });
  expect_same("poll regular POLLPRI", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_POLL);
    cb.aio_buf = POLLPRI;
    return cb;
  });
  expect_same("poll events > 16 bits", [&] {
    auto cb = make_iocb(p[1], IOCB_CMD_POLL);
    cb.aio_buf = 0x10000 | POLLOUT;
    return cb;
  });
  expect_same("poll nbytes", [&] {
    auto cb = make_iocb(p[1], IOCB_CMD_POLL, nullptr, 1);
    cb.aio_buf = POLLOUT;
    return cb;
  });
  expect_same("poll pipe writable", [&] {
    auto cb = make_iocb(p[1], IOCB_CMD_POLL);
    cb.aio_buf = POLLOUT;
    return cb;
  });
  const int efd = ::eventfd(0, 0);
  char* buf = buf_;
  expect_same("resfd not an eventfd", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = static_cast<std::uint32_t>(fd);
    return cb;
  });
  expect_same("resfd closed", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = 9998;
    return cb;
  });
  expect_same("resfd eventfd", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PREAD, buf, 1);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = static_cast<std::uint32_t>(efd);
    return cb;
  });
  std::uint64_t count = 0;
  ASSERT_EQ(::read(efd, &count, sizeof(count)), 8);
  EXPECT_EQ(count, 2u) << "one signal per completion, from each backend";
  ::close(efd);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(AioSubmitErrors, PartialBatchesAndArguments) {
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(16, &ctx), 0);
    struct iocb good = make_iocb(file_.fd(), IOCB_CMD_PREAD, buf_, 8);
    struct iocb bad = make_iocb(file_.fd(), 99);
    struct iocb* gb[] = {&good, &bad, &good};
    EXPECT_EQ(b->submit(ctx, 3, gb), 1);
    struct iocb* bg[] = {&bad, &good};
    EXPECT_EQ(b->submit(ctx, 2, bg), -EINVAL);
    struct iocb* gn[] = {&good, nullptr};
    EXPECT_EQ(b->submit(ctx, 2, gn), 1);
    EXPECT_EQ(b->submit(ctx, -1, gb), -EINVAL);
    EXPECT_EQ(b->submit(ctx, 0, gb), 0);
    struct io_event ev[4];
    struct timespec ts = {1, 0};
    EXPECT_EQ(b->getevents(ctx, 2, 4, ev, &ts), 2);
    EXPECT_EQ(b->destroy(ctx), 0);
  }
}

// The request budget: nr_events - 1 ring slots, handed to CPUs in batches,
// so one CPU alone gets fewer; io_submit caps nr at the ring size.
TEST_F(AioSubmitErrors, RequestBudgetMatchesKernel) {
  PinCpu pin;
  if (!pin.ok()) GTEST_SKIP() << "cannot pin to CPU 0";
  for (unsigned nr_events : {1u, 32u, 128u}) {
    SCOPED_TRACE(nr_events);
    std::vector<long> results[2];
    int which = 0;
    for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
      aio_context_t ctx = 0;
      ASSERT_EQ(b->setup(nr_events, &ctx), 0);
      const unsigned ring_nr = ring_of(ctx)->nr;
      std::vector<struct iocb> cbs(ring_nr + 50, make_iocb(file_.fd(), IOCB_CMD_PREAD, buf_, 4));
      std::vector<struct iocb*> ptrs;
      for (auto& cb : cbs) ptrs.push_back(&cb);
      std::vector<struct io_event> evs(ring_nr + 50);
      struct timespec ts = {2, 0};
      long first = b->submit(ctx, static_cast<long>(ptrs.size()), ptrs.data());
      results[which].push_back(first);
      results[which].push_back(b->submit(ctx, static_cast<long>(ptrs.size()), ptrs.data()));
      results[which].push_back(
          b->getevents(ctx, first, static_cast<long>(evs.size()), evs.data(), &ts));
      // Consumed events give their slots back.
      results[which].push_back(b->submit(ctx, static_cast<long>(ptrs.size()), ptrs.data()));
      results[which].push_back(
          b->getevents(ctx, results[which].back(), static_cast<long>(evs.size()), evs.data(), &ts));
      EXPECT_EQ(b->destroy(ctx), 0);
      ++which;
    }
    EXPECT_EQ(results[1], results[0]);
    EXPECT_EQ(results[0][1], -EAGAIN);
  }
}

}  // namespace
}  // namespace iostack::aio::testing
