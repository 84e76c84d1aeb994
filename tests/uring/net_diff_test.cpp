// Differential tests of the networking, provided-buffer and path ops: the
// same SQEs through the kernel's io_uring and iostack's, comparing CQEs
// (res, flags, order). Descriptor numbers are reported as "a descriptor"
// since the two runs need not get the same numbers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "buf_ring.hpp"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpBind = 56;
constexpr std::uint8_t kOpListen = 57;
constexpr std::uint8_t kOpFtruncate = 55;

using Seq = std::function<std::vector<Cqe>(Ring&)>;

// SUBMIT_ALL: SQEs failing at prep complete with their error and the
// batch goes on, so one submit can test several bad SQEs.
void compare(const Seq& seq, unsigned entries = 32) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  compare_with_kernel(seq, entries, params);
}

// A descriptor result becomes 1000 (its number is the run's own).
Cqe fd_norm(Cqe c) {
  if (c.res >= 0) c.res = 1000;
  return c;
}

// A listening TCP socket on 127.0.0.1 and its address.
struct Listener {
  int fd = -1;
  sockaddr_in addr{};
  explicit Listener(int flags = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(0, bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
    socklen_t l = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &l);
    EXPECT_EQ(0, listen(fd, 64));
  }
  ~Listener() { ::close(fd); }
  int connect_client() const {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(0, ::connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)));
    return c;
  }
};

// A connected TCP pair: a (client) and b (accepted).
struct TcpPair {
  int a = -1, b = -1;
  TcpPair() {
    Listener l;
    a = l.connect_client();
    b = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
    int one = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~TcpPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// Waits until `fd` has `n` bytes queued for reading (the peer's data has
// arrived), so a receive sees all of it at once.
void wait_inq(int fd, int n) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    ASSERT_GE(::poll(&p, 1, 5000), 0);
    int q = 0;
    ioctl(fd, FIONREAD, &q);
    if (q >= n) return;
  }
}

// A page-aligned buffer ring of `entries` buffers of `size` bytes.

TEST(UringNetDiff, SocketBindListenAcceptConnect) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    prep(r.sqe(), IORING_OP_SOCKET, AF_INET, nullptr, 0, SOCK_STREAM | SOCK_CLOEXEC, 1);
    EXPECT_EQ(1, r.submit(1));
    auto c = r.wait(1);
    EXPECT_EQ(1u, c.size());
    const int lfd = c[0].res;
    out.push_back(fd_norm(c[0]));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    io_uring_sqe* s = r.sqe();
    prep(s, kOpBind, lfd, &addr, 0, 0, 2);
    s->addr2 = sizeof(addr);
    s = r.sqe();
    prep(s, kOpListen, lfd, nullptr, 16, 0, 3);
    s->flags = 0;
    EXPECT_EQ(2, r.submit(2));
    append(&out, r.wait(2));
    socklen_t l = sizeof(addr);
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &l);
    // Accept parks (nothing to accept yet); connect completes it.
    sockaddr_in peer{};
    socklen_t peer_len = sizeof(peer);
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, lfd, &peer, 0, 0, 4);
    s->addr2 = reinterpret_cast<std::uintptr_t>(&peer_len);
    s->accept_flags = SOCK_CLOEXEC;
    EXPECT_EQ(1, r.submit(0));
    const int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    s = r.sqe();
    prep(s, IORING_OP_CONNECT, cfd, &addr, 0, sizeof(addr), 5);
    EXPECT_EQ(1, r.submit(0));
    c = r.wait(2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    int accepted = -1;
    for (auto& x : c) {
      if (x.user_data == 4) {
        EXPECT_GE(x.res, 0);
        accepted = x.res;
        x = fd_norm(x);
      }
      out.push_back(x);
    }
    out.push_back(Cqe{6, static_cast<int>(peer_len), peer.sin_family});
    // Errors: a second bind, listen on a connected socket, a bad address length.
    s = r.sqe();
    prep(s, kOpBind, lfd, &addr, 0, 0, 7);
    s->addr2 = sizeof(addr);
    s = r.sqe();
    prep(s, kOpBind, lfd, &addr, 0, 0, 8);
    s->addr2 = 4096;
    prep(r.sqe(), kOpListen, -1, nullptr, 16, 0, 9);
    prep(r.sqe(), IORING_OP_SOCKET, AF_INET, nullptr, 0, SOCK_STREAM | 0x40000000, 10);
    prep(r.sqe(), IORING_OP_SOCKET, 12345, nullptr, 0, SOCK_STREAM, 11);
    EXPECT_EQ(5, r.submit(5));
    append(&out, r.wait(5));
    // The poll thread accepted: see MultishotAcceptIntoDescriptorsAndDirectSlots.
    r.exit();
    if (accepted >= 0) ::close(accepted);
    ::close(cfd);
    ::close(lfd);
    return out;
  });
}

