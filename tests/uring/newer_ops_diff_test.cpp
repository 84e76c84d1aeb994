// Differential tests of PIPE, URING_CMD and EPOLL_WAIT: the same SQEs
// through the kernel's io_uring and iostack's, comparing CQEs (and what the
// ops leave behind, as extra pseudo-CQEs).
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpEpollWait = 59;
constexpr std::uint8_t kOpPipe = 62;

io_uring_sqe* pipe_sqe(Ring& r, int* fds, unsigned flags, unsigned slot, std::uint64_t ud) {
  io_uring_sqe* s = add(r, kOpPipe, 0, fds, 0, 0, ud, 0);
  s->rw_flags = static_cast<int>(flags);  // pipe_flags
  s->file_index = slot;
  return s;
}

// Whether a pipe's two ends talk to each other.
int pipe_works(int rd, int wr) {
  if (write(wr, "p", 1) != 1) return 1;
  char c = 0;
  return read(rd, &c, 1) == 1 && c == 'p' ? 0 : 2;
}

TEST(UringNewerOpsDiff, Pipe) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static int fds[2];
    pipe_sqe(r, fds, 0, 0, 1);
    append(&out, submit_wait(r, 1));
    out.push_back(Cqe{100, pipe_works(fds[0], fds[1]), 0});
    out.push_back(Cqe{101, fcntl(fds[0], F_GETFD), 0});
    ::close(fds[0]);
    ::close(fds[1]);
    pipe_sqe(r, fds, O_CLOEXEC | O_NONBLOCK, 0, 2);
    append(&out, submit_wait(r, 1));
    out.push_back(
        Cqe{102, fcntl(fds[1], F_GETFD), static_cast<std::uint32_t>(fcntl(fds[0], F_GETFL))});
    ::close(fds[0]);
    ::close(fds[1]);
    // Prep checks, an unwritable array, a slot without a table.
    pipe_sqe(r, fds, O_APPEND, 0, 3);
    pipe_sqe(r, fds, 0, 0, 4)->fd = 1;
    pipe_sqe(r, fds, 0, 0, 5)->off = 1;
    pipe_sqe(r, fds, 0, 0, 6)->addr3 = 1;
    pipe_sqe(r, nullptr, 0, 0, 7);
    pipe_sqe(r, fds, 0, 2, 8);
    auto c = submit_wait(r, 6);
    sort_by_user_data(&c);
    append(&out, c);
    // Into slots: a given one (both ends report 0), allocated ones,
    // O_CLOEXEC refused, a write end past the table.
    io_uring_rsrc_register rr{};
    rr.nr = 6;
    rr.flags = IORING_RSRC_REGISTER_SPARSE;
    EXPECT_EQ(0, r.reg(IORING_REGISTER_FILES2, &rr, sizeof(rr)));
    static int slots[2];
    slots[0] = slots[1] = -7;
    pipe_sqe(r, slots, 0, 3, 9);
    append(&out, submit_wait(r, 1));
    out.push_back(Cqe{103, slots[0], static_cast<std::uint32_t>(slots[1])});
    pipe_sqe(r, slots, 0, IORING_FILE_INDEX_ALLOC, 10);
    append(&out, submit_wait(r, 1));
    out.push_back(Cqe{104, slots[0], static_cast<std::uint32_t>(slots[1])});
    pipe_sqe(r, slots, O_CLOEXEC, IORING_FILE_INDEX_ALLOC, 11);
    pipe_sqe(r, slots, 0, 6, 12);
    c = submit_wait(r, 2);
    append(&out, c);
    // Which slots hold a file now.
    for (unsigned i = 0; i < 6; ++i) {
      io_uring_sqe* s = add(r, IORING_OP_CLOSE, 0, nullptr, 0, 0, 20 + i, 0);
      s->file_index = i + 1;
    }
    append(&out, submit_wait(r, 6));
    return out;
  });
}

io_uring_sqe* cmd_sqe(Ring& r, int fd, std::uint32_t cmd_op, std::uint64_t ud) {
  io_uring_sqe* s = add(r, IORING_OP_URING_CMD, fd, nullptr, 0, 0, ud, 0);
  s->cmd_op = cmd_op;
  return s;
}

// The socket commands' fields of the 6.7 uapi (level and optname over
// addr, optlen over file_index, optval over addr3), which the system's
// header lacks.
void sockopt(io_uring_sqe* s, int level, int optname, void* optval, unsigned optlen) {
  s->addr = static_cast<std::uint32_t>(level) |
            (std::uint64_t{static_cast<std::uint32_t>(optname)} << 32);
  s->file_index = optlen;
  s->addr3 = reinterpret_cast<std::uintptr_t>(optval);
}

