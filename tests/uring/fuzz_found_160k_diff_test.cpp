// Differences iostack-fuzz found in seeds 160000 and later, each reduced to
// a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A pipe's write end in registered slot 0, and `op` (user_data 1) of that
// slot hard-linked to a RECV of an empty socket (2), then a CLOSE of the
// slot (3) in the same batch. `op` goes straight to io-wq, whose worker
// looks the slot up (io_wq_submit_work's io_assign_file) after the CLOSE
// ran: -EBADF, not the pipe's answer. It fails in task work, which issues
// the RECV without blocking; a cancel then finds it waiting on poll (0,
// and -ECANCELED) rather than running (-EALREADY, -EINTR).
void op_of_slot_closed_later(const std::function<void(Ring&)>& op) {
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_settled_kernel(
      [&](Ring& r) {
        static char in[16];
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_FILES, &p[1], 1), 0}};
        op(r);
        add(r, IORING_OP_RECV, sv[0], in, sizeof(in), 0, 2, 0);
        add(r, IORING_OP_CLOSE, 0, nullptr, 0, 0, 3, 0)->file_index = 1;
        v.push_back(Cqe{0, r.submit(), 0});
        auto c = r.wait(2);
        sort_by_user_data(&c);
        append(&v, c);
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 4, 0);
        append(&v, run(r, 2));
        return v;
      },
      8,
      // The kernel's worker comes after the CLOSE, and the failure's task
      // work drops the last reference, which issues the link from there;
      // on a loaded machine now and then the worker does either first.
      [](const std::vector<Cqe>& k) {
        return k.size() == 7 && k[2].res == -EBADF && k[5].res == -ECANCELED;
      });
  ::close(p[0]);
  ::close(p[1]);
  ::close(sv[0]);
  ::close(sv[1]);
}

// SYNC_FILE_RANGE always goes to io-wq (fuzz seed 160297).
TEST(UringFuzzFound160k, SyncFileRangeOfASlotClosedLaterInTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  op_of_slot_closed_later([](Ring& r) {
    add(r, IORING_OP_SYNC_FILE_RANGE, 0, nullptr, 4096, 4096, 1,
        IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK);
  });
}

// So does an FADVISE with a hint that may block (io_fadvise_force_async).
TEST(UringFuzzFound160k, BlockingFadviseOfASlotClosedLaterInTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  op_of_slot_closed_later([](Ring& r) {
    add(r, IORING_OP_FADVISE, 0, nullptr, 4096, 0, 1, IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK)
        ->fadvise_advice = POSIX_FADV_WILLNEED;
  });
}

// And any request with IOSQE_ASYNC: its slot too is looked up on the worker.
TEST(UringFuzzFound160k, AsyncWriteOfASlotClosedLaterInTheBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  op_of_slot_closed_later([](Ring& r) {
    static const char out[4] = {'a', 'b', 'c', 'd'};
    add(r, IORING_OP_WRITE, 0, out, sizeof(out), 0, 1,
        IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK | IOSQE_ASYNC);
  });
}

// A MSG_WAITALL receive that got part of what it wants waits for the rest;
// cancelled then, it answers what it received (io_sendrecv_fail), not
// -ECANCELED (fuzz seeds 169792, 170384, 170391). The same for a RECVMSG.
TEST(UringFuzzFound160k, CancelledWaitallReceiveAnswersWhatItGot) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  for (const std::uint8_t op : {IORING_OP_RECV, IORING_OP_RECVMSG}) {
    SCOPED_TRACE(static_cast<int>(op));
    compare_with_kernel(
        [&](Ring& r) {
          static char in[16];
          static struct iovec iov = {in, sizeof(in)};
          static struct msghdr mh = {nullptr, 0, &iov, 1, nullptr, 0, 0};
          const bool msg = op == IORING_OP_RECVMSG;
          add(r, op, sv[0], msg ? static_cast<void*>(&mh) : in, msg ? 1 : sizeof(in), 0, 1, 0)
              ->msg_flags = MSG_WAITALL;
          std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
          EXPECT_EQ(3, ::write(sv[1], "xyz", 3));
          r.backend()->wrote();  // iostack's poll sees it as the kernel's wakeup does
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          append(&v, run(r, 1));  // the receive's retry ran meanwhile
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 3, 0);
          append(&v, run(r, 2));
          return v;
        },
        8);
  }
  ::close(sv[0]);
  ::close(sv[1]);
}