TEST(UringNetDiff, SendRecvPlainFlagsAndErrors) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    char msg[100];
    for (int i = 0; i < 100; ++i) msg[i] = static_cast<char>(i);
    prep(r.sqe(), IORING_OP_SEND, p.a, msg, 100, 0, 1);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    wait_inq(p.b, 100);
    char small[10], big[4096];
    prep(r.sqe(), IORING_OP_RECV, p.b, small, sizeof(small), 0, 2);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));  // 10 bytes, more queued: F_SOCK_NONEMPTY
    prep(r.sqe(), IORING_OP_RECV, p.b, big, sizeof(big), 0, 3);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));  // the other 90
    EXPECT_EQ(10, big[0]);
    // Nothing queued: the receive parks until the peer sends.
    prep(r.sqe(), IORING_OP_RECV, p.b, big, sizeof(big), 0, 4);
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(0u, r.reap().size());
    EXPECT_EQ(5, ::send(p.a, "hello", 5, 0));
    append(&out, r.wait(1));
    // MSG_DONTWAIT: -EAGAIN instead of waiting.
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, big, sizeof(big), 0, 5);
    s->msg_flags = MSG_DONTWAIT;
    // MSG_WAITALL: waits for all 20 bytes, sent in two pieces.
    s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, big, 20, 0, 6);
    s->msg_flags = MSG_WAITALL;
    s->flags = IOSQE_IO_LINK;
    prep(r.sqe(), IORING_OP_NOP, -1, nullptr, 0, 0, 7);
    EXPECT_EQ(3, r.submit(0));
    EXPECT_EQ(5, ::send(p.a, msg, 5, 0));
    EXPECT_EQ(15, ::send(p.a, msg, 15, 0));
    append(&out, r.wait(3));
    // Errors: not a socket, bad flags, multishot without buffer selection.
    int pfd[2];
    EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
    prep(r.sqe(), IORING_OP_SEND, pfd[1], msg, 10, 0, 8);
    s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, big, 10, 0, 9);
    s->ioprio = 1u << 7;
    s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 10);
    s->ioprio = IORING_RECV_MULTISHOT;
    prep(r.sqe(), IORING_OP_SEND, p.a, reinterpret_cast<void*>(~0ull << 48), 10, 0, 11);
    EXPECT_EQ(4, r.submit(4));
    append(&out, r.wait(4));
    ::close(pfd[0]);
    ::close(pfd[1]);
    // The peer closes: a parked receive completes with 0.
    prep(r.sqe(), IORING_OP_RECV, p.b, big, sizeof(big), 0, 12);
    EXPECT_EQ(1, r.submit(0));
    shutdown(p.a, SHUT_WR);
    append(&out, r.wait(1));
    return out;
  });
}

TEST(UringNetDiff, MultishotRecvOnBufferRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(4, 64);
    for (unsigned i = 0; i < 4; ++i) br.add(i);
    out.push_back(Cqe{0, br.reg(r, 7), 0});
    out.push_back(Cqe{0, br.reg(r, 7), 0});  // twice: -EEXIST
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 1);
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 7;
    EXPECT_EQ(1, r.submit(0));
    char msg[200];
    std::memset(msg, 'x', sizeof(msg));
    // One message at a time, each in a buffer of its own.
    for (int len : {10, 64, 30}) {
      EXPECT_EQ(len, ::send(p.a, msg, len, 0));
      append(&out, r.wait(1));
    }
    out.push_back(Cqe{2, pbuf_head(r, 7), 0});
    // 100 bytes over the last buffer and then none: 64 with more queued,
    // then -ENOBUFS ends the multishot.
    EXPECT_EQ(100, ::send(p.a, msg, 100, 0));
    append(&out, r.wait(2));
    out.push_back(Cqe{3, pbuf_head(r, 7), 0});
    // Refilled, a new multishot receive gets the rest, then the peer's close.
    br.add(0);
    br.add(1);
    s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 4);
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 7;
    EXPECT_EQ(1, r.submit(0));
    append(&out, r.wait(1));
    shutdown(p.a, SHUT_WR);
    append(&out, r.wait(1));
    io_uring_buf_reg reg{};
    reg.bgid = 7;
    out.push_back(Cqe{5, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{6, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{7, pbuf_head(r, 7), 0});
    return out;
  });
}

// Waits until the peer's FIN has arrived behind the data on `fd`.
void wait_fin(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  do ASSERT_GE(::poll(&p, 1, 5000), 0);
  while (!(p.revents & POLLRDHUP));
}

// tcp_inq_hint says 1 once the FIN is queued, also after a receive that did
// not fill its buffer: the CQE says F_SOCK_NONEMPTY and a multishot receive
// goes on to read the end of the stream in the same issue (liburing's
// recv-multishot with an early-closing sender on a DEFER_TASKRUN ring).
TEST(UringNetDiff, ShortReceiveBeforeTheFinSaysNonEmpty) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    char msg[20] = {}, big[4096];
    {
      TcpPair p;
      EXPECT_EQ(20, ::send(p.a, msg, 20, 0));
      shutdown(p.a, SHUT_WR);
      wait_fin(p.b);
      prep(r.sqe(), IORING_OP_RECV, p.b, big, sizeof(big), 0, 1);
      prep(r.sqe(), IORING_OP_RECV, p.b, big, sizeof(big), 0, 2);
      EXPECT_EQ(2, r.submit(2));
      append(&out, r.wait(2));
    }
    TcpPair p;
    BufRing br(4, 64);
    for (unsigned i = 0; i < 4; ++i) br.add(i);
    out.push_back(Cqe{0, br.reg(r, 3), 0});
    EXPECT_EQ(20, ::send(p.a, msg, 20, 0));
    shutdown(p.a, SHUT_WR);
    wait_fin(p.b);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 3);
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 3;
    EXPECT_EQ(1, r.submit(0));
    // Both CQEs are there when the submit returns.
    append(&out, r.reap());
    return out;
  });
}

