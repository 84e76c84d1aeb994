// Differential tests of FUTEX_WAIT, FUTEX_WAKE and FUTEX_WAITV: the same
// SQEs through the kernel's io_uring and iostack's, comparing CQEs.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

constexpr std::uint8_t kOpFutexWait = 51;
constexpr std::uint8_t kOpFutexWake = 52;
constexpr std::uint8_t kOpFutexWaitv = 53;
constexpr unsigned kU32Private = 2 | 128;  // FUTEX2_SIZE_U32 | FUTEX2_PRIVATE
constexpr std::uint64_t kAny = 0xffffffffu;

io_uring_sqe* futex_sqe(Ring& r, std::uint8_t op, const void* addr, std::uint64_t val,
                        std::uint64_t mask, unsigned flags, std::uint64_t ud) {
  io_uring_sqe* s = add(r, op, static_cast<int>(flags), addr, 0, 0, ud, 0);
  s->addr2 = val;
  s->addr3 = mask;
  return s;
}

// Futex words of the run's own: the kernel tears a closed ring down
// asynchronously, so its armed waits may still sit on a word a later run
// then wakes.
std::uint32_t* word_of(Ring&) {
  static std::uint32_t pool[256][4];
  static unsigned next = 0;
  return pool[next++ % 256];
}

struct Waitv {
  std::uint64_t val;
  std::uint64_t uaddr;
  std::uint32_t flags;
  std::uint32_t reserved;
};

TEST(UringFutexDiff, PrepAndIssueChecks) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all(
      [](Ring& r) {
        std::uint32_t* word = word_of(r);
        word[0] = 5;
        auto* odd = reinterpret_cast<char*>(word) + 1;
        futex_sqe(r, kOpFutexWait, word, 5, kAny, 2 | 1, 1);      // not a 32-bit futex
        futex_sqe(r, kOpFutexWait, word, 5, kAny, 0x100 | 2, 2);  // unknown flag
        futex_sqe(r, kOpFutexWait, word, 5, kAny, kU32Private, 3)->len = 1;
        futex_sqe(r, kOpFutexWait, word, 5, kAny, kU32Private, 4)->rw_flags = 1;
        futex_sqe(r, kOpFutexWait, word, 1ull << 32, kAny, kU32Private, 5);
        futex_sqe(r, kOpFutexWait, word, 5, 1ull << 32, kU32Private, 6);
        futex_sqe(r, kOpFutexWait, word, 5, 0, kU32Private, 7);     // no bits
        futex_sqe(r, kOpFutexWait, word, 6, kAny, kU32Private, 8);  // value differs
        futex_sqe(r, kOpFutexWait, odd, 5, kAny, kU32Private, 9);   // misaligned
        futex_sqe(r, kOpFutexWait, nullptr, 0, kAny, kU32Private, 10);
        futex_sqe(r, kOpFutexWait, nullptr, 0, kAny, 2, 11);         // shared, unmapped
        futex_sqe(r, kOpFutexWake, word, 1, 0, kU32Private, 12);     // no bits
        futex_sqe(r, kOpFutexWake, word, 1, kAny, kU32Private, 13);  // nobody waits
        futex_sqe(r, kOpFutexWake, word, 0, kAny, kU32Private, 14);  // wake none
        futex_sqe(r, kOpFutexWake, odd, 1, kAny, kU32Private, 15);
        futex_sqe(r, kOpFutexWake, nullptr, 1, kAny, kU32Private, 16);  // private: no page needed
        futex_sqe(r, kOpFutexWake, nullptr, 1, kAny, 2, 17);
        auto c = submit_wait(r, 17);
        sort_by_user_data(&c);
        return c;
      },
      32);
}

TEST(UringFutexDiff, WaitAndWake) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    std::uint32_t& word = *word_of(r);
    word = 0;
    // Two waiters with different bitsets, then wakes.
    futex_sqe(r, kOpFutexWait, &word, 0, 0x1, kU32Private, 1);
    futex_sqe(r, kOpFutexWait, &word, 0, 0x3, kU32Private, 2);
    EXPECT_EQ(2, r.submit(0));
    EXPECT_EQ(0u, r.cq_ready());
    futex_sqe(r, kOpFutexWake, &word, 5, 0x4, kU32Private, 3);  // no bitset meets
    append(&out, submit_wait(r, 1));
    futex_sqe(r, kOpFutexWake, &word, 1, 0x2, kU32Private, 4);  // only the second
    auto c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    futex_sqe(r, kOpFutexWake, &word, 5, kAny, kU32Private, 5);
    c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // FIFO: of two waiters, a single wake takes the older.
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, kU32Private, 6);
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, kU32Private, 7);
    EXPECT_EQ(2, r.submit(0));
    futex_sqe(r, kOpFutexWake, &word, 1, kAny, kU32Private, 8);
    c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // Cancelled: -ECANCELED.
    io_uring_sqe* s = add(r, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0, 9, 0);
    s->addr = 7;
    c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // A shared (not private) wait and wake meet as well.
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, 2, 10);
    EXPECT_EQ(1, r.submit(0));
    futex_sqe(r, kOpFutexWake, &word, 1, kAny, 2, 11);
    c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // One left armed when the ring goes.
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, kU32Private, 12);
    EXPECT_EQ(1, r.submit(0));
    r.exit();
    return out;
  });
}