// A socket is no FMODE_STREAM file: an offset reaches sock_read_iter and
// sock_write_iter, which refuse any but 0 with -ESPIPE, also for an empty
// request, where iostack waited for data (fuzz seeds 170862, 176383).
TEST(UringFuzzFound160k, SocketReadOrWriteAtAnOffsetIsESPIPE) {
  SKIP_WITHOUT_KERNEL_URING();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  compare_with_kernel(
      [&](Ring& r) {
        static char buf[16];
        static struct iovec iov = {buf, sizeof(buf)};
        add(r, IORING_OP_READ, sv[0], buf, sizeof(buf), 512, 1, 0);
        add(r, IORING_OP_READV, sv[0], &iov, 1, 4096, 2, 0);
        add(r, IORING_OP_READ, sv[0], buf, 0, 1, 3, 0);
        add(r, IORING_OP_WRITE, sv[0], buf, sizeof(buf), 512, 4, 0);
        add(r, IORING_OP_WRITE, sv[0], buf, 4, 0, 5, 0);  // offset 0 is fine
        add(r, IORING_OP_READ, sv[1], buf, 4, 0, 6, 0);
        return run(r, 6);
      },
      8);
  ::close(sv[0]);
  ::close(sv[1]);
}

// A cancelled poll stays in the kernel's table until its task work runs:
// a second cancel of the same batch finds it too and answers 0, and a
// second CANCEL_ALL counts it again (fuzz seed 174663).
TEST(UringFuzzFound160k, SecondCancelInTheBatchFindsTheCancelledPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  for (const std::uint32_t flags : {0u, static_cast<unsigned>(IORING_ASYNC_CANCEL_ALL)}) {
    SCOPED_TRACE(flags);
    compare_with_kernel(
        [&](Ring& r) {
          add(r, IORING_OP_POLL_ADD, p[0], nullptr, 0, 0, 1, IOSQE_IO_LINK)->poll32_events = POLLIN;
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 2, 0);
          for (std::uint64_t ud : {3, 4})
            add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, ud, 0)
                ->cancel_flags = flags;
          return run(r, 4);
        },
        8);
  }
  ::close(p[0]);
  ::close(p[1]);
}

// An O_PATH file has no poll method: a POLL_ADD of one in a registered
// slot (an OPENAT with O_PATH into it) completes at once with what
// vfs_poll's DEFAULT_POLLMASK has of the events asked, where the host's
// poll() refuses the descriptor (fuzz seed 186406). A plain O_PATH
// descriptor is -EBADF, as fget does not hand one out.
TEST(UringFuzzFound160k, PollOfAnOPathSlotIsReadyAtOnce) {
  SKIP_WITHOUT_KERNEL_URING();
  const int path = open("/tmp", O_PATH | O_CLOEXEC);
  ASSERT_GE(path, 0);
  compare_with_kernel(
      [&](Ring& r) {
        int fds[1] = {-1};
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 1), 0}};
        io_uring_sqe* s = add(r, IORING_OP_OPENAT, AT_FDCWD, "/tmp", 0, 0, 1, IOSQE_IO_LINK);
        s->open_flags = O_PATH;
        s->file_index = 1;
        add(r, IORING_OP_POLL_ADD, 0, nullptr, 0, 0, 2, IOSQE_FIXED_FILE)->poll32_events =
            POLLIN | POLLPRI;
        add(r, IORING_OP_POLL_ADD, 0, nullptr, IORING_POLL_ADD_MULTI, 0, 3, IOSQE_FIXED_FILE)
            ->poll32_events = POLLOUT;
        add(r, IORING_OP_POLL_ADD, path, nullptr, 0, 0, 4, 0)->poll32_events = POLLIN;
        append(&v, run(r, 4));
        return v;
      },
      8);
  ::close(path);
}