// IOU_PBUF_RING_INC: receives take a buffer piece by piece; F_BUF_MORE says
// the buffer has room left and stays at the head.
TEST(UringNetDiff, IncrementalBufferRing) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(2, 64);
    br.add(0);
    br.add(1);
    out.push_back(Cqe{0, br.reg(r, 5, 2 /* IOU_PBUF_RING_INC */), 0});
    char msg[64];
    std::memset(msg, 'i', sizeof(msg));
    for (int len : {10, 20, 34, 40}) {
      EXPECT_EQ(len, ::send(p.a, msg, len, 0));
      wait_inq(p.b, len);
      io_uring_sqe* s = r.sqe();
      prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, static_cast<std::uint64_t>(len));
      s->flags = IOSQE_BUFFER_SELECT;
      s->buf_group = 5;
      EXPECT_EQ(1, r.submit(1));
      append(&out, r.wait(1));
      out.push_back(Cqe{1, pbuf_head(r, 5), 0});
    }
    // The pieces landed one after the other in buffer 0, then buffer 1.
    out.push_back(Cqe{2, br.data[10] == 'i' && br.data[63] == 'i' && br.data[64] == 'i', 0});
    return out;
  });
}

TEST(UringNetDiff, BufferRingRegistrationErrors) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    BufRing br(8, 64);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br.br);
    reg.ring_entries = 3;  // not a power of two
    out.push_back(Cqe{1, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    reg.ring_entries = 8;
    reg.ring_addr += 8;  // not page aligned
    out.push_back(Cqe{2, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    reg.ring_addr -= 8;
    reg.resv[1] = 1;
    out.push_back(Cqe{3, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    reg.resv[1] = 0;
    reg.ring_entries = 65536;
    out.push_back(Cqe{4, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{5, r.reg(IORING_REGISTER_PBUF_RING, nullptr, 1), 0});
    out.push_back(Cqe{6, r.reg(IORING_UNREGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{7, pbuf_head(r, 3), 0});
    // A group of legacy buffers cannot become a ring.
    char mem[64];
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 1, mem, 64, 0, 8);
    s->buf_group = 9;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    reg.ring_entries = 8;
    reg.bgid = 9;
    out.push_back(Cqe{9, r.reg(IORING_REGISTER_PBUF_RING, &reg, 1), 0});
    out.push_back(Cqe{10, pbuf_head(r, 9), 0});
    return out;
  });
}

TEST(UringNetDiff, LegacyProvidedBuffers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    std::vector<char> mem(4 * 32);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 4, mem.data(), 32, 10, 1);  // bids 10..13
    s->buf_group = 3;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    char msg[40];
    std::memset(msg, 'm', sizeof(msg));
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(40, ::send(p.a, msg, 40, 0));
      wait_inq(p.b, 40);
      s = r.sqe();
      prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 2 + i);
      s->flags = IOSQE_BUFFER_SELECT;
      s->buf_group = 3;
      s = r.sqe();
      prep(s, IORING_OP_RECV, p.b, nullptr, 16, 0, 4 + i);  // asks for less than a buffer
      s->flags = IOSQE_BUFFER_SELECT;
      s->buf_group = 3;
      EXPECT_EQ(2, r.submit(2));
      append(&out, r.wait(2));
      char rest[64];
      while (::recv(p.b, rest, sizeof(rest), MSG_DONTWAIT) > 0) {
      }
    }
    // Group empty: -ENOBUFS. Missing group: -ENOBUFS; removing: -ENOENT.
    s = r.sqe();
    prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 6);
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 3;
    s = r.sqe();
    prep(s, IORING_OP_REMOVE_BUFFERS, 1, nullptr, 0, 0, 7);
    s->buf_group = 3;
    s = r.sqe();
    prep(s, IORING_OP_REMOVE_BUFFERS, 1, nullptr, 0, 0, 8);
    s->buf_group = 44;
    // Provide 3 more, remove 2 of them, then the last one.
    s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 3, mem.data(), 32, 0, 9);
    s->buf_group = 3;
    s = r.sqe();
    prep(s, IORING_OP_REMOVE_BUFFERS, 2, nullptr, 0, 0, 10);
    s->buf_group = 3;
    s = r.sqe();
    prep(s, IORING_OP_REMOVE_BUFFERS, 5, nullptr, 0, 0, 11);
    s->buf_group = 3;
    // Bad arguments.
    prep(r.sqe(), IORING_OP_PROVIDE_BUFFERS, 0, mem.data(), 32, 0, 12);
    prep(r.sqe(), IORING_OP_PROVIDE_BUFFERS, 1, mem.data(), 32, 70000, 13);
    prep(r.sqe(), IORING_OP_PROVIDE_BUFFERS, 2, mem.data(), 32, 65535, 14);
    prep(r.sqe(), IORING_OP_REMOVE_BUFFERS, 0, nullptr, 0, 0, 15);
    s = r.sqe();
    prep(s, IORING_OP_NOP, -1, nullptr, 0, 0, 16);
    s->flags = IOSQE_BUFFER_SELECT;
    EXPECT_EQ(11, r.submit(11));
    append(&out, r.wait(11));
    return out;
  });
}

// A blocking socket's CONNECT is tried without waiting and then polled, as
// on a non-blocking one: a linked timeout cancels it (-ECANCELED, and the
// timeout -ETIME), and one that can complete does.
TEST(UringNetDiff, BlockingConnectWithLinkTimeout) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(0, bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
    socklen_t l = sizeof(addr);
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &l);
    EXPECT_EQ(0, listen(lfd, 0));  // one queued connection fills it
    const int c0 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    prep(r.sqe(), IORING_OP_CONNECT, c0, &addr, 0, sizeof(addr), 1);
    append(&out, submit_wait(r, 1));
    // The accept queue is full: the SYN goes unanswered until retried.
    add(r, IORING_OP_CONNECT, c1, &addr, 0, sizeof(addr), 2, IOSQE_IO_LINK);
    __kernel_timespec ts{0, 50 * 1000 * 1000};
    prep(r.sqe(), IORING_OP_LINK_TIMEOUT, -1, &ts, 1, 0, 3);
    auto c = submit_wait(r, 2);
    sort_by_user_data(&c);
    append(&out, c);
    out.push_back(Cqe{4, (fcntl(c1, F_GETFL) & O_NONBLOCK) ? 1 : 0, 0});
    ::close(c0);
    ::close(c1);
    ::close(lfd);
    return out;
  });
}

