// Differential tests of when a completion becomes visible: a request woken
// by the ring's own send (the kernel runs the wakeup inside the send and the
// woken request's task work before its task runs on), completions of io-wq
// workers on plain and DEFER_TASKRUN rings, and a waiter in another thread
// while the submitter sleeps elsewhere. Kernel and iostack see the same.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <latch>
#include <thread>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr char kMsg[] = "a datagram for the ring";
constexpr int kMsgLen = sizeof(kMsg);

// A UDP socket bound to an ephemeral port of 127.0.0.1, and a second one
// connected to it.
struct UdpPair {
  int rx = -1, tx = -1;
  UdpPair() {
    rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(0, bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof(a)));
    socklen_t l = sizeof(a);
    getsockname(rx, reinterpret_cast<sockaddr*>(&a), &l);
    EXPECT_EQ(0, ::connect(tx, reinterpret_cast<sockaddr*>(&a), sizeof(a)));
  }
  ~UdpPair() {
    ::close(rx);
    ::close(tx);
  }
};

// Reaps what the CQ ring holds, without entering.
std::vector<Cqe> peek_all(Ring& r) { return r.reap(); }

// Bounded: true once `pred` holds, false after 10 s.
template <typename Pred>
bool spin_until(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

struct CloseResult {
  std::vector<Cqe> seen;  // found by the receiver without entering
  int enter_ret = 0;      // its enter on the closed descriptor
};

// liburing's socket test, in its own words: a thread's ring has a receive
// pending; another thread's ring sends the datagram, reaps the send and
// closes the first ring's descriptor; only then does the receiver look.
// The receive's task work ran before the receiver ran on, so its CQE is
// in the ring, and entering finds the descriptor gone.
CloseResult close_while_recv_pending(Backend* b) {
  CloseResult out;
  UdpPair udp;
  Ring rx(b), tx(b);
  char buf[64] = {};
  std::latch armed(1), go(1);
  int rx_fd = -1;  // the number the receiver enters with, closed meanwhile
  std::thread receiver([&] {
    rx_fd = rx.init(4);
    if (rx_fd < 0) {
      armed.count_down();
      return;
    }
    add(rx, IORING_OP_RECV, udp.rx, buf, sizeof(buf), 0, 2, 0);
    EXPECT_EQ(1, rx.submit(0));
    armed.count_down();
    go.wait();
    out.seen = peek_all(rx);
    out.enter_ret = b->enter(rx_fd, 0, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
  });
  armed.wait();
  EXPECT_GE(tx.init(4), 0);
  add(tx, IORING_OP_SEND, udp.tx, kMsg, kMsgLen, 0, 1, 0);
  auto sent = submit_wait(tx, 1);
  EXPECT_EQ(std::vector<Cqe>{(Cqe{1, kMsgLen, 0})}, sent);
  EXPECT_GE(rx_fd, 0);
  EXPECT_EQ(0, rx.close_fd());
  go.count_down();
  receiver.join();
  return out;
}

TEST(UringPeerWakeupDiff, RecvCompletedBeforeItsRingDescriptorIsClosed) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const CloseResult k = close_while_recv_pending(&kb);
  const CloseResult o = close_while_recv_pending(&ib);
  const std::vector<Cqe> want{Cqe{2, kMsgLen, 0}};
  EXPECT_EQ(want, k.seen) << "kernel";
  EXPECT_EQ(-EBADF, k.enter_ret) << "kernel";
  EXPECT_EQ(k.seen, o.seen) << "iostack";
  EXPECT_EQ(k.enter_ret, o.enter_ret) << "iostack";
}

// What a sequence saw at each step (CQEs reaped without entering), and
// IORING_SQ_TASKRUN where it looked.
struct Stages {
  std::vector<std::vector<Cqe>> seen;
  std::uint32_t taskrun = 0;
};
using StagesFn = Stages (*)(Ring& r, unsigned flags);

// Runs `fn` on a ring of the kernel's and of iostack's made with `flags`;
// the kernel must have seen `want` in all, and iostack the same at each step.
void compare_stages(StagesFn fn, unsigned flags, const std::vector<Cqe>& want) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  io_uring_params p{};
  p.flags = flags;
  Stages k, o;
  {
    Ring r(&kb);
    const int ret = r.init(8, p);
    if (ret < 0) GTEST_SKIP() << "the kernel refuses the setup flags: " << strerror(-ret);
    k = fn(r, flags);
  }
  {
    Ring r(&ib);
    ASSERT_GE(r.init(8, p), 0);
    o = fn(r, flags);
  }
  std::vector<Cqe> all;
  for (const auto& step : k.seen) all.insert(all.end(), step.begin(), step.end());
  EXPECT_EQ(want, all) << "kernel";
  EXPECT_EQ(k.seen, o.seen) << "CQEs seen at each step, kernel vs iostack";
  EXPECT_EQ(k.taskrun, o.taskrun);
}

