// io_uring_register opcodes beside the resources: personalities, synchronous
// cancellation and the wait clock, compared with the kernel.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <string>

#include "ring_harness.hpp"
#include "sync_cancel_reg.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

using iostack::uring::uapi::kRegisterClock;
using iostack::uring::uapi::SyncCancelReg;

// An answer of io_uring_register, recorded beside the CQEs.
Cqe answer(std::uint64_t tag, int res) { return Cqe{tag, res, 0}; }

TEST(UringRegisterDiff, PersonalitiesAreNumberedAndLookedUp) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int dummy = 0;
        v.push_back(answer(100, r.reg(IORING_REGISTER_PERSONALITY, nullptr, 0)));
        v.push_back(answer(101, r.reg(IORING_REGISTER_PERSONALITY, nullptr, 0)));
        v.push_back(answer(102, r.reg(IORING_REGISTER_PERSONALITY, &dummy, 0)));
        v.push_back(answer(103, r.reg(IORING_REGISTER_PERSONALITY, nullptr, 1)));
        v.push_back(answer(104, r.reg(IORING_UNREGISTER_PERSONALITY, nullptr, 1)));
        v.push_back(answer(105, r.reg(IORING_UNREGISTER_PERSONALITY, nullptr, 1)));
        v.push_back(answer(106, r.reg(IORING_UNREGISTER_PERSONALITY, &dummy, 2)));
        v.push_back(answer(107, r.reg(IORING_REGISTER_PERSONALITY, nullptr, 0)));
        // A request names a registered personality, or fails at submission.
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 1);
        r.sqe_at(0)->personality = 2;
        append(&v, submit_wait(r, 1));
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 2);
        s->personality = 1;  // unregistered above
        prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 3);
        v.push_back(answer(0, r.submit(0)));
        append(&v, r.wait(1));
        return v;
      },
      8);
}

TEST(UringRegisterDiff, FixedFdInstallRefusesAPersonality) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int fd = 0;
        v.push_back(answer(100, r.reg(IORING_REGISTER_FILES, &fd, 1)));
        const int id = r.reg(IORING_REGISTER_PERSONALITY, nullptr, 0);
        // Each fails at submission, which ends its batch.
        io_uring_sqe* s =
            add(r, 54 /* IORING_OP_FIXED_FD_INSTALL */, 0, nullptr, 0, 0, 1, IOSQE_FIXED_FILE);
        s->personality = static_cast<std::uint16_t>(id);
        v.push_back(answer(0, r.submit(0)));
        append(&v, r.wait(1));
        s = add(r, 54, 0, nullptr, 0, 0, 2, IOSQE_FIXED_FILE);
        s->personality = static_cast<std::uint16_t>(id);
        s->rw_flags = 1u << 5;  // an unknown install flag is found first
        v.push_back(answer(0, r.submit(0)));
        append(&v, r.wait(1));
        return v;
      },
      8);
}

// IORING_REGISTER_FILES_SKIP means "leave the slot" to an update only: at
// registration it is one more descriptor that is not open.
TEST(UringRegisterDiff, SkipValueInAFileRegistrationIsEbadf) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int fds[3] = {0, -1, IORING_REGISTER_FILES_SKIP};
        v.push_back(answer(100, r.reg(IORING_REGISTER_FILES, fds, 3)));
        v.push_back(answer(101, r.reg(IORING_REGISTER_FILES, fds, 2)));
        io_uring_files_update up{};
        up.offset = 0;
        up.fds = reinterpret_cast<std::uintptr_t>(&fds[2]);
        v.push_back(answer(102, r.reg(IORING_REGISTER_FILES_UPDATE, &up, 1)));
        // Allocation ranges: the sum is taken in 32 bits.
        io_uring_file_index_range range{7, ~1u, 0};
        v.push_back(answer(103, r.reg(IORING_REGISTER_FILE_ALLOC_RANGE, &range, 0)));
        range = {1, 2, 0};
        v.push_back(answer(104, r.reg(IORING_REGISTER_FILE_ALLOC_RANGE, &range, 0)));
        range = {2, 1, 0};
        v.push_back(answer(105, r.reg(IORING_REGISTER_FILE_ALLOC_RANGE, &range, 0)));
        return v;
      },
      8);
}

TEST(UringRegisterDiff, PersonalityOpensWithTheRegisteredCredentials) {
  SKIP_WITHOUT_KERNEL_URING();
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change the thread's filesystem ids";
  char path[] = "/tmp/iostack-personality-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(0, chmod(path, 0600));
  compare_with_kernel(
      [&path](Ring& r) {
        std::vector<Cqe> v;
        const int id = r.reg(IORING_REGISTER_PERSONALITY, nullptr, 0);
        v.push_back(answer(100, id));
        // This thread now looks at files as nobody; the personality is root.
        const long prev = syscall(SYS_setfsuid, 65534);
        io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, 1, 0);
        s->open_flags = O_RDONLY | O_CLOEXEC;
        s = add(r, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, 2, 0);
        s->open_flags = O_RDONLY | O_CLOEXEC;
        s->personality = static_cast<std::uint16_t>(id);
        auto c = submit_wait(r, 2);
        syscall(SYS_setfsuid, prev);
        sort_by_user_data(&c);
        for (Cqe& e : c) {
          if (e.res >= 0) {
            ::close(e.res);
            e.res = 0;  // descriptor numbers differ between the two
          }
        }
        append(&v, c);
        return v;
      },
      8);
  unlink(path);
}