// Bounded wait for what the kernel has done by the time the system call
// that caused it returns, and iostack's poll thread does soon after.
bool await_cond(const std::function<bool()>& cond) {
  for (int i = 0; i < 5000 && !cond(); ++i) usleep(1000);
  return cond();
}

io_uring_params tiny_cq() {
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
  params.cq_entries = 2;
  return params;
}

// A multishot receive that finds the CQ ring full ends: its last CQE,
// without F_MORE, waits in the overflow list.
TEST(UringNetDiff, MultishotRecvOnAFullCqRingEnds) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        TcpPair p;
        BufRing br(4, 64);
        for (unsigned i = 0; i < 4; ++i) br.add(i);
        out.push_back(Cqe{0, br.reg(r, 7), 0});
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_RECV, p.b, nullptr, 0, 0, 1);
        s->ioprio = IORING_RECV_MULTISHOT;
        s->flags = IOSQE_BUFFER_SELECT;
        s->buf_group = 7;
        EXPECT_EQ(1, r.submit(0));
        for (unsigned n = 1; n <= 3; ++n) {
          EXPECT_EQ(1, ::send(p.a, "x", 1, 0));
          const bool seen = await_cond([&] {
            return n < 3 ? r.cq_ready() == n : (r.sq_flags() & IORING_SQ_CQ_OVERFLOW) != 0;
          });
          out.push_back(Cqe{100 + n, seen ? 1 : 0, 0});
        }
        append(&out, r.reap());
        append(&out, r.wait(1));
        return out;
      },
      2, tiny_cq());
}

TEST(UringNetDiff, MultishotAcceptOnAFullCqRingEnds) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> out;
        Listener l;
        io_uring_sqe* s = r.sqe();
        prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 1);
        s->ioprio = IORING_ACCEPT_MULTISHOT;
        s->accept_flags = SOCK_CLOEXEC;
        EXPECT_EQ(1, r.submit(0));
        std::vector<int> clients;
        for (unsigned n = 1; n <= 3; ++n) {
          clients.push_back(l.connect_client());
          const bool seen = await_cond([&] {
            return n < 3 ? r.cq_ready() == n : (r.sq_flags() & IORING_SQ_CQ_OVERFLOW) != 0;
          });
          out.push_back(Cqe{100 + n, seen ? 1 : 0, 0});
        }
        std::vector<Cqe> c = r.reap();
        append(&c, r.wait(1));
        for (const Cqe& x : c) {
          if (x.res >= 0) ::close(x.res);
          out.push_back(fd_norm(x));
        }
        for (int fd : clients) ::close(fd);
        return out;
      },
      2, tiny_cq());
}

TEST(UringNetDiff, MultishotAcceptIntoDescriptorsAndDirectSlots) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    Listener l;
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 1);
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    s->accept_flags = SOCK_CLOEXEC;
    EXPECT_EQ(1, r.submit(0));
    std::vector<int> clients;
    std::vector<int> accepted;  // closed once the ring (and its poll thread) is done
    for (int i = 0; i < 3; ++i) {
      clients.push_back(l.connect_client());
      auto c = r.wait(1);
      for (auto& x : c) {
        if (x.res >= 0) accepted.push_back(x.res);
        out.push_back(fd_norm(x));
      }
    }
    // Cancel ends it.
    prep(r.sqe(), IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 2);
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    // Into a direct descriptor: no table, then a sparse table of 4.
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 3);
    s->file_index = IORING_FILE_INDEX_ALLOC;
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    clients.push_back(l.connect_client());
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{4, r.reg(IORING_REGISTER_FILES, nullptr, 4), 0});  // -EFAULT
    io_uring_rsrc_register rr{};
    rr.nr = 4;
    rr.flags = IORING_RSRC_REGISTER_SPARSE;
    out.push_back(Cqe{4, r.reg(IORING_REGISTER_FILES2, &rr, sizeof(rr)), 0});
    io_uring_file_index_range range{1, 2, 0};
    out.push_back(Cqe{5, r.reg(IORING_REGISTER_FILE_ALLOC_RANGE, &range, 0), 0});
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 6);
    s->file_index = IORING_FILE_INDEX_ALLOC;
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    EXPECT_EQ(1, r.submit(0));
    for (int i = 0; i < 3; ++i) {
      clients.push_back(l.connect_client());
      append(&out, r.wait(1));  // slots 1, 2, then -ENFILE
    }
    // An explicit slot, one past the table, and a bad combination.
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 7);
    s->file_index = 4;  // slot 3
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 8);
    s->file_index = 9;
    s = r.sqe();
    prep(s, IORING_OP_ACCEPT, l.fd, nullptr, 0, 0, 9);
    s->file_index = 2;
    s->accept_flags = SOCK_CLOEXEC;
    clients.push_back(l.connect_client());
    clients.push_back(l.connect_client());
    EXPECT_EQ(3, r.submit(3));
    append(&out, r.wait(3));
    // Data through the direct descriptor in slot 3.
    EXPECT_EQ(3, ::send(clients[clients.size() - 2], "abc", 3, 0));
    char buf[8];
    s = r.sqe();
    prep(s, IORING_OP_RECV, 3, buf, sizeof(buf), 0, 10);
    s->flags = IOSQE_FIXED_FILE;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    // A socket straight into slot 0.
    s = r.sqe();
    prep(s, IORING_OP_SOCKET, AF_INET, nullptr, 0, SOCK_STREAM, 11);
    s->file_index = 1;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    // The poll thread may still hold what it accepted: ThreadSanitizer sees
    // its end through the ring's exit, not through the CQ ring's second mapping.
    r.exit();
    for (int c2 : clients) ::close(c2);
    for (int fd : accepted) ::close(fd);
    return out;
  });
}

