// Differences a round of iostack-fuzz found after seed 57000, each reduced
// to a few SQEs and compared with the kernel's CQEs.
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "fuzz_found.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

// A temporary directory holding a directory "d", removed at the end.
struct TmpDir {
  std::string path;
  int fd = -1;
  TmpDir() {
    char tmpl[] = "/tmp/iostack-fuzzlate-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
    fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_EQ(0, mkdirat(fd, "d", 0755));
  }
  ~TmpDir() {
    unlinkat(fd, "d", AT_REMOVEDIR);
    ::close(fd);
    rmdir(path.c_str());
  }
};

// OPENAT (or OPENAT2) of "d" in `dfd` with `flags`, linked to an
// ASYNC_CANCEL of the cancel's own user_data; the descriptor it gives is
// closed and reported as 0.
std::vector<Cqe> open_then_self_cancel(Ring& r, int dfd, bool two, std::uint64_t flags) {
  static struct open_how how {};
  how.flags = flags;
  if (two)
    add(r, IORING_OP_OPENAT2, dfd, "d", sizeof(how), 0, 1, IOSQE_IO_LINK)->addr2 =
        reinterpret_cast<std::uintptr_t>(&how);
  else
    add(r, IORING_OP_OPENAT, dfd, "d", 0, 0, 1, IOSQE_IO_LINK)->open_flags =
        static_cast<std::uint32_t>(flags);
  add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 2, 0);
  auto v = run(r, 2);
  for (Cqe& c : v)
    if (c.user_data == 1 && c.res >= 0) ::close(std::exchange(c.res, 0));
  return v;
}

// io_openat2 first opens without blocking (LOOKUP_CACHED) in the submitter
// and goes to io-wq only when that cannot be done: an OPENAT of a directory
// in the dcache completes inline, and the ASYNC_CANCEL linked behind it runs
// in the submitter too, where it does not find itself (-ENOENT). On a
// worker it would find itself running (-EALREADY) (fuzz seed 57041).
TEST(UringFuzzFoundLate, CachedOpenCompletesInline) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  for (const bool two : {false, true})
    compare_with_kernel(
        [&t, two](Ring& r) { return open_then_self_cancel(r, t.fd, two, O_DIRECTORY); }, 8);
}

// OPENAT2 goes to io-wq for O_CREAT, O_TRUNC or O_TMPFILE at prep, as
// OPENAT does, even where the file exists: the cancel linked behind it runs
// on that worker next and finds itself running (-EALREADY).
TEST(UringFuzzFoundLate, CreatingOpenGoesToAWorker) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  for (const bool two : {false, true})
    compare_with_kernel(
        [&t, two](Ring& r) {
          return open_then_self_cancel(r, t.fd, two, O_CREAT | O_RDONLY | O_DIRECTORY);
        },
        8);
}

// The open tried in the submitter has O_NONBLOCK added: a FIFO opened for
// reading does not wait for a writer, and the file it gives has no
// O_NONBLOCK unless the program asked for it.
TEST(UringFuzzFoundLate, CachedOpenOfAFifoDoesNotWait) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  ASSERT_EQ(0, mkfifoat(t.fd, "f", 0600));
  for (const unsigned extra : {0u, unsigned{O_NONBLOCK}}) {
    compare_with_kernel(
        [&t, extra](Ring& r) {
          add(r, IORING_OP_OPENAT, t.fd, "f", 0, 0, 1, 0)->open_flags = O_RDONLY | extra;
          auto v = run(r, 1);
          for (Cqe& c : v) {
            if (c.user_data != 1 || c.res < 0) continue;
            const int fd = std::exchange(c.res, 0);
            v.push_back(Cqe{2, fcntl(fd, F_GETFL) & O_NONBLOCK, 0});
            ::close(fd);
            break;
          }
          return v;
        },
        8);
  }
  unlinkat(t.fd, "f", 0);
}

