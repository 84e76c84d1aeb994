// Differential tests of EPOLL_CTL, SPLICE, TEE, MSG_RING and
// FIXED_FD_INSTALL: the same SQEs through the kernel's io_uring and
// iostack's, comparing CQEs.
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <functional>
#include <string>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpFixedFdInstall = 54;

using Seq = std::function<std::vector<Cqe>(Ring&, Backend&)>;

void compare(const Seq& seq, unsigned entries = 16) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  compare_with_kernel([&seq](Ring& r) { return seq(r, *r.backend()); }, entries, params);
}

TEST(UringMiscOpsDiff, EpollCtl) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend&) {
    std::vector<Cqe> out;
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    int pfd[2];
    EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 77;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_EPOLL_CTL, ep, &ev, EPOLL_CTL_ADD, static_cast<std::uint64_t>(pfd[0]), 1);
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_EPOLL_CTL, ep, &ev, EPOLL_CTL_ADD, static_cast<std::uint64_t>(pfd[0]), 2);
    prep(r.sqe(), IORING_OP_EPOLL_CTL, ep, nullptr, EPOLL_CTL_MOD,
         static_cast<std::uint64_t>(pfd[0]), 3);
    prep(r.sqe(), IORING_OP_EPOLL_CTL, -1, &ev, EPOLL_CTL_ADD, static_cast<std::uint64_t>(pfd[0]),
         4);
    EXPECT_EQ(4, r.submit(4));
    auto c = r.wait(4);
    sort_by_user_data(&c);
    out.insert(out.end(), c.begin(), c.end());
    EXPECT_EQ(1, write(pfd[1], "x", 1));
    epoll_event got{};
    out.push_back(Cqe{5, epoll_wait(ep, &got, 1, 1000), static_cast<std::uint32_t>(got.data.u64)});
    prep(r.sqe(), IORING_OP_EPOLL_CTL, ep, nullptr, EPOLL_CTL_DEL,
         static_cast<std::uint64_t>(pfd[0]), 6);
    prep(r.sqe(), IORING_OP_EPOLL_CTL, ep, nullptr, EPOLL_CTL_DEL,
         static_cast<std::uint64_t>(pfd[0]), 7);
    EXPECT_EQ(2, r.submit(2));
    c = r.wait(2);
    out.insert(out.end(), c.begin(), c.end());
    ::close(pfd[0]);
    ::close(pfd[1]);
    ::close(ep);
    return out;
  });
}

// A ring is no epoll instance: EPOLL_CTL on it is -EINVAL, once the target
// has been looked at: a descriptor not open is -EBADF first, one without
// poll (a regular file) -EPERM (fuzz seed 61830).
TEST(UringMiscOpsDiff, EpollCtlOnARing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend&) {
    char tmpl[] = "/tmp/iostack-epring-XXXXXX";
    const int file = mkstemp(tmpl);
    unlink(tmpl);
    int pfd[2];
    EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
    static epoll_event ev{};
    ev.events = EPOLLIN;
    std::uint64_t ud = 1;
    for (const int target : {999, file, pfd[0], r.fd()})
      prep(r.sqe(), IORING_OP_EPOLL_CTL, r.fd(), &ev, EPOLL_CTL_ADD,
           static_cast<std::uint64_t>(target), ud++);
    EXPECT_EQ(4, r.submit(0));
    auto c = r.wait(4);
    sort_by_user_data(&c);
    ::close(file);
    ::close(pfd[0]);
    ::close(pfd[1]);
    return c;
  });
}