TEST(UringNetDiff, SendmsgRecvmsgDatagrams) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    const int a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in ba{};
    ba.sin_family = AF_INET;
    ba.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(b, reinterpret_cast<sockaddr*>(&ba), sizeof(ba));
    socklen_t l = sizeof(ba);
    getsockname(b, reinterpret_cast<sockaddr*>(&ba), &l);
    char p1[] = "hello ", p2[] = "world";
    iovec siov[2] = {{p1, 6}, {p2, 5}};
    msghdr sm{};
    sm.msg_name = &ba;
    sm.msg_namelen = sizeof(ba);
    sm.msg_iov = siov;
    sm.msg_iovlen = 2;
    prep(r.sqe(), IORING_OP_SENDMSG, a, &sm, 1, 0, 1);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    char r1[4], r2[20];
    iovec riov[2] = {{r1, 4}, {r2, 20}};
    sockaddr_in from{};
    msghdr rm{};
    rm.msg_name = &from;
    rm.msg_namelen = sizeof(from);
    rm.msg_iov = riov;
    rm.msg_iovlen = 2;
    prep(r.sqe(), IORING_OP_RECVMSG, b, &rm, 1, 0, 2);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(
        Cqe{3, static_cast<int>(rm.msg_namelen), static_cast<std::uint32_t>(rm.msg_flags)});
    EXPECT_EQ(0, std::memcmp(r1, "hell", 4));
    EXPECT_EQ(0, std::memcmp(r2, "o world", 7));
    // A truncated datagram reports MSG_TRUNC in the user's msghdr.
    char tiny[3];
    iovec tiov{tiny, 3};
    rm.msg_iov = &tiov;
    rm.msg_iovlen = 1;
    rm.msg_namelen = sizeof(from);
    prep(r.sqe(), IORING_OP_SENDMSG, a, &sm, 1, 0, 4);
    prep(r.sqe(), IORING_OP_RECVMSG, b, &rm, 1, 0, 5);
    EXPECT_EQ(2, r.submit(2));
    append(&out, r.wait(2));
    out.push_back(
        Cqe{6, static_cast<int>(rm.msg_namelen), static_cast<std::uint32_t>(rm.msg_flags)});
    // Multishot RECVMSG: io_uring_recvmsg_out, the name, then the payload.
    BufRing br(4, 256);
    for (unsigned i = 0; i < 4; ++i) br.add(i);
    EXPECT_EQ(0, br.reg(r, 1));
    msghdr mm{};
    mm.msg_namelen = sizeof(sockaddr_in);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_RECVMSG, b, &mm, 0, 0, 7);
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 1;
    EXPECT_EQ(1, r.submit(0));
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(11, sendto(a, "datagram-xx", 11, 0, reinterpret_cast<sockaddr*>(&ba), sizeof(ba)));
      auto c = r.wait(1);
      append(&out, c);
      if (!c.empty() && (c[0].flags & IORING_CQE_F_BUFFER)) {
        const auto* o = reinterpret_cast<const io_uring_recvmsg_out*>(
            &br.data[std::size_t{c[0].flags >> IORING_CQE_BUFFER_SHIFT} * 256]);
        out.push_back(Cqe{8, static_cast<int>(o->payloadlen), o->namelen});
        out.push_back(Cqe{9, static_cast<int>(o->controllen), o->flags});
      }
    }
    prep(r.sqe(), IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(7), 0, 0, 10);
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    ::close(a);
    ::close(b);
    return out;
  });
}

// Multishot RECVMSG on a stream: the payload lands after the header and
// the reserved name, and no byte of the stream is lost.
TEST(UringNetDiff, MultishotRecvmsgOnAStream) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(4, 256);
    for (unsigned i = 0; i < 4; ++i) br.add(i);
    EXPECT_EQ(0, br.reg(r, 1));
    msghdr mm{};
    mm.msg_namelen = sizeof(sockaddr_in);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_RECVMSG, p.b, &mm, 0, 0, 1);
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = 1;
    EXPECT_EQ(1, r.submit(0));
    const char* msgs[2] = {"first-chunk", "second"};
    for (const char* m : msgs) {
      EXPECT_EQ(static_cast<ssize_t>(std::strlen(m)), send(p.a, m, std::strlen(m), 0));
      auto c = r.wait(1);
      append(&out, c);
      if (!c.empty() && (c[0].flags & IORING_CQE_F_BUFFER)) {
        const char* b = &br.data[std::size_t{c[0].flags >> IORING_CQE_BUFFER_SHIFT} * 256];
        const auto* o = reinterpret_cast<const io_uring_recvmsg_out*>(b);
        const char* payload = b + sizeof(*o) + sizeof(sockaddr_in);
        out.push_back(Cqe{2, static_cast<int>(o->payloadlen), o->namelen});
        out.push_back(Cqe{3, std::memcmp(payload, m, std::strlen(m)) == 0 ? 0 : 1, 0});
      }
    }
    prep(r.sqe(), IORING_OP_ASYNC_CANCEL, -1, reinterpret_cast<void*>(1), 0, 0, 4);
    EXPECT_EQ(1, r.submit(0));
    auto c = r.wait(2);
    sort_by_user_data(&c);
    append(&out, c);
    return out;
  });
}