TEST(UringFutexDiff, Waitv) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    std::uint32_t* words = word_of(r);
    words[0] = 1;
    words[1] = 2;
    words[2] = 3;
    static Waitv v[3];
    for (int i = 0; i < 3; ++i)
      v[i] = Waitv{words[i], reinterpret_cast<std::uintptr_t>(&words[i]), kU32Private, 0};
    // The word at index 1 wakes it: the result is 1.
    add(r, kOpFutexWaitv, 0, v, 3, 0, 1, 0);
    EXPECT_EQ(1, r.submit(0));
    EXPECT_EQ(0u, r.cq_ready());
    futex_sqe(r, kOpFutexWake, &words[1], 1, kAny, kU32Private, 2);
    auto c = submit_wait(r, 1, 2);
    sort_by_user_data(&c);
    append(&out, c);
    // Its other words let go as well: nobody to wake there.
    futex_sqe(r, kOpFutexWake, &words[0], 1, kAny, kU32Private, 3);
    append(&out, submit_wait(r, 1));
    // Checks: count, flags, reserved, the sqe fields, a value, the array.
    static Waitv bad[2];
    bad[0] = v[0];
    bad[1] = v[1];
    bad[1].reserved = 1;
    add(r, kOpFutexWaitv, 0, v, 0, 0, 4, 0);
    add(r, kOpFutexWaitv, 0, v, 129, 0, 5, 0);
    add(r, kOpFutexWaitv, 0, bad, 2, 0, 6, 0);
    add(r, kOpFutexWaitv, 2, v, 3, 0, 7, 0);
    add(r, kOpFutexWaitv, 0, v, 3, 0, 8, 0)->addr2 = 1;
    add(r, kOpFutexWaitv, 0, nullptr, 2, 0, 9, 0);
    static Waitv stale[2];
    stale[0] = v[0];
    stale[1] = v[1];
    stale[1].val = 9;
    add(r, kOpFutexWaitv, 0, stale, 2, 0, 10, 0);
    static Waitv flagged[1];
    flagged[0] = v[0];
    flagged[0].flags = 1;
    add(r, kOpFutexWaitv, 0, flagged, 1, 0, 11, 0);
    c = submit_wait(r, 8);
    sort_by_user_data(&c);
    append(&out, c);
    r.exit();
    return out;
  });
}

// A thread asleep in futex(2) is woken by the ring's FUTEX_WAKE.
TEST(UringFutexDiff, WakesASyscallWaiter) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static std::atomic<std::uint32_t> word;
    word.store(0);
    std::atomic<long> slept{-1};
    std::thread t([&] {
      slept.store(syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, 0,
                          nullptr, nullptr, 0));
    });
    // Until the thread sleeps, a wake finds nobody; the first that wakes it
    // reports 1.
    int res = 0;
    while (res == 0) {
      futex_sqe(r, kOpFutexWake, &word, 1, kAny, kU32Private, 1);
      auto c = submit_wait(r, 1);
      res = c.empty() ? -1 : c[0].res;
    }
    t.join();
    out.push_back(Cqe{1, res, 0});
    out.push_back(Cqe{2, static_cast<int>(slept.load()), 0});
    return out;
  });
}

// A futex(2) FUTEX_WAKE from a plain thread completes the ring's wait.
TEST(UringFutexDiff, SyscallWakeCompletesARingWait) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    std::uint32_t& word = *word_of(r);
    word = 0;
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, kU32Private, 1);
    futex_sqe(r, kOpFutexWait, &word, 0, kAny, kU32Private, 2);
    EXPECT_EQ(2, r.submit(0));
    // Until the wait is watched a wake finds nobody; the first that finds
    // it wakes one: the oldest.
    long woken = 0;
    while (woken == 0)
      woken = syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    out.push_back(Cqe{100, static_cast<int>(woken), 0});
    append(&out, r.wait(1));
    out.push_back(Cqe{101, static_cast<int>(r.cq_ready()), 0});
    r.exit();
    return out;
  });
}

}  // namespace
}  // namespace uring_test