// A ring in an epoll instance reports io_uring_poll's mask there: POLLOUT
// while the SQ ring has room, POLLIN only while CQEs are pending (also after
// the program reaped them without entering), for a registration made by
// EPOLL_CTL through the ring or by the program's epoll_ctl, and to
// EPOLL_WAIT through the ring (fuzz seed 2809).
TEST(UringMiscOpsDiff, RingInAnEpollInstanceReportsItsPollMask) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend& b) {
    std::vector<Cqe> out;
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    static epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = 9;
    auto look = [&](std::uint64_t tag) {
      epoll_event got[2] = {};
      const int n = b.epoll_wait(ep, got, 2);
      out.push_back(Cqe{tag, n, n > 0 ? got[0].events : 0});
      if (n > 0) out.push_back(Cqe{tag, static_cast<std::int32_t>(got[0].data.u64), 0});
    };
    prep(r.sqe(), IORING_OP_EPOLL_CTL, ep, &ev, EPOLL_CTL_ADD, static_cast<std::uint64_t>(r.fd()),
         1);
    EXPECT_EQ(1, r.submit(1));
    auto c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    look(100);  // nothing pending: POLLOUT
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
    EXPECT_EQ(1, r.submit(1));
    look(101);      // the NOP's CQE pending: POLLIN too
    c = r.wait(1);  // reaped from the ring, no system call
    out.insert(out.end(), c.begin(), c.end());
    look(102);
    static epoll_event evs[4];
    prep(r.sqe(), 59 /* EPOLL_WAIT */, ep, evs, 4, 0, 3);
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{103, static_cast<std::int32_t>(evs[0].data.u64), evs[0].events});
    // Edge-triggered through the program's own epoll_ctl: the host epoll
    // reports the NOP's CQE once.
    ev.events = EPOLLIN | EPOLLET;
    EXPECT_EQ(0, b.epoll_ctl(ep, EPOLL_CTL_MOD, r.fd(), &ev));
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 4);
    EXPECT_EQ(1, r.submit(1));
    look(104);
    look(105);
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    prep(r.sqe(), IORING_OP_EPOLL_CTL, ep, nullptr, EPOLL_CTL_DEL,
         static_cast<std::uint64_t>(r.fd()), 5);
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    look(106);
    ::close(ep);
    return out;
  });
}

TEST(UringMiscOpsDiff, SpliceAndTee) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend&) {
    std::vector<Cqe> out;
    char tmpl[] = "/tmp/iostack-splice-XXXXXX";
    const int f = mkstemp(tmpl);
    unlink(tmpl);
    EXPECT_EQ(10, write(f, "0123456789", 10));
    int p1[2], p2[2];
    EXPECT_EQ(0, pipe2(p1, O_CLOEXEC));
    EXPECT_EQ(0, pipe2(p2, O_CLOEXEC));
    // File (offset 2) -> pipe 1, pipe 1 teed to pipe 2, pipe 1 -> file at 20.
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_SPLICE, p1[1], nullptr, 5, static_cast<std::uint64_t>(-1), 1);
    s->splice_fd_in = f;
    s->splice_off_in = 2;
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_TEE, p2[1], nullptr, 5, 0, 2);
    s->splice_fd_in = p1[0];
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_SPLICE, f, nullptr, 5, 20, 3);
    s->splice_fd_in = p1[0];
    s->splice_off_in = static_cast<std::uint64_t>(-1);
    EXPECT_EQ(3, r.submit(3));
    out = r.wait(3);
    char buf[32] = {};
    out.push_back(Cqe{4, static_cast<int>(read(p2[0], buf, sizeof(buf))),
                      static_cast<std::uint32_t>(buf[0])});
    out.push_back(
        Cqe{5, static_cast<int>(pread(f, buf, 5, 20)), static_cast<std::uint32_t>(buf[4])});
    // Errors: offsets on TEE, bad flags, a bad input, an offset on a pipe.
    s = r.sqe();
    prep(s, IORING_OP_TEE, p2[1], nullptr, 5, 1, 6);
    s->splice_fd_in = p1[0];
    s = r.sqe();
    prep(s, IORING_OP_SPLICE, p1[1], nullptr, 5, static_cast<std::uint64_t>(-1), 7);
    s->splice_fd_in = f;
    s->splice_flags = 0x100;
    s = r.sqe();
    prep(s, IORING_OP_SPLICE, p1[1], nullptr, 5, static_cast<std::uint64_t>(-1), 8);
    s->splice_fd_in = -1;
    s = r.sqe();
    prep(s, IORING_OP_SPLICE, p1[1], nullptr, 5, 3, 9);
    s->splice_fd_in = f;
    s = r.sqe();
    prep(s, IORING_OP_SPLICE, p1[1], nullptr, 0, static_cast<std::uint64_t>(-1), 10);
    s->splice_fd_in = f;
    EXPECT_EQ(5, r.submit(5));
    auto c = r.wait(5);
    sort_by_user_data(&c);
    out.insert(out.end(), c.begin(), c.end());
    for (int fd : {f, p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
    return out;
  });
}