// io_shutdown sets shutdown(2)'s answer without failing the request: an
// invalid `how` does not break the link it heads, and the READV behind it
// runs (here -EBADF: the pipe's write end) (fuzz seed 38748). A SHUTDOWN of
// something that is not a socket fails, and the link is cancelled.
TEST(UringFuzzFoundLate, FailedShutdownKeepsItsLink) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int sv[2], p[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        static char buf[16];
        static struct iovec iov = {buf, sizeof(buf)};
        add(r, IORING_OP_SHUTDOWN, sv[0], nullptr, 5, 0, 1, IOSQE_IO_LINK);
        add(r, IORING_OP_READV, p[1], &iov, 1, 0, 2, 0);
        add(r, IORING_OP_SHUTDOWN, p[0], nullptr, SHUT_RD, 0, 3, IOSQE_IO_LINK);
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 4, 0);
        auto v = run(r, 4);
        for (const int fd : {sv[0], sv[1], p[0], p[1]}) ::close(fd);
        return v;
      },
      8,
      [] {
        io_uring_params p{};
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        return p;
      }());
}

// FGETXATTR/FSETXATTR of a descriptor that is not open: io_assign_file on
// the worker fails the request, so its CQE comes despite CQE_SKIP_SUCCESS
// (fuzz seed 39746); an xattr call that fails on an open descriptor only
// sets its result, and a link it heads goes on.
TEST(UringFuzzFoundLate, XattrOfAClosedDescriptorFails) {
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  compare_with_kernel(
      [&t](Ring& r) {
        static char value[8] = "v";
        const int fd = openat(t.fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (const std::uint8_t op : {IORING_OP_FSETXATTR, IORING_OP_FGETXATTR}) {
          io_uring_sqe* q = add(r, op, 999, "user.x", 0, 0, op * 10 + 1, IOSQE_CQE_SKIP_SUCCESS);
          q->addr2 = reinterpret_cast<std::uintptr_t>(value);
          q->len = sizeof(value);
          q = add(r, op, fd, "bad.x", 0, 0, op * 10 + 2, IOSQE_IO_LINK);
          q->addr2 = reinterpret_cast<std::uintptr_t>(value);
          q->len = sizeof(value);
          add(r, IORING_OP_NOP, -1, nullptr, 0, 0, op * 10 + 3, 0);
        }
        auto v = run(r, 6);
        ::close(fd);
        return v;
      },
      16);
}

// io-wq arms a poll only for IOSQE_ASYNC requests: a send or receive with
// IORING_RECVSEND_POLL_FIRST linked behind a MADVISE (always on io-wq),
// which that worker runs next, ends with POLL_FIRST's -EAGAIN (fuzz seed
// 4054). With IOSQE_ASYNC it waits on poll and sends.
TEST(UringFuzzFoundLate, PollFirstLinkOnAWorkerIsEagain) {
  SKIP_WITHOUT_KERNEL_URING();
  static char page[4096] __attribute__((aligned(4096)));
  for (const std::uint8_t op : {IORING_OP_SEND, IORING_OP_SENDMSG, IORING_OP_RECV}) {
    compare_with_kernel(
        [op](Ring& r) {
          int sv[2];
          EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
          if (op == IORING_OP_RECV) {
            EXPECT_EQ(1, write(sv[1], "x", 1));
          }
          static char buf[16];
          static struct iovec iov = {buf, sizeof(buf)};
          static struct msghdr m {};
          m.msg_iov = &iov;
          m.msg_iovlen = 1;
          const void* addr = op == IORING_OP_SENDMSG ? static_cast<const void*>(&m) : buf;
          add(r, IORING_OP_MADVISE, -1, page, sizeof(page), 0, 1, IOSQE_IO_HARDLINK)
              ->fadvise_advice = MADV_NORMAL;
          add(r, op, sv[0], addr, op == IORING_OP_SENDMSG ? 1 : 8, 0, 2, 0)->ioprio =
              IORING_RECVSEND_POLL_FIRST;
          add(r, op, sv[0], addr, op == IORING_OP_SENDMSG ? 1 : 8, 0, 3, IOSQE_ASYNC)->ioprio =
              IORING_RECVSEND_POLL_FIRST;
          auto v = run(r, 3);
          char got[64];
          v.push_back(Cqe{4, static_cast<int>(recv(sv[1], got, sizeof(got), MSG_DONTWAIT)), 0});
          ::close(sv[0]);
          ::close(sv[1]);
          return v;
        },
        8);
  }
}

// A multishot receive with IOSQE_ASYNC (or heading a link its submission
// left unfinished) goes to io-wq, whose worker only arms its poll: with
// nothing to read it waits, and picks a buffer only once data comes, so a
// group without buffers is found then, -ENOBUFS; a cancel before that ends
// it with -ECANCELED (fuzz seed 38521: iostack issued it at once, -ENOBUFS).
TEST(UringFuzzFoundLate, AsyncMultishotRecvWaitsBeforeItPicksABuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  for (const std::uint8_t flags : {IOSQE_ASYNC, IOSQE_IO_HARDLINK}) {
    compare_with_kernel(
        [flags](Ring& r) {
          int sv[2];
          EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
          io_uring_sqe* q = add(r, IORING_OP_RECV, sv[0], nullptr, 0, 0, 1,
                                static_cast<std::uint8_t>(flags | IOSQE_BUFFER_SELECT));
          q->ioprio = IORING_RECV_MULTISHOT;
          q->buf_group = 1;
          std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
          append(&v, r.wait(1, 100));  // it waits
          EXPECT_EQ(1, write(sv[1], "x", 1));
          append(&v, r.wait(1));
          char got[8];
          EXPECT_EQ(1, read(sv[0], got, sizeof(got)));  // -ENOBUFS left it there
          q = add(r, IORING_OP_RECV, sv[0], nullptr, 0, 0, 2, IOSQE_ASYNC | IOSQE_BUFFER_SELECT);
          q->ioprio = IORING_RECV_MULTISHOT;
          q->buf_group = 1;
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 3, 0);
          append(&v, run(r, 2));
          ::close(sv[0]);
          ::close(sv[1]);
          return v;
        },
        8);
  }
}

