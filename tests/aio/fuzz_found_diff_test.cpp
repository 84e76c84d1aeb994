// Differences iostack-fuzz found between the kernel's AIO and iostack's,
// each one iocb compared with the kernel: io_submit's result, and the
// event's res when the request was queued.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <functional>
#include <map>

#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

struct Result {
  long submit = 0;
  long long res = 0;
};

Result run(const AioBackend& b, const std::function<struct iocb()>& make) {
  Result r;
  aio_context_t ctx = 0;
  EXPECT_EQ(b.setup(4, &ctx), 0);
  struct iocb cb = make();
  r.submit = submit1(b, ctx, &cb);
  if (r.submit == 1) {
    struct io_event ev {};
    EXPECT_EQ(reap1(b, ctx, &ev), 1);
    r.res = static_cast<long long>(ev.res);
  }
  EXPECT_EQ(b.destroy(ctx), 0);
  return r;
}

void expect_same(const char* what, const std::function<struct iocb()>& make) {
  SCOPED_TRACE(what);
  const Result k = run(kernel_aio(), make);
  const Result s = run(iostack_aio(), make);
  EXPECT_EQ(s.submit, k.submit);
  EXPECT_EQ(s.res, k.res);
}

class AioFuzzFound : public ::testing::Test {
 protected:
  TempFile file_{8192};
  char buf_[8192] = {};
};

TEST_F(AioFuzzFound, WhatTheFileCannotDoIsRefusedAtSubmit) {
  char dtmpl[] = "/tmp/iostack-aiofuzz-XXXXXX";
  ASSERT_NE(mkdtemp(dtmpl), nullptr);
  const int dir = open(dtmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int efd = eventfd(0, EFD_CLOEXEC);
  char* buf = buf_;
  std::uint64_t one = 1;
  // A directory has no read_iter, and no FMODE_NOWAIT for the flag check first.
  expect_same("read a directory", [&] { return make_iocb(dir, IOCB_CMD_PREAD, buf, 64); });
  expect_same("read nothing of a directory",
              [&] { return make_iocb(dir, IOCB_CMD_PREAD, buf, 0); });
  expect_same("read a directory, RWF_NOWAIT", [&] {
    auto cb = make_iocb(dir, IOCB_CMD_PREAD, buf, 64);
    cb.aio_rw_flags = RWF_NOWAIT;
    return cb;
  });
  static struct iovec bad[1] = {{reinterpret_cast<void*>(0xffff888000000000ull), 8}};
  expect_same("readv a directory into kernel memory",
              [&] { return make_iocb(dir, IOCB_CMD_PREADV, bad, 1); });
  // An eventfd has no write_iter: AIO cannot write it at all.
  expect_same("write an eventfd", [&] { return make_iocb(efd, IOCB_CMD_PWRITE, &one, 8); });
  // An eventfd read of less than 8 bytes fails in the event, also when empty.
  expect_same("read nothing of an eventfd", [&] { return make_iocb(efd, IOCB_CMD_PREAD, buf, 0); });
  ::close(efd);
  ::close(dir);
  rmdir(dtmpl);
}

TEST_F(AioFuzzFound, RwFlagsTheFileDoesNotSupport) {
  const int fd = file_.fd();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char* buf = buf_;
  // RWF_ATOMIC needs an O_DIRECT file, also ahead of a bad buffer.
  expect_same("RWF_ATOMIC buffered write", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PWRITE, buf, 512);
    cb.aio_rw_flags = 0x40;
    return cb;
  });
  expect_same("RWF_ATOMIC with a NULL iovec array", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PWRITEV, nullptr, 1, 4096);
    cb.aio_rw_flags = 0x40;
    return cb;
  });
  // RWF_DONTCACHE needs a file system that has it: never a pipe.
  expect_same("RWF_DONTCACHE on a pipe", [&] {
    auto cb = make_iocb(p[0], IOCB_CMD_PREAD, buf, 64);
    cb.aio_rw_flags = 0x80;
    return cb;
  });
  // An empty RWF_NOWAIT buffered write: the file system's answer.
  expect_same("empty RWF_NOWAIT write", [&] {
    auto cb = make_iocb(fd, IOCB_CMD_PWRITE, buf, 0, 100);
    cb.aio_rw_flags = RWF_NOWAIT;
    return cb;
  });
  ::close(p[0]);
  ::close(p[1]);
}

