// Differential tests of provided-buffer rings as 6.18's stable fixes left
// them: an incremental ring's min_left (a buffer with less room left is
// retired), a read at end of file on an incremental ring (nothing taken,
// F_BUF_MORE), and a bundle receive that finds nothing (the head buffer's
// length in the ring untouched). liburing's recvmsg-inc-tail,
// read-inc-buf-more and recv-bundle-buf-len test the same.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "buf_ring.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint16_t kInc = 2;      // IOU_PBUF_RING_INC
constexpr unsigned kBundle = 1u << 4;  // IORING_RECVSEND_BUNDLE

// A READ of `fd` taking a buffer of group `bgid`; its CQE, then the ring's
// head for that group (in the CQE's res, its flags 0).
void read_selected(Ring& r, int fd, unsigned len, std::uint16_t bgid, std::uint64_t ud,
                   std::vector<Cqe>* out) {
  io_uring_sqe* s = r.sqe();
  prep(s, IORING_OP_READ, fd, nullptr, len, static_cast<std::uint64_t>(-1), ud);
  s->flags = IOSQE_BUFFER_SELECT;
  s->buf_group = bgid;
  EXPECT_EQ(1, r.submit(0));
  append(out, r.wait(1));
  out->push_back(Cqe{ud + 100, pbuf_head(r, bgid), 0});
}

TEST(UringKbufIncDiff, MinLeftIsForIncrementalRingsOnly) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        BufRing a(2, 64), b(2, 64), c(2, 64);
        out.push_back(Cqe{1, a.reg(r, 1, 0, 32), 0});
        out.push_back(Cqe{2, b.reg(r, 2, kInc, 32), 0});
        out.push_back(Cqe{3, c.reg(r, 3, kInc, 0xffffffffu), 0});
        // The rest of the reserved words is still checked.
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(a.br);
        reg.ring_entries = 2;
        reg.bgid = 4;
        reg.pad = kInc;
        reg.resv[0] = std::uint64_t{1} << 32;
        out.push_back(Cqe{4, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
        // Unregistering looks at the reserved words, not at min_left.
        reg.bgid = 2;
        reg.pad = 0;
        reg.resv[0] = 32;
        out.push_back(Cqe{5, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
        reg.resv[0] = std::uint64_t{1} << 32;
        out.push_back(Cqe{6, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
        out.push_back(Cqe{7, pbuf_head(r, 2), 0});
        return out;
      },
      8);
}

TEST(UringKbufIncDiff, BufferWithLessThanMinLeftIsRetired) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
        BufRing br(4, 100);
        for (unsigned i = 0; i < 4; ++i) br.add(i);
        out.push_back(Cqe{0, br.reg(r, 5, kInc, 32), 0});
        char msg[100];
        std::memset(msg, 'm', sizeof(msg));
        // 70 of 100 leave 30, under 32: buffer 0 is done. 50 of buffer 1
        // leave 50: it stays. 20 more leave 30: done too.
        for (int len : {70, 50, 20, 100}) {
          EXPECT_EQ(len, write(p[1], msg, static_cast<std::size_t>(len)));
          read_selected(r, p[0], 100, 5, static_cast<std::uint64_t>(len), &out);
        }
        for (unsigned i = 0; i < 4; ++i)
          out.push_back(Cqe{200 + i, static_cast<int>(br.entry(i).len), 0});
        ::close(p[0]);
        ::close(p[1]);
        return out;
      },
      8);
}

TEST(UringKbufIncDiff, ReadAtEndOfFileKeepsItsIncrementalBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        BufRing br(1, 256);
        br.add(0);
        out.push_back(Cqe{0, br.reg(r, 6, kInc), 0});
        char msg[32];
        std::memset(msg, 'e', sizeof(msg));
        EXPECT_EQ(32, write(p[1], msg, sizeof(msg)));
        read_selected(r, p[0], 32, 6, 1, &out);
        ::close(p[1]);
        read_selected(r, p[0], 32, 6, 2, &out);
        out.push_back(Cqe{3, static_cast<int>(br.entry(0).len), 0});
        ::close(p[0]);
        return out;
      },
      8);
}

// A regular file cannot poll: its read takes the buffer piece at selection,
// and the CQE still says the buffer has room left.
TEST(UringKbufIncDiff, FileReadsSayTheirBufferHasRoomLeft) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        FILE* f = tmpfile();
        char data[128];
        std::memset(data, 'f', sizeof(data));
        EXPECT_EQ(sizeof(data), fwrite(data, 1, sizeof(data), f));
        fflush(f);
        const int fd = fileno(f);
        EXPECT_EQ(0, lseek(fd, 0, SEEK_SET));
        BufRing br(1, 96);
        br.add(0);
        out.push_back(Cqe{0, br.reg(r, 8, kInc), 0});
        for (std::uint64_t i = 1; i <= 4; ++i) read_selected(r, fd, 32, 8, i, &out);
        fclose(f);
        return out;
      },
      8);
}

TEST(UringKbufIncDiff, BundleReceiveFindingNothingLeavesTheHeadBufferWhole) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::vector<Cqe> out;
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
        BufRing br(2, 4096);
        br.add(0);
        br.add(1);
        out.push_back(Cqe{0, br.reg(r, 7), 0});
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_RECV, sv[0], nullptr, 1, 0, 1);
        s->msg_flags = MSG_DONTWAIT;
        s->ioprio = kBundle;
        s->flags = IOSQE_BUFFER_SELECT;
        s->buf_group = 7;
        EXPECT_EQ(1, r.submit(0));
        append(&out, r.wait(1));
        out.push_back(Cqe{2, pbuf_head(r, 7), static_cast<std::uint32_t>(br.entry(0).len)});
        // A read that takes it next gets all of it.
        char msg[100];
        std::memset(msg, 'b', sizeof(msg));
        EXPECT_EQ(100, ::send(sv[1], msg, sizeof(msg), 0));
        s = r.sqe();
        prep(s, IORING_OP_RECV, sv[0], nullptr, 0, 0, 3);
        s->flags = IOSQE_BUFFER_SELECT;
        s->buf_group = 7;
        EXPECT_EQ(1, r.submit(0));
        append(&out, r.wait(1));
        ::close(sv[0]);
        ::close(sv[1]);
        return out;
      },
      8);
}

}  // namespace
}  // namespace uring_test