TEST(UringNetDiff, SendZcShutdownConnectErrors) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    char msg[64] = "zero copy";
    prep(r.sqe(), IORING_OP_SEND_ZC, p.a, msg, 64, 0, 1);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(2));
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_SEND_ZC, p.a, msg, 64, 0, 2);
    s->ioprio = IORING_SEND_ZC_REPORT_USAGE;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(2));
    s = r.sqe();
    prep(s, IORING_OP_SEND_ZC, p.a, msg, 64, 0, 3);
    s->flags = IOSQE_CQE_SKIP_SUCCESS;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    prep(r.sqe(), IORING_OP_SHUTDOWN, p.a, nullptr, SHUT_WR, 0, 4);
    prep(r.sqe(), IORING_OP_SHUTDOWN, p.a, nullptr, 77, 0, 5);
    EXPECT_EQ(2, r.submit(2));
    auto c = r.wait(2);  // both on io-wq: either may finish first
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    prep(r.sqe(), IORING_OP_SEND, p.a, msg, 8, 0, 6);  // after SHUT_WR: -EPIPE
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    // Connecting to a closed port: -ECONNREFUSED, blocking and non-blocking.
    sockaddr_in dead{};
    {
      Listener l;
      dead = l.addr;
    }
    for (int flags : {0, static_cast<int>(SOCK_NONBLOCK)}) {
      const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
      prep(r.sqe(), IORING_OP_CONNECT, c, &dead, 0, sizeof(dead), 7);
      EXPECT_EQ(1, r.submit(1));
      append(&out, r.wait(1));
      ::close(c);
    }
    return out;
  });
}

TEST(UringNetDiff, PathOps) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    char tmpl[] = "/tmp/iostack-pathops-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const int dfd = open(dir.c_str(), O_DIRECTORY | O_CLOEXEC);
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_MKDIRAT, dfd, "sub", 0750, 0, 1);
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_MKDIRAT, dfd, "sub", 0750, 0, 2);  // -EEXIST
    s = r.sqe();
    prep(s, IORING_OP_SYMLINKAT, dfd, "target", 0, 0, 3);
    s->addr2 = reinterpret_cast<std::uintptr_t>("link");
    EXPECT_EQ(3, r.submit(3));
    auto c = r.wait(3);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    const int f = openat(dfd, "file", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    s = r.sqe();
    prep(s, IORING_OP_LINKAT, dfd, "file", dfd, 0, 4);
    s->addr2 = reinterpret_cast<std::uintptr_t>("hard");
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    s = r.sqe();
    prep(s, IORING_OP_RENAMEAT, dfd, "hard", dfd, 0, 5);
    s->addr2 = reinterpret_cast<std::uintptr_t>("renamed");
    s->flags = IOSQE_IO_LINK;
    s = r.sqe();
    prep(s, IORING_OP_RENAMEAT, dfd, "renamed", dfd, 0, 6);
    s->addr2 = reinterpret_cast<std::uintptr_t>("sub");
    s->rename_flags = RENAME_NOREPLACE;  // -EEXIST
    s = r.sqe();
    prep(s, IORING_OP_UNLINKAT, dfd, "sub", 0, 0, 7);  // a directory: -EISDIR
    EXPECT_EQ(3, r.submit(3));
    c = r.wait(3);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    s = r.sqe();
    prep(s, IORING_OP_UNLINKAT, dfd, "sub", 0, 0, 8);
    s->unlink_flags = AT_REMOVEDIR;
    s->flags = IOSQE_IO_LINK;
    prep(r.sqe(), IORING_OP_UNLINKAT, dfd, "renamed", 0, 0, 9);
    s = r.sqe();
    prep(s, IORING_OP_UNLINKAT, dfd, "x", 0, 0, 10);
    s->unlink_flags = 0x8000;
    prep(r.sqe(), IORING_OP_UNLINKAT, dfd, "", 0, 0, 11);
    prep(r.sqe(), IORING_OP_MKDIRAT, dfd, reinterpret_cast<void*>(8), 0, 0, 12);
    s = r.sqe();
    prep(s, IORING_OP_MKDIRAT, 0, "y", 0, 0, 13);
    s->flags = IOSQE_FIXED_FILE;
    EXPECT_EQ(6, r.submit(6));
    c = r.wait(6);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    // FTRUNCATE grows and shrinks the file.
    prep(r.sqe(), kOpFtruncate, f, nullptr, 0, 12345, 14);
    prep(r.sqe(), kOpFtruncate, f, nullptr, 1, 0, 15);
    EXPECT_EQ(2, r.submit(2));
    c = r.wait(2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& x, const Cqe& y) { return x.user_data < y.user_data; });
    append(&out, c);
    struct stat st;
    fstat(f, &st);
    out.push_back(Cqe{16, static_cast<int>(st.st_size), 0});
    ::close(f);
    unlinkat(dfd, "file", 0);
    unlinkat(dfd, "link", 0);
    ::close(dfd);
    rmdir(dir.c_str());
    return out;
  });
}

// ---- Bundles (IORING_RECVSEND_BUNDLE): one receive or send over several
// buffers of a ring; the CQE names the first buffer and counts every byte.
constexpr unsigned kBundle = 1u << 4;  // IORING_RECVSEND_BUNDLE

io_uring_sqe* add_bundle(Ring& r, std::uint8_t op, int fd, unsigned len, std::uint16_t bgid,
                         std::uint64_t ud, unsigned ioprio = kBundle) {
  io_uring_sqe* s = r.sqe();
  prep(s, op, fd, nullptr, len, 0, ud);
  s->ioprio = static_cast<std::uint16_t>(ioprio);
  s->flags = IOSQE_BUFFER_SELECT;
  s->buf_group = bgid;
  return s;
}