// The kernel's worker arms an IOSQE_ASYNC multishot read's poll only after
// the rest of its batch has run: a READ of the same eventfd behind it takes
// the count first, so the multishot waits (and a cancel ends it) instead of
// failing at once on its empty buffer group (fuzz seed 230626).
TEST(UringFuzzFoundLate, AsyncMultishotReadPollsAfterItsBatch) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        const int efd = eventfd(1, EFD_CLOEXEC);
        io_uring_sqe* q = add(r, 49 /* READ_MULTISHOT */, efd, nullptr, 0, 0, 1,
                              IOSQE_ASYNC | IOSQE_BUFFER_SELECT);
        q->buf_group = 1;
        static std::uint64_t count;
        add(r, IORING_OP_READ, efd, &count, sizeof(count), 0, 2, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        append(&v, r.wait(1));       // the READ
        append(&v, r.wait(1, 100));  // the multishot waits
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 3, 0);
        append(&v, run(r, 2));
        ::close(efd);
        return v;
      },
      8);
}

// splice(2) takes FMODE_NOWAIT from the pipes it uses, so a later READ of
// the pipe cannot try without blocking (RWF_NOWAIT is refused); the kernel
// then asks the pipe's poll (io_file_supports_nowait): empty, the READ
// waits on poll (where data wakes it and a cancel finds it) instead of
// blocking a worker, also for an O_NONBLOCK pipe (fuzz seed 236913).
class UringSplicedPipe : public ::testing::TestWithParam<bool> {};