// A private futex's key never equals a shared one's: a FUTEX_WAKE with
// FUTEX2_PRIVATE wakes no FUTEX_WAIT without it on the same word (and the
// other way round); a wake of its own kind does (fuzz seed 188751).
TEST(UringFuzzFound160k, PrivateFutexWakeLeavesASharedWait) {
  SKIP_WITHOUT_KERNEL_URING();
  constexpr std::uint8_t kOpFutexWait = 51, kOpFutexWake = 52;  // not in every uapi header
  constexpr std::uint32_t kU32 = 2, kPrivate = 128;             // FUTEX2_SIZE_U32, FUTEX2_PRIVATE
  for (const std::uint32_t wait_private : {0u, kPrivate}) {
    SCOPED_TRACE(wait_private);
    compare_with_kernel(
        [&](Ring& r) {
          static std::uint32_t word = 7;
          add(r, kOpFutexWait, static_cast<int>(kU32 | wait_private), &word, 0, 7, 1, 0)->addr3 =
              ~0u;
          std::vector<Cqe> v{Cqe{0, r.submit(), 0}};
          // The other kind first (woken none), then the same kind (one).
          std::uint64_t ud = 2;
          for (const std::uint32_t wake_private : {kPrivate - wait_private, wait_private})
            add(r, kOpFutexWake, static_cast<int>(kU32 | wake_private), &word, 0, 1, ud++, 0)
                ->addr3 = ~0u;
          append(&v, run(r, 3));
          return v;
        },
        8);
  }
}

// splice() takes FMODE_NOWAIT from a pipe it used: a READ of that pipe,
// once empty, waits on its poll (io_file_supports_nowait asks the poll of a
// file without FMODE_NOWAIT), where data wakes it and a cancel finds it.
// iostack's host read refused RWF_NOWAIT and went to a worker's blocking
// read, which no cancel or ring exit could end (fuzz seed 190280).
TEST(UringFuzzFound160k, ReadOfASplicedPipeWaitsOnPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  const int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(dn, 0);
  compare_with_kernel(
      [&](Ring& r) {
        static char buf[64];
        int p[2];
        std::vector<Cqe> v = pipe_emptied_by_splice(r, dn, p);
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), ~0ull, 2, 0);
        v.push_back(Cqe{0, r.submit(), 0});
        EXPECT_EQ(3, ::write(p[1], "xyz", 3));
        r.backend()->wrote();
        append(&v, r.wait(1));
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 4096, 3, 0);  // a pipe ignores it
        v.push_back(Cqe{0, r.submit(), 0});
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(3), 0, 0, 4, 0);
        append(&v, run(r, 2));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
  ::close(dn);
}

// A POLL_REMOVE that updates a poll of the ring itself adds it again, which
// asks io_uring_poll at once: POLLOUT while the SQ ring has room, before
// the update's own CQE makes it readable. iostack's updated poll waited on
// the host object behind the ring's descriptor, which reports POLLIN only
// (fuzz seeds 194644, 194645, a DEFER_TASKRUN ring whose poll wait queue
// was active already: here a first poll, cancelled, activates it).
TEST(UringFuzzFound160k, UpdatedPollOfTheRingAsksTheRing) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 7, 0)->poll32_events = POLLIN;
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(7), 0, 0, 8, 0);
        std::vector<Cqe> v = run(r, 2);
        add(r, IORING_OP_POLL_ADD, r.fd(), nullptr, 0, 0, 1, 0)->poll32_events = POLLIN;
        io_uring_sqe* s = add(r, IORING_OP_POLL_REMOVE, -1, reinterpret_cast<void*>(1),
                              IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA, 1002, 2, 0);
        s->poll32_events = POLLIN | POLLOUT;
        append(&v, run(r, 2));
        return v;
      },
      8, params);
}

// A SOCKET (or ACCEPT, PIPE) into a registered slot takes no descriptor
// number: the lowest free one stays the program's next (fuzz seed 196020,
// where iostack's socket took the number a CLOSE had just freed).
TEST(UringFuzzFound160k, SocketIntoASlotLeavesDescriptorNumbersFree) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int fds[2] = {-1, -1};
        std::vector<Cqe> v{Cqe{0, r.reg(IORING_REGISTER_FILES, fds, 2), 0}};
        const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::close(probe);  // the lowest free number
        io_uring_sqe* s = add(r, IORING_OP_SOCKET, AF_UNIX, nullptr, 0, SOCK_DGRAM, 1, 0);
        s->file_index = IORING_FILE_INDEX_ALLOC;
        append(&v, run(r, 1));
        const int again = open("/dev/null", O_RDONLY | O_CLOEXEC);
        v.push_back(Cqe{2, again == probe, 0});
        ::close(again);
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