// An FSYNC that signals a blocking eventfd (IOCB_FLAG_RESFD), and a read of
// that eventfd in the same io_submit: the kernel queued the fsync's work
// when it took the iocb, and the read, done inside io_submit, waits for
// its signal. iostack handed its work to the pool only once the whole
// batch was taken, so the read waited for nothing forever (fuzz seed
// 365329).
TEST_F(AioFuzzFound, ReadOfAnEventfdWaitsForTheSignalOfAnFsyncBeforeIt) {
  if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO";
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    const int efd = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(4, &ctx), 0);
    std::uint64_t got = 0;
    struct iocb cbs[2] = {make_iocb(file_.fd(), IOCB_CMD_FSYNC, nullptr, 0, 0, 1),
                          make_iocb(efd, IOCB_CMD_PREAD, &got, 8, 0, 2)};
    cbs[0].aio_flags = IOCB_FLAG_RESFD;
    cbs[0].aio_resfd = static_cast<std::uint32_t>(efd);
    struct iocb* list[2] = {&cbs[0], &cbs[1]};
    EXPECT_EQ(b->submit(ctx, 2, list), 2);
    struct io_event ev[2] = {};
    struct timespec ts = {5, 0};
    EXPECT_EQ(b->getevents(ctx, 2, 2, ev, &ts), 2);
    for (const struct io_event& e : ev) EXPECT_EQ(e.res, e.data == 1 ? 0 : 8) << e.data;
    EXPECT_EQ(got, 1u);
    EXPECT_EQ(b->destroy(ctx), 0);
    ::close(efd);
  }
}

// A POLL of an eventfd waits; a later io_submit's POLL that is ready at once
// signals that eventfd as its resfd, and the kernel completes the waiting
// POLL inside that signal (aio_poll_wake), before a read of the eventfd
// later in the same io_submit takes the count. iostack's poll thread saw
// the signal only after the read, when the eventfd was empty again, so
// the POLL went on waiting (fuzz seed 404923).
TEST_F(AioFuzzFound, ResfdSignalCompletesAPollOfItBeforeTheNextIocb) {
  if (!kernel_has_aio()) GTEST_SKIP() << "the kernel refuses AIO";
  std::map<std::uint64_t, long long> res[2];
  int n = 0;
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int p[2];
    ASSERT_GE(efd, 0);
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(8, &ctx), 0);
    struct iocb first = make_iocb(efd, IOCB_CMD_POLL, nullptr, 0, 0, 1);
    first.aio_buf = POLLIN;
    EXPECT_EQ(submit1(*b, ctx, &first), 1);
    std::uint64_t got = 0;
    struct iocb cbs[2] = {make_iocb(p[1], IOCB_CMD_POLL, nullptr, 0, 0, 2),
                          make_iocb(efd, IOCB_CMD_PREAD, &got, 8, 0, 3)};
    cbs[0].aio_buf = POLLOUT;
    cbs[0].aio_flags = IOCB_FLAG_RESFD;
    cbs[0].aio_resfd = static_cast<std::uint32_t>(efd);
    struct iocb* list[2] = {&cbs[0], &cbs[1]};
    EXPECT_EQ(b->submit(ctx, 2, list), 2);
    struct io_event ev[3] = {};
    struct timespec ts = {1, 0};
    const long got_events = b->getevents(ctx, 3, 3, ev, &ts);
    for (long i = 0; i < got_events; ++i) res[n][ev[i].data] = static_cast<long long>(ev[i].res);
    EXPECT_EQ(got, 1u);
    EXPECT_EQ(b->destroy(ctx), 0);
    for (int fd : {efd, p[0], p[1]}) ::close(fd);
    ++n;
  }
  EXPECT_EQ(res[0][1], POLLIN);
  EXPECT_EQ(res[1], res[0]);
}

}  // namespace
}  // namespace iostack::aio::testing