TEST(UringMiscOpsDiff, MsgRingDataAndDescriptors) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend& b) {
    std::vector<Cqe> out;
    Ring target(&b);
    EXPECT_GE(target.init(8), 0);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(IORING_MSG_DATA), 1234, 0xabc,
         1);
    s = r.sqe();
    prep(s, IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(IORING_MSG_DATA), 5, 0xdef, 2);
    s->msg_ring_flags = 1u << 1;  // FLAGS_PASS
    s->file_index = 0x55;
    s = r.sqe();
    prep(s, IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(IORING_MSG_DATA), 6, 0x1, 3);
    s->msg_ring_flags = 1u << 0;  // CQE_SKIP
    int pfd[2];
    EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
    prep(r.sqe(), IORING_OP_MSG_RING, pfd[0], reinterpret_cast<void*>(IORING_MSG_DATA), 1, 1, 4);
    prep(r.sqe(), IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(99), 1, 1, 5);
    s = r.sqe();
    prep(s, IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(IORING_MSG_DATA), 1, 1, 6);
    s->msg_ring_flags = 1u << 5;
    EXPECT_EQ(6, r.submit(0));
    out = r.wait(6, 500);  // 5: the CQE_SKIP one posts nothing for the sender
    sort_by_user_data(&out);
    auto t = target.wait(3, 1000);
    out.insert(out.end(), t.begin(), t.end());
    // A direct descriptor passed to the other ring's table, then made a
    // regular descriptor there with FIXED_FD_INSTALL.
    int fds[2] = {pfd[1], -1};
    EXPECT_EQ(0, r.reg(IORING_REGISTER_FILES, fds, 2));
    int tfds[2] = {-1, -1};
    EXPECT_EQ(0, target.reg(IORING_REGISTER_FILES, tfds, 2));
    s = r.sqe();
    prep(s, IORING_OP_MSG_RING, target.fd(), reinterpret_cast<void*>(IORING_MSG_SEND_FD), 0, 0x77,
         7);
    s->addr3 = 0;       // source slot
    s->file_index = 2;  // target slot 1
    EXPECT_EQ(1, r.submit(1));
    t = r.wait(1);
    out.insert(out.end(), t.begin(), t.end());
    t = target.wait(1, 1000);
    out.insert(out.end(), t.begin(), t.end());
    s = target.sqe();
    prep(s, kOpFixedFdInstall, 1, nullptr, 0, 0, 8);
    s->flags = IOSQE_FIXED_FILE;
    s = target.sqe();
    prep(s, kOpFixedFdInstall, 0, nullptr, 0, 0, 9);  // empty slot
    s->flags = IOSQE_FIXED_FILE;
    prep(target.sqe(), kOpFixedFdInstall, pfd[1], nullptr, 0, 0, 10);  // not fixed
    EXPECT_EQ(3, target.submit(3));
    t = target.wait(3);
    sort_by_user_data(&t);
    for (auto& x : t) {
      if (x.user_data == 8 && x.res >= 0) {
        EXPECT_EQ(1, write(x.res, "y", 1));
        char y = 0;
        EXPECT_EQ(1, read(pfd[0], &y, 1));
        x.flags = static_cast<std::uint32_t>(fcntl(x.res, F_GETFD));
        ::close(x.res);
        x.res = 1000;
      }
      out.push_back(x);
    }
    ::close(pfd[0]);
    ::close(pfd[1]);
    return out;
  });
}