TEST(UringNewerOpsDiff, UringCmd) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    char tmpl[] = "/tmp/iostack-cmd-XXXXXX";
    const int f = mkstemp(tmpl);
    unlink(tmpl);
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    int us[2];
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, us));
    // Files without ->uring_cmd, a bad descriptor, the prep checks.
    cmd_sqe(r, f, 0, 1);
    cmd_sqe(r, p[0], 0, 2);
    cmd_sqe(r, us[0], 0, 3);
    cmd_sqe(r, -1, 0, 4);
    cmd_sqe(r, f, 0, 5)->__pad1 = 1;
    cmd_sqe(r, f, 0, 6)->uring_cmd_flags = 1u << 5;
    cmd_sqe(r, f, 0, 7)->uring_cmd_flags = 1u << 1;  // multishot, no buffer select
    cmd_sqe(r, f, 0, 8)->uring_cmd_flags = (1u << 0) | (1u << 1);
    cmd_sqe(r, f, 0, 9)->flags = IOSQE_BUFFER_SELECT;
    cmd_sqe(r, f, 0, 10)->ioprio = 1;
    const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    cmd_sqe(r, null_fd, 1234, 17);  // uring_cmd_null takes anything
    auto c = submit_wait(r, 11);
    sort_by_user_data(&c);
    append(&out, c);

    // A TCP connection: queued bytes, socket options.
    const int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(0, bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof(a)));
    socklen_t al = sizeof(a);
    EXPECT_EQ(0, getsockname(lst, reinterpret_cast<sockaddr*>(&a), &al));
    EXPECT_EQ(0, listen(lst, 4));
    const int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(0, connect(cl, reinterpret_cast<sockaddr*>(&a), sizeof(a)));
    const int sv = accept4(lst, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_EQ(5, write(cl, "hello", 5));
    char c1;
    EXPECT_EQ(1, recv(sv, &c1, 1, MSG_PEEK));  // the bytes have arrived
    cmd_sqe(r, sv, 0, 11);                     // SIOCINQ
    cmd_sqe(r, lst, 0, 12);                    // SIOCINQ on a listener
    cmd_sqe(r, sv, 99, 13);
    static int rcvbuf;
    rcvbuf = 0;
    io_uring_sqe* s = cmd_sqe(r, sv, 2, 14);  // GETSOCKOPT SO_TYPE
    sockopt(s, SOL_SOCKET, SO_TYPE, &rcvbuf, sizeof(rcvbuf));
    s = cmd_sqe(r, sv, 2, 15);  // only SOL_SOCKET
    sockopt(s, IPPROTO_TCP, 1, &rcvbuf, sizeof(rcvbuf));
    static int one = 1;
    s = cmd_sqe(r, sv, 3, 16);  // SETSOCKOPT SO_KEEPALIVE
    sockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    c = submit_wait(r, 6);
    sort_by_user_data(&c);
    append(&out, c);
    out.push_back(Cqe{100, rcvbuf, 0});
    int ka = 0;
    socklen_t kl = sizeof(ka);
    EXPECT_EQ(0, getsockopt(sv, SOL_SOCKET, SO_KEEPALIVE, &ka, &kl));
    out.push_back(Cqe{101, ka, 0});
    // A raw IP socket (root only; -1 otherwise, on both sides) has
    // raw_ioctl behind it.
    const int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (raw >= 0) {
      cmd_sqe(r, raw, 0, 18);  // SIOCINQ
      cmd_sqe(r, raw, 1, 19);  // SIOCOUTQ
      c = submit_wait(r, 2);
      sort_by_user_data(&c);
      append(&out, c);
      ::close(raw);
    }
    r.exit();
    for (int fd : {f, p[0], p[1], us[0], us[1], lst, cl, sv, null_fd}) ::close(fd);
    return out;
  });
}

io_uring_sqe* ewait_sqe(Ring& r, int epfd, epoll_event* evs, unsigned max, std::uint64_t ud) {
  return add(r, kOpEpollWait, epfd, evs, max, 0, ud, 0);
}

TEST(UringNewerOpsDiff, EpollWait) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    int p[2], q[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(0, pipe2(q, O_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    ev.data.u64 = 8;
    EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
    static epoll_event evs[4];
    // Nothing ready: it waits; then one pipe gets data.
    ewait_sqe(r, ep, evs, 4, 1);
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(0u, r.cq_ready());
    EXPECT_EQ(1, write(p[1], "a", 1));
    append(&out, r.wait(1));
    out.push_back(
        Cqe{100, static_cast<int>(evs[0].events), static_cast<std::uint32_t>(evs[0].data.u64)});
    // Both ready now, room for one, then for four.
    EXPECT_EQ(1, write(q[1], "b", 1));
    ewait_sqe(r, ep, evs, 1, 2);
    append(&out, submit_wait(r, 1));
    ewait_sqe(r, ep, evs, 4, 3);
    append(&out, submit_wait(r, 1));
    // The checks: maxevents, the array, no epoll, a ring, a bad descriptor.
    ewait_sqe(r, ep, evs, 0, 4);
    ewait_sqe(r, ep, evs, 0x80000000u, 5);
    ewait_sqe(r, ep, nullptr, 4, 6);
    ewait_sqe(r, p[0], evs, 4, 7);
    ewait_sqe(r, r.fd(), evs, 4, 8);
    ewait_sqe(r, -1, evs, 4, 9);
    ewait_sqe(r, ep, evs, 4, 10)->off = 1;
    ewait_sqe(r, ep, evs, 4, 11)->rw_flags = 1;
    auto c = submit_wait(r, 8);
    sort_by_user_data(&c);
    append(&out, c);
    // Cancelled while it waits.
    char drain[4];
    EXPECT_EQ(1, read(p[0], drain, 1));
    EXPECT_EQ(1, read(q[0], drain, 1));
    ewait_sqe(r, ep, evs, 4, 12);
    EXPECT_EQ(1, r.submit(0));
    io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 13, 0);
    s->addr = 12;
    c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    r.exit();
    for (int fd : {ep, p[0], p[1], q[0], q[1]}) ::close(fd);
    return out;
  });
}

}  // namespace
}  // namespace uring_test