// The bytes queued at `fd`, drained (a differential value: both runs
// must leave the same amount).
int drain(int fd) {
  char buf[4096];
  int total = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return total;
    total += static_cast<int>(n);
  }
}

TEST(UringNetDiff, RecvBundle) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(8, 32);
    for (unsigned i = 0; i < 8; ++i) br.add(i);
    out.push_back(Cqe{0, br.reg(r, 6), 0});
    char msg[400];
    for (std::size_t i = 0; i < sizeof(msg); ++i) msg[i] = static_cast<char>('a' + i % 26);
    // 100 bytes over four buffers, then 10 in the next one.
    for (int len : {100, 10}) {
      EXPECT_EQ(len, ::send(p.a, msg, len, 0));
      wait_inq(p.b, len);
      add_bundle(r, IORING_OP_RECV, p.b, 0, 6, static_cast<std::uint64_t>(len));
      EXPECT_EQ(1, r.submit(1));
      append(&out, r.wait(1));
      out.push_back(Cqe{1, pbuf_head(r, 6), 0});
    }
    out.push_back(Cqe{2, std::memcmp(br.data.data(), msg, 100), 0});
    // A length caps the mapping: 40 bytes take a whole buffer and a cut one
    // (the ring entry keeps its length: only a first buffer is cut there).
    EXPECT_EQ(60, ::send(p.a, msg, 60, 0));
    wait_inq(p.b, 60);
    add_bundle(r, IORING_OP_RECV, p.b, 40, 6, 3);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{4, pbuf_head(r, 6), 0});
    out.push_back(Cqe{5, drain(p.b), 0});
    // Less than one buffer's length: the head buffer is cut in the ring.
    EXPECT_EQ(60, ::send(p.a, msg, 60, 0));
    wait_inq(p.b, 60);
    add_bundle(r, IORING_OP_RECV, p.b, 20, 6, 6);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    const auto* ents = reinterpret_cast<const io_uring_buf*>(br.br);
    out.push_back(Cqe{7, pbuf_head(r, 6), ents[pbuf_head(r, 6) & 7].len});
    out.push_back(Cqe{8, drain(p.b), 0});
    // More than the ring holds: what fits, then -ENOBUFS.
    for (unsigned i = 0; i < 8; ++i) br.add(i);
    EXPECT_EQ(400, ::send(p.a, msg, 400, 0));
    wait_inq(p.b, 400);
    add_bundle(r, IORING_OP_RECV, p.b, 0, 6, 9);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    add_bundle(r, IORING_OP_RECV, p.b, 0, 6, 10);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{11, pbuf_head(r, 6), 0});
    out.push_back(Cqe{12, drain(p.b), 0});
    // A missing group; prep checks.
    add_bundle(r, IORING_OP_RECV, p.b, 0, 77, 13);
    io_uring_sqe* s = add_bundle(r, IORING_OP_RECVMSG, p.b, 0, 6, 14);
    s->addr = reinterpret_cast<std::uintptr_t>(msg);
    EXPECT_EQ(2, r.submit(0));
    append(&out, r.wait(2));
    return out;
  });
}

TEST(UringNetDiff, RecvBundleMultishot) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(16, 32);
    for (unsigned i = 0; i < 16; ++i) br.add(i);
    out.push_back(Cqe{0, br.reg(r, 2), 0});
    char msg[100];
    std::memset(msg, 'q', sizeof(msg));
    EXPECT_EQ(100, ::send(p.a, msg, 100, 0));
    wait_inq(p.b, 100);
    add_bundle(r, IORING_OP_RECV, p.b, 0, 2, 1, kBundle | IORING_RECV_MULTISHOT);
    EXPECT_EQ(1, r.submit(0));
    append(&out, r.wait(2));  // 96 bytes (two mapped after the first), then the last 4
    EXPECT_EQ(50, ::send(p.a, msg, 50, 0));
    append(&out, r.wait(1));
    out.push_back(Cqe{2, pbuf_head(r, 2), 0});
    shutdown(p.a, SHUT_WR);
    append(&out, r.wait(1));
    return out;
  });
}

TEST(UringNetDiff, SendBundle) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    BufRing br(8, 16);
    for (std::size_t i = 0; i < br.data.size(); ++i) br.data[i] = static_cast<char>('A' + i % 26);
    for (unsigned i = 0; i < 3; ++i) br.add(i);
    out.push_back(Cqe{0, br.reg(r, 4), 0});
    // All three buffers in one send.
    add_bundle(r, IORING_OP_SEND, p.a, 0, 4, 1);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{2, pbuf_head(r, 4), 0});
    wait_inq(p.b, 48);
    char got[64];
    out.push_back(Cqe{3, static_cast<std::int32_t>(::recv(p.b, got, sizeof(got), MSG_DONTWAIT)),
                      static_cast<std::uint32_t>(std::memcmp(got, br.data.data(), 48))});
    // A length of 20: one whole buffer (a cut second one is not mapped).
    for (unsigned i = 3; i < 6; ++i) br.add(i);
    add_bundle(r, IORING_OP_SEND, p.a, 20, 4, 4);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{5, pbuf_head(r, 4), 0});
    // Less than a buffer: the head buffer is cut.
    add_bundle(r, IORING_OP_SEND, p.a, 5, 4, 6);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{7, pbuf_head(r, 4), 0});
    // A plain selected send with a length.
    add_bundle(r, IORING_OP_SEND, p.a, 5, 4, 8, 0);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    // Empty ring, missing group, prep checks.
    add_bundle(r, IORING_OP_SEND, p.a, 0, 4, 9);
    add_bundle(r, IORING_OP_SEND, p.a, 0, 99, 10);
    io_uring_sqe* s = add_bundle(r, IORING_OP_SENDMSG, p.a, 0, 4, 11);
    s->addr = reinterpret_cast<std::uintptr_t>(got);
    EXPECT_EQ(3, r.submit(0));
    append(&out, r.wait(3));
    sort_by_user_data(&out);
    out.push_back(Cqe{13, drain(p.b), 0});
    return out;
  });
}