TEST_P(UringSplicedPipe, ReadWaitsOnPoll) {
  SKIP_WITHOUT_KERNEL_URING();
  const bool nonblock = GetParam();
  compare_with_kernel(
      [nonblock](Ring& r) {
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)));
        EXPECT_EQ(16, write(p[1], "0123456789abcdef", 16));
        char tmpl[] = "/tmp/iostack-spliced-XXXXXX";
        const int file = mkstemp(tmpl);
        unlink(tmpl);
        io_uring_sqe* s = add(r, IORING_OP_SPLICE, file, nullptr, 4096, ~0ULL, 1, 0);
        s->splice_fd_in = p[0];
        s->splice_off_in = ~0ULL;
        std::vector<Cqe> v = run(r, 1);
        static char buf[4096];
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 2, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        append(&v, r.wait(1, 100));  // it waits
        EXPECT_EQ(3, write(p[1], "xyz", 3));
        r.backend()->wrote();
        append(&v, r.wait(1));
        add(r, IORING_OP_READ, p[0], buf, sizeof(buf), 0, 3, 0);
        v.push_back(Cqe{0, r.enter(r.flush(), 0, 0), 0});
        append(&v, r.wait(1, 100));
        add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(3), 0, 0, 4, 0);
        append(&v, run(r, 2));
        ::close(p[0]);
        ::close(p[1]);
        ::close(file);
        return v;
      },
      8);
}

INSTANTIATE_TEST_SUITE_P(Pipes, UringSplicedPipe, ::testing::Values(false, true),
                         [](const auto& info) {
                           return std::string(info.param ? "NonBlocking" : "Blocking");
                         });

// An ACCEPT of something that is not a socket fails at once with
// -ENOTSOCK (do_accept), even where that file is not readable, like a
// pipe's write end (fuzz seed 8542: iostack waited on its poll).
TEST(UringFuzzFoundLate, AcceptOfAPipeIsNotASocket) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        add(r, IORING_OP_ACCEPT, p[1], nullptr, 0, 0, 1, 0);
        add(r, IORING_OP_ACCEPT, p[0], nullptr, 0, 0, 2, 0);
        auto v = run(r, 2);
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
}

// A bundle RECV picks its buffers together (io_buffers_peek) only with
// uring_lock held: from a missing group that is -ENOENT in the submitter,
// but on io-wq (IOSQE_ASYNC, IO_DRAIN) it selects one buffer as a plain
// receive does, -ENOBUFS (fuzz seed 9639).
TEST(UringFuzzFoundLate, BundleRecvOnAWorkerSelectsOneBuffer) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        EXPECT_EQ(2, write(sv[1], "xy", 2));
        std::vector<Cqe> v;
        for (const unsigned flags : {0u, unsigned{IOSQE_ASYNC}, unsigned{IOSQE_IO_DRAIN}}) {
          io_uring_sqe* q = add(r, IORING_OP_RECV, sv[0], nullptr, 1, 0, 1 + flags,
                                static_cast<std::uint8_t>(flags | IOSQE_BUFFER_SELECT));
          q->ioprio = 1 << 4;  // IORING_RECVSEND_BUNDLE
          q->buf_group = 3;
          append(&v, run(r, 1));
        }
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8);
}

