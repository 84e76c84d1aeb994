// Differential tests of WAITID: the same SQEs through the kernel's io_uring
// and iostack's, on children each run forks for itself, comparing CQEs and
// the siginfo written back.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpWaitid = 50;

io_uring_sqe* waitid_sqe(Ring& r, int which, int id, siginfo_t* info, unsigned options,
                         std::uint64_t ud) {
  io_uring_sqe* s = add(r, kOpWaitid, id, nullptr, static_cast<unsigned>(which), 0, ud, 0);
  s->file_index = options;
  s->addr2 = reinterpret_cast<std::uintptr_t>(info);
  return s;
}

// A child that exits with `code` once `*release` (a pipe's write end) is
// closed.
pid_t child(int code, int* release) {
  int p[2];
  EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
  const pid_t pid = fork();
  if (pid == 0) {
    ::close(p[1]);
    char c;
    while (read(p[0], &c, 1) > 0) {
    }
    _exit(code);
  }
  ::close(p[0]);
  *release = p[1];
  return pid;
}

// What a siginfo says, relative to the child it should name.
void record(std::vector<Cqe>* out, std::uint64_t ud, const siginfo_t& si, pid_t pid) {
  out->push_back(Cqe{ud, si.si_signo, static_cast<std::uint32_t>(si.si_code)});
  out->push_back(Cqe{ud, si.si_pid == pid ? 1 : (si.si_pid == 0 ? 0 : -1),
                     static_cast<std::uint32_t>(si.si_status)});
}

TEST(UringWaitidDiff, ChecksAndImmediateAnswers) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static siginfo_t si;
    // No children at all.
    waitid_sqe(r, P_ALL, 0, &si, WEXITED, 1);
    waitid_sqe(r, P_ALL, 0, &si, 0, 2);  // no state asked for
    waitid_sqe(r, 99, 0, &si, WEXITED, 3);
    waitid_sqe(r, P_PID, 0, &si, WEXITED, 4);
    waitid_sqe(r, P_ALL, 0, &si, WEXITED, 5)->addr = 1;
    waitid_sqe(r, P_ALL, 0, &si, WEXITED, 6)->rw_flags = 1;
    waitid_sqe(r, P_ALL, 0, &si, 0x40000000u, 7);  // unknown option
    auto c = submit_wait(r, 7);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    append(&out, c);
    // A child that has exited already (not reaped yet).
    int rel;
    const pid_t pid = child(3, &rel);
    ::close(rel);
    siginfo_t peek{};
    EXPECT_EQ(0, waitid(P_PID, static_cast<id_t>(pid), &peek, WEXITED | WNOWAIT));
    std::memset(&si, 0x55, sizeof(si));
    waitid_sqe(r, P_PID, pid, &si, WEXITED, 8);
    append(&out, submit_wait(r, 1));
    record(&out, 100, si, pid);
    // Reaped: now there is nothing to wait for.
    waitid_sqe(r, P_PID, pid, &si, WEXITED, 9);
    append(&out, submit_wait(r, 1));
    // WNOHANG on a running child: 0, and a zeroed answer.
    const pid_t live = child(4, &rel);
    std::memset(&si, 0x55, sizeof(si));
    waitid_sqe(r, P_PID, live, &si, WEXITED | WNOHANG, 10);
    append(&out, submit_wait(r, 1));
    record(&out, 101, si, live);
    // An unwritable siginfo.
    ::close(rel);
    EXPECT_EQ(0, waitid(P_PID, static_cast<id_t>(live), &peek, WEXITED | WNOWAIT));
    waitid_sqe(r, P_PID, live, reinterpret_cast<siginfo_t*>(8), WEXITED, 11);
    append(&out, submit_wait(r, 1));
    // (the failed copy reaped it all the same)
    waitid_sqe(r, P_PID, live, nullptr, WEXITED | WNOHANG, 12);
    append(&out, submit_wait(r, 1));
    return out;
  });
}