TEST(UringMiscOpsDiff, Openat2AndOpenIntoDirectSlots) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend&) {
    std::vector<Cqe> out;
    char tmpl[] = "/tmp/iostack-open-XXXXXX";
    const int t = mkstemp(tmpl);
    EXPECT_EQ(5, write(t, "hello", 5));
    ::close(t);
    auto norm = [](std::vector<Cqe> c) {
      for (auto& x : c)
        if (x.res >= 3 && x.user_data < 10) {  // a descriptor: its number is the run's own
          ::close(x.res);
          x.res = 1000;
        }
      return c;
    };
    // OPENAT2: a plain open, RESOLVE_NO_SYMLINKS through a symlink, unknown
    // flags, a short struct, a long struct with a nonzero tail.
    const std::string link = std::string(tmpl) + ".lnk";
    EXPECT_EQ(0, symlink(tmpl, link.c_str()));
    auto open2 = [&r](const char* path, const void* h, unsigned len, std::uint64_t ud) {
      io_uring_sqe* q = r.sqe();
      prep(q, IORING_OP_OPENAT2, AT_FDCWD, path, len, 0, ud);
      q->addr2 = reinterpret_cast<std::uintptr_t>(h);
      return q;
    };
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    open2(tmpl, &how, sizeof(how), 1);
    open_how nosym{};
    nosym.flags = O_RDONLY;
    nosym.resolve = RESOLVE_NO_SYMLINKS;
    open2(link.c_str(), &nosym, sizeof(nosym), 2);
    open_how bad{};
    bad.flags = 1ull << 40;
    open2(tmpl, &bad, sizeof(bad), 3);
    open2(tmpl, &how, 8, 4);
    char big[64] = {};
    std::memcpy(big, &how, sizeof(how));
    big[40] = 1;
    open2(tmpl, big, sizeof(big), 5);
    big[40] = 0;
    open2(tmpl, big, sizeof(big), 6);
    EXPECT_EQ(6, r.submit(6));
    auto c = r.wait(6);
    sort_by_user_data(&c);
    auto n = norm(c);
    out.insert(out.end(), n.begin(), n.end());
    // Into direct slots: no table, then a sparse one; an explicit slot,
    // allocation, O_CLOEXEC refused; then a read through the slot.
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, tmpl, 0, 0, 11);
    s->file_index = 1;
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    io_uring_rsrc_register rr{};
    rr.nr = 2;
    rr.flags = IORING_RSRC_REGISTER_SPARSE;
    EXPECT_EQ(0, r.reg(IORING_REGISTER_FILES2, &rr, sizeof(rr)));
    s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, tmpl, 0, 0, 12);
    s->file_index = 2;
    s = r.sqe();
    prep(s, IORING_OP_OPENAT2, AT_FDCWD, tmpl, sizeof(nosym), 0, 13);
    s->addr2 = reinterpret_cast<std::uintptr_t>(&nosym);
    s->file_index = IORING_FILE_INDEX_ALLOC;
    s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, tmpl, 0, 0, 14);
    s->file_index = IORING_FILE_INDEX_ALLOC;  // table full: -ENFILE
    s = r.sqe();
    prep(s, IORING_OP_OPENAT, AT_FDCWD, tmpl, 0, 0, 15);
    s->open_flags = O_CLOEXEC;
    s->file_index = 1;
    EXPECT_EQ(4, r.submit(4));
    c = r.wait(4);
    sort_by_user_data(&c);
    out.insert(out.end(), c.begin(), c.end());
    char buf[8] = {};
    s = r.sqe();
    prep(s, IORING_OP_READ, 1, buf, sizeof(buf), 0, 16);
    s->flags = IOSQE_FIXED_FILE;
    EXPECT_EQ(1, r.submit(1));
    c = r.wait(1);
    out.insert(out.end(), c.begin(), c.end());
    EXPECT_EQ(0, std::memcmp(buf, "hello", 5));
    unlink(link.c_str());
    unlink(tmpl);
    return out;
  });
}