// A BIND of a Unix socket to a filesystem name goes to io-wq at prep (it
// creates an inode); an abstract name, an autobind and an inet address bind
// inline. The ASYNC_CANCEL linked behind each finds itself running on the
// worker (-EALREADY) or not at all (-ENOENT). A CONNECT to the name right
// after such a BIND found it not yet made on the kernel (fuzz seed 304149).
TEST(UringFuzzFoundLate, BindToAFilesystemNameGoesToAWorker) {
  constexpr std::uint8_t kOpBind = 56;  // IORING_OP_BIND (6.11), past liburing 2.3's header
  SKIP_WITHOUT_KERNEL_URING();
  TmpDir t;
  const std::string name = t.path + "/s";
  compare_with_kernel(
      [&name](Ring& r) {
        static struct sockaddr_un path {
        }, abstract{};
        static struct sockaddr_in inet {};
        path.sun_family = abstract.sun_family = AF_UNIX;
        std::snprintf(path.sun_path, sizeof(path.sun_path), "%s", name.c_str());
        std::snprintf(abstract.sun_path + 1, sizeof(abstract.sun_path) - 1, "iostack-%d", getpid());
        inet.sin_family = AF_INET;
        inet.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const socklen_t path_len = offsetof(struct sockaddr_un, sun_path) + name.size() + 1;
        const socklen_t abstract_len =
            offsetof(struct sockaddr_un, sun_path) + 1 + std::strlen(abstract.sun_path + 1);
        struct Case {
          int domain;
          const void* addr;
          socklen_t len;
        };
        std::vector<Cqe> v;
        for (const Case& c :
             {Case{AF_UNIX, &path, path_len}, Case{AF_UNIX, &abstract, abstract_len},
              Case{AF_UNIX, &path, offsetof(struct sockaddr_un, sun_path)},
              Case{AF_INET, &inet, sizeof(inet)}, Case{AF_INET, &path, path_len}}) {
          const int s = socket(c.domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
          add(r, kOpBind, s, c.addr, 0, c.len, 1, IOSQE_IO_LINK);
          add(r, IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(2), 0, 0, 2, 0);
          append(&v, run(r, 2));
          ::close(s);
          unlink(name.c_str());
        }
        return v;
      },
      8);
}

// A bundle SEND is multishot: issued in the submitter it posts what it sent
// with F_MORE and ends with a send of nothing; issued by io-wq (IOSQE_ASYNC,
// or linked behind a request that ran there) 6.18 ends it -ECANCELED before
// it sends anything (fuzz seed 65209), after it found its descriptor.
TEST(UringFuzzFoundLate, BundleSendOnAWorkerIsCancelled) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int sv[2];
        EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
        static char data[64] = "bundle";
        std::vector<Cqe> v;
        for (const int how : {0, 1, 2}) {
          if (how == 2) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_LINK | IOSQE_ASYNC);
          io_uring_sqe* q =
              add(r, IORING_OP_SEND, sv[0], data, sizeof(data), 0, 2, how == 1 ? IOSQE_ASYNC : 0);
          q->ioprio = 1 << 4;  // IORING_RECVSEND_BUNDLE
          append(&v, run(r, how == 1 ? 1 : 2));
          char sink[256];
          v.push_back(Cqe{3, static_cast<std::int32_t>(read(sv[1], sink, sizeof(sink))), 0});
        }
        // The descriptor is looked up first: one not open is -EBADF there
        // (fuzz seed 248254).
        add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, IOSQE_IO_LINK | IOSQE_ASYNC);
        add(r, IORING_OP_SEND, 999, data, sizeof(data), 0, 2, 0)->ioprio = 1 << 4;
        append(&v, run(r, 2));
        ::close(sv[0]);
        ::close(sv[1]);
        return v;
      },
      8);
}

// A READV waiting on an empty pipe is retried by the wakeup of the
// program's own write before that write returns, so it reads those bytes
// alone; a WRITE submitted afterwards is not part of it. iostack runs the
// retry that the interposed write handed over when the next io_uring_enter
// begins (fuzz seed 76697).
TEST(UringFuzzFoundLate, ReadRetriedByAWriteEndsBeforeTheNextSubmission) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        int p[2];
        EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
        static char a[4096], b[512], data[100];
        static struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
        add(r, IORING_OP_READV, p[0], iov, 2, 0, 1, 0);
        std::vector<Cqe> v{Cqe{0, r.enter(r.flush(), 0, 0), 0}};
        EXPECT_EQ(8, write(p[1], "PQRSTUVW", 8));
        r.backend()->wrote();
        add(r, IORING_OP_WRITE, p[1], data, sizeof(data), 0, 2, 0);
        append(&v, run(r, 2));
        ::close(p[0]);
        ::close(p[1]);
        return v;
      },
      8);
}

}  // namespace
}  // namespace uring_test