// A ring refilled while the bundle send runs on: each batch posts a CQE
// with F_MORE until the ring is empty.
TEST(UringNetDiff, SendBundleLegacyAndMore) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    TcpPair p;
    std::vector<char> mem(4 * 32, 'L');
    io_uring_sqe* s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 4, mem.data(), 32, 20, 1);
    s->buf_group = 3;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    // A legacy group gives one buffer at a time: the send goes on with F_MORE
    // until it took the last one.
    add_bundle(r, IORING_OP_SEND, p.a, 0, 3, 2);
    EXPECT_EQ(1, r.submit(1));
    for (;;) {
      auto c = r.wait(1);
      append(&out, c);
      if (c.empty() || !(c[0].flags & IORING_CQE_F_MORE)) break;
    }
    wait_inq(p.b, 128);
    s = r.sqe();
    prep(s, IORING_OP_PROVIDE_BUFFERS, 2, mem.data(), 32, 30, 4);
    s->buf_group = 3;
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    add_bundle(r, IORING_OP_RECV, p.b, 0, 3, 5);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    add_bundle(r, IORING_OP_RECV, p.b, 0, 3, 6);
    EXPECT_EQ(1, r.submit(1));
    append(&out, r.wait(1));
    out.push_back(Cqe{7, drain(p.b), 0});
    return out;
  });
}

// A multishot RECV's length caps each receive (6.18: the per-invocation
// cap), and sqe->optlen caps the total; plain receives refuse optlen.
TEST(UringNetDiff, MultishotRecvLimits) {
  SKIP_WITHOUT_KERNEL_URING();
  compare([](Ring& r) {
    std::vector<Cqe> out;
    char msg[100];
    std::memset(msg, 'z', sizeof(msg));
    for (unsigned total : {0u, 50u}) {
      TcpPair p;
      BufRing br(16, 64);
      for (unsigned i = 0; i < 16; ++i) br.add(i);
      out.push_back(Cqe{0, br.reg(r, static_cast<std::uint16_t>(2 + total)), 0});
      EXPECT_EQ(100, ::send(p.a, msg, 100, 0));
      wait_inq(p.b, 100);
      io_uring_sqe* s =
          add_bundle(r, IORING_OP_RECV, p.b, 30, static_cast<std::uint16_t>(2 + total), 1 + total,
                     IORING_RECV_MULTISHOT);
      reinterpret_cast<std::uint32_t*>(s)[11] = total;  // sqe->optlen (6.18)
      EXPECT_EQ(1, r.submit(0));
      append(&out, r.wait(4, 300));
      out.push_back(Cqe{2 + total, drain(p.b), 0});
      s = add_bundle(r, IORING_OP_ASYNC_CANCEL, -1, 0, 0, 3 + total, 0);
      s->flags = 0;
      s->addr = 1 + total;
      EXPECT_EQ(1, r.submit(0));
      auto c = r.wait(2, 300);
      sort_by_user_data(&c);
      append(&out, c);
    }
    TcpPair p;
    io_uring_sqe* s = add_bundle(r, IORING_OP_RECV, p.b, 20, 2, 5, 0);
    reinterpret_cast<std::uint32_t*>(s)[11] = 50;
    EXPECT_EQ(1, r.submit(0));
    append(&out, r.wait(1, 300));
    return out;
  });
}

// RECV_ZC where no NIC queue is registered for zero-copy receive (none can
// be here): every SQE fails at prep, after the generic checks.
TEST(UringNetDiff, RecvZcWithoutAnInterfaceQueue) {
  SKIP_WITHOUT_KERNEL_URING();
  constexpr std::uint8_t kOpRecvZc = 58;
  constexpr unsigned kRecvMultishot = 1u << 1;
  compare([](Ring& r) {
    int sv[2];
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    std::uint64_t ud = 1;
    auto zc = [&](int fd, unsigned ioprio, std::uint8_t flags, std::uint64_t addr = 0) {
      io_uring_sqe* s = add(r, kOpRecvZc, fd, nullptr, 100, 0, ud++, flags);
      s->ioprio = static_cast<std::uint16_t>(ioprio);
      s->addr = addr;
    };
    zc(sv[0], kRecvMultishot, 0);                    // interface queue 0
    zc(sv[0], 0, 0);                                 // not multishot
    zc(sv[0], kRecvMultishot, 0, 0x1000);            // addr set
    zc(sv[0], kRecvMultishot, IOSQE_BUFFER_SELECT);  // no buffer selection
    zc(-1, kRecvMultishot, 0);                       // no file
    zc(sv[0], kRecvMultishot, IOSQE_FIXED_FILE);     // no file table
    zc(sv[0], 1u << 15, 0);                          // unknown flag
    io_uring_sqe* s = add(r, kOpRecvZc, sv[0], nullptr, 0, 0, ud++, 0);
    s->ioprio = kRecvMultishot;
    s->splice_fd_in = 3;  // another queue index
    std::vector<Cqe> out = submit_wait(r, static_cast<unsigned>(ud - 1));
    sort_by_user_data(&out);
    ::close(sv[0]);
    ::close(sv[1]);
    return out;
  });
}

}  // namespace
}  // namespace uring_test