TEST(UringMiscOpsDiff, XattrsAndMadvise) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r, Backend&) {
    std::vector<Cqe> out;
    char tmpl[] = "/tmp/iostack-xattr-XXXXXX";
    const int f = mkstemp(tmpl);
    auto xa = [&r](std::uint8_t op, int fd, const char* name, void* value, unsigned len,
                   const char* path, int flags, std::uint64_t ud) {
      io_uring_sqe* q = r.sqe();
      prep(q, op, fd, name, len, 0, ud);
      q->addr2 = reinterpret_cast<std::uintptr_t>(value);
      q->addr3 = reinterpret_cast<std::uintptr_t>(path);
      q->xattr_flags = static_cast<unsigned>(flags);
      q->flags = IOSQE_IO_LINK;
      return q;
    };
    char val[] = "value-1";
    char got[32] = {};
    xa(IORING_OP_FSETXATTR, f, "user.a", val, 7, nullptr, 0, 1);
    xa(IORING_OP_FGETXATTR, f, "user.a", nullptr, 0, nullptr, 0, 2);
    xa(IORING_OP_FGETXATTR, f, "user.a", got, sizeof(got), nullptr, 0, 3);
    xa(IORING_OP_SETXATTR, -1, "user.b", val, 3, tmpl, XATTR_CREATE, 4);
    xa(IORING_OP_GETXATTR, -1, "user.b", got + 10, 10, tmpl, 0, 5)->flags = 0;
    EXPECT_EQ(5, r.submit(5));
    out = r.wait(5);
    out.push_back(
        Cqe{6, std::memcmp(got, "value-1", 7) == 0 && std::memcmp(got + 10, "val", 3) == 0, 0});
    // Errors: create over an existing one, bad flags, an empty name, a
    // missing attribute, a buffer too small, a missing path, flags on GET.
    xa(IORING_OP_SETXATTR, -1, "user.b", val, 3, tmpl, XATTR_CREATE, 7)->flags = 0;
    xa(IORING_OP_FSETXATTR, f, "user.c", val, 3, nullptr, 0x40, 8)->flags = 0;
    xa(IORING_OP_FSETXATTR, f, "", val, 3, nullptr, 0, 9)->flags = 0;
    xa(IORING_OP_FGETXATTR, f, "user.zz", got, sizeof(got), nullptr, 0, 10)->flags = 0;
    xa(IORING_OP_FGETXATTR, f, "user.a", got, 2, nullptr, 0, 11)->flags = 0;
    xa(IORING_OP_GETXATTR, -1, "user.a", got, 8, "/nonexistent/x", 0, 12)->flags = 0;
    xa(IORING_OP_FGETXATTR, f, "user.a", got, 8, nullptr, 1, 13)->flags = 0;
    EXPECT_EQ(7, r.submit(7));
    auto c = r.wait(7);
    sort_by_user_data(&c);
    out.insert(out.end(), c.begin(), c.end());
    // MADVISE on a mapping, then with a bad advice.
    void* m = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static_cast<char*>(m)[0] = 1;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_MADVISE, -1, m, 8192, 0, 14);
    s->fadvise_advice = MADV_DONTNEED;
    s = r.sqe();
    prep(s, IORING_OP_MADVISE, -1, m, 8192, 0, 15);
    s->fadvise_advice = 12345;
    EXPECT_EQ(2, r.submit(2));
    c = r.wait(2);
    sort_by_user_data(&c);
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(Cqe{16, static_cast<char*>(m)[0], 0});  // DONTNEED dropped the page
    munmap(m, 8192);
    ::close(f);
    unlink(tmpl);
    return out;
  });
}

// Many armed polls, each updated (events and user_data) and then removed by
// its user_data: the lookup goes through the hash table, and updates move
// entries between buckets.
TEST(UringMiscOpsDiff, ManyPollsUpdatedAndRemovedByUserData) {
  SKIP_WITHOUT_KERNEL_URING();
  compare(
      [](Ring& r, Backend&) {
        std::vector<Cqe> out;
        constexpr int kPolls = 600;
        int pfd[2];
        EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
        auto drain = [&r](unsigned n) {
          std::vector<Cqe> v;
          while (v.size() < n) {
            auto c = r.wait(n - static_cast<unsigned>(v.size()), 300);
            if (c.empty()) break;
            v.insert(v.end(), c.begin(), c.end());
          }
          return v;
        };
        for (int i = 0; i < kPolls; ++i) {
          io_uring_sqe* s = r.sqe();
          prep(s, IORING_OP_POLL_ADD, pfd[0], nullptr, IORING_POLL_ADD_MULTI, 0, 1000 + i);
          s->poll32_events = POLLIN;
          if (i % 8 == 7) {
            EXPECT_EQ(8, r.submit(0));
          }
        }
        // Each gets a new user_data; every third also waits for POLLOUT instead.
        int ok = 0;
        for (int i = 0; i < kPolls; ++i) {
          io_uring_sqe* s = r.sqe();
          unsigned flags = IORING_POLL_UPDATE_USER_DATA | IORING_POLL_ADD_MULTI;
          if (i % 3 == 0) flags |= IORING_POLL_UPDATE_EVENTS;
          prep(s, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1000 + i), flags, 5000 + i, 1);
          s->poll32_events = POLLIN;
          EXPECT_EQ(1, r.submit(1));
          for (const Cqe& c : r.reap()) ok += c.res == 0;
        }
        out.push_back(Cqe{1, ok, 0});
        // Old user_data: gone. New: found and removed.
        prep(r.sqe(), IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1000), 0, 0, 2);
        EXPECT_EQ(1, r.submit(1));
        auto c = drain(1);
        out.insert(out.end(), c.begin(), c.end());
        int removed = 0, cancelled = 0;
        for (int i = 0; i < kPolls; ++i) {
          prep(r.sqe(), IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(5000 + i), 0, 0, 3);
          EXPECT_EQ(1, r.submit(1));
        }
        c = drain(2 * kPolls);
        for (const Cqe& x : c) {
          if (x.user_data == 3) removed += x.res == 0;
          if (x.user_data >= 5000 && x.res == -ECANCELED) cancelled++;
        }
        out.push_back(Cqe{4, removed, 0});
        out.push_back(Cqe{5, cancelled, 0});
        ::close(pfd[0]);
        ::close(pfd[1]);
        return out;
      },
      1024);
}

