// io_setup / io_destroy against the kernel: ring geometry and header for a
// table of sizes, context ids, argument errors and aio-max-nr.
#include <gtest/gtest.h>

#include <cstdio>

#include <fstream>
#include <vector>

#include "aio_backends.hpp"

namespace iostack::aio::testing {
namespace {

struct SetupResult {
  long ret = 0;
  AioRingHeader header{};
};

SetupResult setup_and_read(const AioBackend& b, unsigned nr) {
  SetupResult r;
  aio_context_t ctx = 0;
  r.ret = b.setup(nr, &ctx);
  if (r.ret == 0) {
    r.header = *ring_of(ctx);
    EXPECT_EQ(b.destroy(ctx), 0) << b.name;
  }
  return r;
}

unsigned long kernel_aio_nr() {
  std::ifstream f("/proc/sys/fs/aio-nr");
  unsigned long v = 0;
  f >> v;
  return v;
}

unsigned long system_aio_nr() {
  unsigned long n = 0;
  if (FILE* f = std::fopen("/proc/sys/fs/aio-nr", "r")) {
    if (std::fscanf(f, "%lu", &n) != 1) n = 0;
    std::fclose(f);
  }
  return n;
}

TEST(AioSetup, RingHeaderMatchesKernel) {
  for (unsigned nr : {1u, 2u, 31u, 32u, 100u, 128u, 4096u, 65536u, 65537u}) {
    SCOPED_TRACE(nr);
    const SetupResult k = setup_and_read(kernel_aio(), nr);
    const SetupResult s = setup_and_read(iostack_aio(), nr);
    // The kernel's aio-nr is system-wide: another process holding contexts
    // right now (a test running beside this one) can make it refuse a size
    // that fits when it is alone. iostack counts per process.
    if (k.ret == -EAGAIN && s.ret == 0 && system_aio_nr() > 0) continue;
    ASSERT_EQ(s.ret, k.ret);
    if (k.ret != 0) continue;
    EXPECT_EQ(s.header.id, k.header.id);
    EXPECT_EQ(s.header.nr, k.header.nr);
    EXPECT_EQ(s.header.head, k.header.head);
    EXPECT_EQ(s.header.tail, k.header.tail);
    EXPECT_EQ(s.header.magic, k.header.magic);
    EXPECT_EQ(s.header.magic, IOSTACK_AIO_RING_MAGIC);
    EXPECT_EQ(s.header.compat_features, k.header.compat_features);
    EXPECT_EQ(s.header.incompat_features, k.header.incompat_features);
    EXPECT_EQ(s.header.header_length, k.header.header_length);
    EXPECT_EQ(s.header.header_length, 32u);
  }
}

TEST(AioSetup, ContextIdIsTheRingAddressAndIdsFollowTheTable) {
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    std::vector<aio_context_t> ctxs(6, 0);
    std::vector<unsigned> ids;
    for (auto& c : ctxs) {
      ASSERT_EQ(b->setup(8, &c), 0);
      ids.push_back(ring_of(c)->id);
      EXPECT_EQ(c % 4096, 0u);
    }
    // The first context of a process gets slot 0, the next ones follow;
    // a freed slot is reused first.
    for (unsigned i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], i);
    ASSERT_EQ(b->destroy(ctxs[2]), 0);
    aio_context_t again = 0;
    ASSERT_EQ(b->setup(8, &again), 0);
    EXPECT_EQ(ring_of(again)->id, 2u);
    ctxs[2] = again;
    for (auto c : ctxs) EXPECT_EQ(b->destroy(c), 0);
  }
}

TEST(AioSetup, ArgumentErrorsMatchKernel) {
  for (unsigned nr : {0u, 0x400000u, 0x800000u, 0x80000000u, 0xffffffffu}) {
    SCOPED_TRACE(nr);
    aio_context_t k = 0, s = 0;
    const long kr = kernel_aio().setup(nr, &k);
    const long sr = iostack_aio().setup(nr, &s);
    EXPECT_EQ(sr, kr);
    if (kr == 0) kernel_aio().destroy(k);
    if (sr == 0) iostack_aio().destroy(s);
  }
  aio_context_t nonzero = 12345;
  EXPECT_EQ(kernel_aio().setup(8, &nonzero), -EINVAL);
  EXPECT_EQ(iostack_aio().setup(8, &nonzero), -EINVAL);
  EXPECT_EQ(iostack_aio().setup(8, nullptr), -EFAULT);
}

TEST(AioSetup, DestroyTwiceAndUnknownContexts) {
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    aio_context_t ctx = 0;
    ASSERT_EQ(b->setup(4, &ctx), 0);
    EXPECT_EQ(b->destroy(ctx), 0);
    EXPECT_EQ(b->destroy(ctx), -EINVAL);
    EXPECT_EQ(b->destroy(0), -EINVAL);
    static char page[8192] __attribute__((aligned(4096)));
    EXPECT_EQ(b->destroy(reinterpret_cast<aio_context_t>(page)), -EINVAL);
    struct io_event ev;
    struct timespec zero = {0, 0};
    EXPECT_EQ(b->getevents(ctx, 0, 1, &ev, &zero), -EINVAL);
    struct iocb cb = make_iocb(0, IOCB_CMD_PREAD);
    struct iocb* p = &cb;
    EXPECT_EQ(b->submit(ctx, 1, &p), -EINVAL);
    EXPECT_EQ(b->cancel(ctx, &cb, &ev), -EINVAL);
  }
}

TEST(AioSetup, AioMaxNrCountsTheContextsTogether) {
  if (kernel_aio_nr() != 0) GTEST_SKIP() << "another process holds kernel AIO contexts";
  ASSERT_EQ(iostack_aio_max_nr(), 65536u);
  for (const AioBackend* b : {&kernel_aio(), &iostack_aio()}) {
    SCOPED_TRACE(b->name);
    aio_context_t a = 0, c = 0, d = 0;
    ASSERT_EQ(b->setup(40000, &a), 0);
    EXPECT_EQ(b->setup(30000, &c), -EAGAIN);
    EXPECT_EQ(b->setup(25536, &c), 0);  // exactly up to the limit
    EXPECT_EQ(b->setup(1, &d), -EAGAIN);
    EXPECT_EQ(b->destroy(a), 0);
    d = 0;
    EXPECT_EQ(b->setup(30000, &d), 0);
    EXPECT_EQ(b->destroy(c), 0);
    EXPECT_EQ(b->destroy(d), 0);
  }
  EXPECT_EQ(iostack_aio_nr(), 0u);
  // The limit is iostack's own and can be changed.
  iostack_aio_set_max_nr(100);
  aio_context_t e = 0;
  EXPECT_EQ(iostack_aio().setup(101, &e), -EAGAIN);
  EXPECT_EQ(iostack_aio().setup(100, &e), 0);
  EXPECT_EQ(iostack_aio_nr(), 100u);
  EXPECT_EQ(iostack_aio().destroy(e), 0);
  iostack_aio_set_max_nr(65536);
}

}  // namespace
}  // namespace iostack::aio::testing