// One ring receives and sends: the send wakes the receive, whose task work
// runs before the enter returns, except on DEFER_TASKRUN, where it waits
// for GETEVENTS.
Stages same_ring_send_wakes_recv(Ring& r, unsigned) {
  Stages out;
  UdpPair udp;
  char buf[64] = {};
  add(r, IORING_OP_RECV, udp.rx, buf, sizeof(buf), 0, 2, 0);
  EXPECT_EQ(1, r.submit(0));
  out.seen.push_back(peek_all(r));
  add(r, IORING_OP_SEND, udp.tx, kMsg, kMsgLen, 0, 1, 0);
  EXPECT_EQ(1, r.submit(0));
  out.seen.push_back(peek_all(r));
  EXPECT_EQ(0, r.enter(0, 0, IORING_ENTER_GETEVENTS));
  out.seen.push_back(peek_all(r));
  return out;
}

const std::vector<Cqe> kSendThenRecv{Cqe{1, kMsgLen, 0}, Cqe{2, kMsgLen, 0}};

TEST(UringPeerWakeupDiff, SendWakesRecvOfSameRingBeforeEnterReturns) {
  compare_stages(same_ring_send_wakes_recv, 0, kSendThenRecv);
}

TEST(UringPeerWakeupDiff, SendWakesRecvOfSameRingCoopTaskrun) {
  compare_stages(same_ring_send_wakes_recv, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
                 kSendThenRecv);
}

TEST(UringPeerWakeupDiff, SendWakesRecvOfSameRingDeferTaskrunWaitsForGetevents) {
  compare_stages(same_ring_send_wakes_recv, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                 kSendThenRecv);
}

// IOSQE_ASYNC write to a pipe: an io-wq worker writes, and the test reads
// the bytes back, so the worker has run. A plain ring's worker posts the
// CQE itself (io_req_complete_post), seen without entering; DEFER_TASKRUN's
// goes through the submitter's task work, which only GETEVENTS runs.
Stages iowq_write_completion(Ring& r, unsigned flags) {
  Stages out;
  int pfd[2];
  EXPECT_EQ(0, pipe2(pfd, O_CLOEXEC));
  add(r, IORING_OP_WRITE, pfd[1], kMsg, kMsgLen, 0, 7, IOSQE_ASYNC);
  EXPECT_EQ(1, r.submit(0));
  char buf[64];
  EXPECT_EQ(kMsgLen, ::read(pfd[0], buf, sizeof(buf)));
  if (flags & IORING_SETUP_DEFER_TASKRUN) {
    // The worker queues the completion right after its write: TASKRUN_FLAG
    // tells when it has.
    EXPECT_TRUE(spin_until([&] { return (r.sq_flags() & IORING_SQ_TASKRUN) != 0; }));
    out.taskrun = r.sq_flags() & IORING_SQ_TASKRUN;
    out.seen.push_back(peek_all(r));
    EXPECT_EQ(0, r.enter(0, 0, 0));
    out.seen.push_back(peek_all(r));
    EXPECT_EQ(0, r.enter(0, 0, IORING_ENTER_GETEVENTS));
    out.seen.push_back(peek_all(r));
  } else {
    // A program polling the CQ ring in user space sees it without entering.
    EXPECT_TRUE(spin_until([&] { return r.cq_ready() > 0; }));
    out.seen.push_back(peek_all(r));
  }
  ::close(pfd[0]);
  ::close(pfd[1]);
  return out;
}

const std::vector<Cqe> kWrite{Cqe{7, kMsgLen, 0}};

TEST(UringPeerWakeupDiff, IowqCompletionSeenWithoutEntering) {
  compare_stages(iowq_write_completion, 0, kWrite);
}

TEST(UringPeerWakeupDiff, IowqCompletionOnDeferTaskrunWaitsForGetevents) {
  compare_stages(
      iowq_write_completion,
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG, kWrite);
}

// A thread other than the submitter waits on the ring while the submitter
// sleeps in a system call of its own (a join) and a third thread sends with
// a plain send(): the woken receive still completes and the waiter gets its
// CQE (6.18 does, with or without COOP_TASKRUN; iostack never leaves such
// work to the submitter).
std::vector<Cqe> other_thread_waits(Backend* b, unsigned flags) {
  UdpPair udp;
  Ring r(b);
  io_uring_params p{};
  p.flags = flags;
  EXPECT_GE(r.init(4, p), 0);
  char buf[64] = {};
  add(r, IORING_OP_RECV, udp.rx, buf, sizeof(buf), 0, 3, 0);
  EXPECT_EQ(1, r.submit(0));
  std::latch waiting(1);
  std::vector<Cqe> got;
  std::thread waiter([&] {
    waiting.count_down();
    got = r.wait(1, 10000);
  });
  std::thread sender([&] {
    waiting.wait();
    EXPECT_EQ(kMsgLen, ::send(udp.tx, kMsg, kMsgLen, 0));
  });
  waiter.join();
  sender.join();
  return got;
}

TEST(UringPeerWakeupDiff, WaiterInAnotherThreadGetsCompletionWhileSubmitterSleeps) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  for (unsigned flags : {0u, unsigned{IORING_SETUP_COOP_TASKRUN}}) {
    const std::vector<Cqe> k = other_thread_waits(&kb, flags);
    EXPECT_EQ((std::vector<Cqe>{Cqe{3, kMsgLen, 0}}), k) << "kernel, flags " << flags;
    EXPECT_EQ(k, other_thread_waits(&ib, flags)) << "flags " << flags;
  }
}

}  // namespace
}  // namespace uring_test