TEST(UringWaitidDiff, WaitsForAChild) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static siginfo_t si;
    // One process by pid.
    int rel;
    pid_t pid = child(5, &rel);
    std::memset(&si, 0, sizeof(si));
    waitid_sqe(r, P_PID, pid, &si, WEXITED, 1);
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(0u, r.cq_ready());
    ::close(rel);
    append(&out, r.wait(1));
    record(&out, 100, si, pid);
    // Any child.
    pid = child(6, &rel);
    std::memset(&si, 0, sizeof(si));
    waitid_sqe(r, P_ALL, 0, &si, WEXITED, 2);
    EXPECT_EQ(1, r.submit(0));
    ::close(rel);
    append(&out, r.wait(1));
    record(&out, 101, si, pid);
    // Cancelled while it waits: the cancel counts one.
    pid = child(7, &rel);
    waitid_sqe(r, P_PID, pid, &si, WEXITED, 3);
    EXPECT_EQ(1, r.submit(0));
    io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 4, 0);
    s->addr = 3;
    auto c = submit_wait(r, 1, 2);
    std::sort(c.begin(), c.end(),
              [](const Cqe& a, const Cqe& b) { return a.user_data < b.user_data; });
    append(&out, c);
    ::close(rel);
    int status = 0;
    EXPECT_EQ(pid, waitpid(pid, &status, 0));
    return out;
  });
}

// Waits for any child (P_ALL) or a process group (P_PGID) hold no thread:
// they can be cancelled, see a child forked after they began, and a group
// wait is not ended by a child of another group.
TEST(UringWaitidDiff, AnyChildAndGroupWaitsAreCancellable) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static siginfo_t si;
    int rel_a;
    const pid_t a = child(11, &rel_a);  // stays until the end
    // Cancelled. (Not forced async: the kernel's cancel then finds it
    // still queued to io-wq or already waiting, as its worker was quick.)
    io_uring_sqe* s = waitid_sqe(r, P_ALL, 0, &si, WEXITED, 1);
    EXPECT_EQ(1, r.submit(0));
    s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 2, 0);
    s->addr = 1;
    auto c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // A child forked after the wait began ends it, forced async too.
    for (std::uint8_t flags : {std::uint8_t{0}, std::uint8_t{IOSQE_ASYNC}}) {
      std::memset(&si, 0, sizeof(si));
      waitid_sqe(r, P_ALL, 0, &si, WEXITED, 3)->flags = flags;
      EXPECT_EQ(1, r.submit(0));
      int rel_b;
      const pid_t b = child(12, &rel_b);
      ::close(rel_b);
      append(&out, r.wait(1));
      record(&out, 103, si, b);
    }
    // A group wait: a child of this process's group exits first and is not
    // taken; the child in its own group is.
    int rel_g;
    const pid_t g = child(13, &rel_g);
    setpgid(g, g);
    std::memset(&si, 0, sizeof(si));
    waitid_sqe(r, P_PGID, g, &si, WEXITED, 4);
    EXPECT_EQ(1, r.submit(0));
    int rel_c;
    const pid_t other = child(14, &rel_c);
    ::close(rel_c);
    siginfo_t csi{};
    EXPECT_EQ(0, waitid(P_PID, static_cast<id_t>(other), &csi, WEXITED | WNOWAIT));
    out.push_back(Cqe{104, static_cast<std::int32_t>(r.cq_ready()), 0});
    ::close(rel_g);
    append(&out, r.wait(1));
    record(&out, 105, si, g);
    int status = 0;
    EXPECT_EQ(other, waitpid(other, &status, 0));
    // Left waiting when the ring goes: its exit cancels it. (WNOWAIT: the
    // kernel's exit work may still find it armed when the child exits.)
    waitid_sqe(r, P_ALL, 0, &si, WEXITED | WNOWAIT, 6);
    EXPECT_EQ(1, r.submit(0));
    r.exit();
    ::close(rel_a);
    EXPECT_EQ(a, waitpid(a, &status, 0));
    return out;
  });
}

}  // namespace
}  // namespace uring_test
