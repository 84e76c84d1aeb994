// Differential tests of read/write attributes (IORING_FEAT_RW_ATTR:
// sqe->attr_ptr and sqe->attr_type_mask, IORING_RW_ATTR_FLAG_PI): checked
// at prep (the mask, the struct io_uring_attr_pi, its buffer), then refused
// at issue by every file without an integrity profile, after the file's
// own checks (access mode, rw_flags).
#include <fcntl.h>
#include <sys/uio.h>

#include <cstring>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::AttrPi;

constexpr std::uint8_t kOpReadMultishot = 49;

int temp_file(int extra_flags) {
  char tmpl[] = "/tmp/iostack-rwattr-XXXXXX";
  const int fd = mkostemp(tmpl, O_CLOEXEC | extra_flags);
  unlink(tmpl);
  return fd;
}

// sqe->attr_ptr and sqe->attr_type_mask are addr3 and __pad2[0] here.
void set_attr(io_uring_sqe* s, const void* ptr, std::uint64_t mask) {
  s->addr3 = reinterpret_cast<std::uintptr_t>(ptr);
  s->__pad2[0] = mask;
}

TEST(UringRwAttrDiff, FeatureFlag) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  io_uring_params pk{}, po{};
  const int k = kb.setup(4, &pk);
  const int o = ib.setup(4, &po);
  ASSERT_GE(k, 0);
  ASSERT_GE(o, 0);
  EXPECT_EQ(pk.features & iostack::uring::uapi::kFeatRwAttr,
            po.features & iostack::uring::uapi::kFeatRwAttr);
  kb.close_ring(k);
  ib.close_ring(o);
}

TEST(UringRwAttrDiff, PiAttributeAnswersAsForFilesWithoutIntegrity) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        static char buf[8192] __attribute__((aligned(4096)));
        static char meta[64];
        const int f = temp_file(0);
        const int fd = temp_file(O_DIRECT);
        const int ro = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        EXPECT_EQ(4096, pwrite(f, buf, 4096, 0));
        if (fd >= 0) {
          EXPECT_EQ(4096, pwrite(fd, buf, 4096, 0));
        }
        // Data for any pipe read that would get through.
        for (int i = 0; i < 3; ++i) EXPECT_EQ(4096, write(p[1], buf, 4096));
        iovec rv{buf, sizeof(buf)};
        EXPECT_EQ(0, r.reg(IORING_REGISTER_BUFFERS, &rv, 1));

        AttrPi good{};
        good.len = sizeof(meta);
        good.addr = reinterpret_cast<std::uintptr_t>(meta);
        AttrPi rsvd = good;
        rsvd.rsvd = 1;
        AttrPi bad_buf = good;
        bad_buf.addr = 0xffff800000000000ull;
        AttrPi empty{};
        std::uint64_t ud = 1;
        auto one = [&](std::uint8_t op, int file, const void* attr, std::uint64_t mask,
                       int rw_flags = 0) {
          io_uring_sqe* s;
          if (op == IORING_OP_READV || op == IORING_OP_WRITEV) {
            static iovec iov{buf, 4096};
            s = add(r, op, file, &iov, 1, 0, ud++, 0);
          } else {
            s = add(r, op, file, buf, 4096, 0, ud++, 0);
          }
          s->rw_flags = rw_flags;
          set_attr(s, attr, mask);
        };
        const std::uint8_t ops[] = {IORING_OP_READ,   IORING_OP_WRITE,      IORING_OP_READV,
                                    IORING_OP_WRITEV, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED};
        for (std::uint8_t op : ops) {
          one(op, f, &good, 2);                       // unknown attribute
          one(op, f, &good, 3);                       // PI and an unknown one
          one(op, f, reinterpret_cast<void*>(8), 1);  // attribute not readable
          one(op, f, &rsvd, 1);                       // reserved field set
          one(op, f, &bad_buf, 1);                    // metadata buffer outside user space
          one(op, f, &empty, 1);                      // no metadata buffer
          one(op, f, &good, 1);                       // buffered file
          one(op, f, &good, 1, RWF_HIPRI);            // with HIPRI
          one(op, f, &good, 1, 0x4000);               // with an unknown rw flag
          if (fd >= 0) one(op, fd, &good, 1);         // O_DIRECT file
          one(op, ro, &good, 1);                      // file not open for writing
          one(op, p[0], &good, 1);                    // pipe
          one(op, 999, &good, 1);                     // no such descriptor
          one(op, f, nullptr, 0);                     // no attribute: transfers
        }
        const unsigned n = r.flush();
        out.push_back(Cqe{0, r.enter(n, 0, 0), 0});
        std::vector<Cqe> c = r.wait(n);
        sort_by_user_data(&c);
        append(&out, c);

        // READ_MULTISHOT takes the attribute at prep too.
        io_uring_sqe* s = add(r, kOpReadMultishot, p[0], nullptr, 0, 0, 500, IOSQE_BUFFER_SELECT);
        set_attr(s, &good, 2);
        append(&out, submit_wait(r, 1));

        close(f);
        if (fd >= 0) close(fd);
        close(ro);
        close(p[0]);
        close(p[1]);
        return out;
      },
      128);
}

}  // namespace
}  // namespace uring_test