// DEFER_TASKRUN: a worker's completion waits as task work until the
// submitter enters with GETEVENTS. Meanwhile SQ_TASKRUN is set and the
// registered eventfd is signalled, but the CQ ring stays empty, also after
// an enter without GETEVENTS.
TEST(UringMiscOpsDiff, DeferTaskrunHoldsWorkerCompletionsUntilGetevents) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params params{};
  params.flags =
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        out.push_back(Cqe{100, r.reg(IORING_REGISTER_EVENTFD, const_cast<int*>(&efd), 1), 0});
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 1);
        s->flags = IOSQE_ASYNC;  // completes on an io-wq worker
        EXPECT_EQ(1, r.submit(0));
        // The worker's completion is queued: wait for the flag it raises.
        for (int i = 0; i < 5000 && !(r.sq_flags() & IORING_SQ_TASKRUN); ++i) usleep(1000);
        out.push_back(Cqe{101, (r.sq_flags() & IORING_SQ_TASKRUN) ? 1 : 0, 0});
        out.push_back(Cqe{102, static_cast<int>(r.cq_ready()), 0});
        std::uint64_t n = 0;
        out.push_back(Cqe{103, static_cast<int>(read(efd, &n, sizeof(n))), 0});
        out.push_back(Cqe{104, r.enter(0, 0, 0), 0});
        out.push_back(Cqe{105, static_cast<int>(r.cq_ready()), 0});
        out.push_back(Cqe{106, r.enter(0, 1, IORING_ENTER_GETEVENTS), 0});
        append(&out, r.reap());
        out.push_back(Cqe{107, (r.sq_flags() & IORING_SQ_TASKRUN) ? 1 : 0, 0});
        r.exit();
        ::close(efd);
        return out;
      },
      8, params);
}

// A read of the ring's own eventfd on a DEFER_TASKRUN ring: the CQE that
// signals it wakes the read, whose retry is queued as task work, which
// signals the eventfd only later (eventfd_signal_allowed() is false inside
// the eventfd's wakeup): the read sees 1 (liburing's eventfd-disable).
TEST(UringMiscOpsDiff, DeferTaskrunReadOfTheRingsEventfdSeesOneSignal) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        const int efd = eventfd(0, EFD_CLOEXEC);
        out.push_back(Cqe{100, r.reg(IORING_REGISTER_EVENTFD, const_cast<int*>(&efd), 1), 0});
        std::uint64_t value = 0;
        iovec iov{&value, sizeof(value)};
        prep(r.sqe(), IORING_OP_READV, efd, &iov, 1, 0, 1);
        EXPECT_EQ(1, r.submit(0));
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 2);
        EXPECT_EQ(1, r.submit(0));
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&out, c);
        out.push_back(Cqe{101, static_cast<int>(value), 0});
        r.exit();
        ::close(efd);
        return out;
      },
      8, params);
}

}  // namespace
}  // namespace uring_test