// IORING_FEAT_CUR_PERSONALITY: a request handed to a worker runs with the
// credentials the submitting thread had, not the worker's (nor the ring
// creator's); a FIXED_FD_INSTALL carrying them is refused (-EPERM).
TEST(UringRegisterDiff, AsyncRequestsRunAsTheSubmittingThread) {
  SKIP_WITHOUT_KERNEL_URING();
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change the thread's filesystem ids";
  char path[] = "/tmp/iostack-curpers-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(0, chmod(path, 0600));
  compare_with_kernel(
      [&path](Ring& r) {
        std::vector<Cqe> v;
        v.push_back(answer(100, (r.params().features & IORING_FEAT_CUR_PERSONALITY) ? 1 : 0));
        int files[1] = {-1};
        EXPECT_EQ(0, r.reg(IORING_REGISTER_FILES, files, 1));
        const long prev = syscall(SYS_setfsuid, 65534);
        for (std::uint8_t flags : {std::uint8_t{0}, std::uint8_t{IOSQE_ASYNC}}) {
          io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, 1 + flags, flags);
          s->open_flags = O_RDONLY | O_CLOEXEC;
        }
        auto c = submit_wait(r, 2);
        syscall(SYS_setfsuid, prev);
        // Back as root: the worker opens it.
        io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, 50, IOSQE_ASYNC);
        s->open_flags = O_RDONLY | O_CLOEXEC;
        s = add(r, IORING_OP_OPENAT, AT_FDCWD, path, 0, 0, 51, 0);
        s->file_index = 1;  // into fixed slot 0
        s->open_flags = O_RDONLY;
        append(&c, submit_wait(r, 2));
        for (std::uint8_t flags : {std::uint8_t{0}, std::uint8_t{IOSQE_ASYNC}}) {
          s = add(r, 54 /* FIXED_FD_INSTALL */, 0, nullptr, 0, 0, 60 + flags,
                  static_cast<std::uint8_t>(IOSQE_FIXED_FILE | flags));
        }
        append(&c, submit_wait(r, 2));
        sort_by_user_data(&c);
        for (Cqe& e : c) {
          if (e.res >= 0 && e.user_data != 51) {
            ::close(e.res);
            e.res = 0;  // descriptor numbers differ between the two
          }
        }
        append(&v, c);
        return v;
      },
      8);
  unlink(path);
}

TEST(UringRegisterDiff, SyncCancel) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        static char buf[2][16];
        add(r, IORING_OP_READ, p[0], buf[0], sizeof(buf[0]), 0, 1, 0);
        add(r, IORING_OP_READ, p[0], buf[1], sizeof(buf[1]), 0, 2, 0);
        add(r, IORING_OP_READ, p[0], buf[1], sizeof(buf[1]), 0, 3, 0);
        v.push_back(answer(0, r.submit(0)));
        SyncCancelReg sc = sync_cancel_of(1);
        v.push_back(answer(100, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        append(&v, r.wait(1));
        sc = sync_cancel_of(1);  // gone now
        v.push_back(answer(101, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(0, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL, p[0]);
        v.push_back(answer(102, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        // Refusals: flags, padding, descriptors, arguments.
        sc = sync_cancel_of(1, 1u << 7);
        v.push_back(answer(103, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(1);
        sc.pad[3] = 1;
        v.push_back(answer(104, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(1);
        sc.pad2[2] = 1;
        v.push_back(answer(105, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(0, IORING_ASYNC_CANCEL_FD, 999);
        v.push_back(answer(106, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(0, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED, 3);
        v.push_back(answer(107, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 1)));
        sc = sync_cancel_of(1);
        v.push_back(answer(108, r.reg(IORING_REGISTER_SYNC_CANCEL, &sc, 2)));
        v.push_back(answer(109, r.reg(IORING_REGISTER_SYNC_CANCEL, nullptr, 1)));
        v.push_back(answer(110, r.reg(IORING_REGISTER_SYNC_CANCEL,
                                      reinterpret_cast<void*>(std::uintptr_t{8}), 1)));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
}

TEST(UringRegisterDiff, WaitClock) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        std::uint32_t reg[4] = {CLOCK_REALTIME, 0, 0, 0};
        v.push_back(answer(100, r.reg(kRegisterClock, reg, 0)));
        reg[0] = CLOCK_BOOTTIME;
        reg[2] = 1;
        v.push_back(answer(101, r.reg(kRegisterClock, reg, 0)));
        reg[2] = 0;
        v.push_back(answer(102, r.reg(kRegisterClock, reg, 1)));
        v.push_back(answer(103, r.reg(kRegisterClock, nullptr, 0)));
        v.push_back(answer(104, r.reg(kRegisterClock, reg, 0)));
        // An absolute timeout on the boot clock a little ahead: -ETIME.
        struct timespec now;
        clock_gettime(CLOCK_BOOTTIME, &now);
        struct __kernel_timespec ts = {now.tv_sec, now.tv_nsec + 20 * 1000 * 1000};
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec += 1;
          ts.tv_nsec -= 1000000000;
        }
        io_uring_getevents_arg arg{};
        arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
        v.push_back(answer(
            105,
            r.enter(0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | IORING_ENTER_ABS_TIMER,
                    &arg, sizeof(arg))));
        reg[0] = CLOCK_MONOTONIC;
        v.push_back(answer(106, r.reg(kRegisterClock, reg, 0)));
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
