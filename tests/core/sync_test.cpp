// core's synchronisation pieces: futex waits, the locks and their debug-build
// held checks, CondVar, and the sbitmap word operations.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <latch>
#include <thread>

#include "core/futex.hpp"
#include "core/mutex.hpp"
#include "core/sbitmap.hpp"

namespace iostack::core {
namespace {

TEST(Futex, ReturnsAtOnceWhenTheWordAlreadyChanged) {
  std::atomic<std::uint32_t> word{1};
  EXPECT_EQ(futex_wait(&word, 0, nullptr), 0);  // EAGAIN from the kernel
}

TEST(Futex, TimesOutAtAnAbsoluteDeadline) {
  std::atomic<std::uint32_t> word{0};
  struct timespec past;
  clock_gettime(CLOCK_MONOTONIC, &past);
  EXPECT_EQ(futex_wait(&word, 0, &past), -ETIMEDOUT);
}

TEST(Futex, WakeReleasesASleeper) {
  std::atomic<std::uint32_t> word{0};
  std::latch started(1);
  std::thread t([&] {
    started.count_down();
    while (word.load() == 0) futex_wait(&word, 0, nullptr);
  });
  started.wait();
  word.store(1);
  futex_wake_all(&word);
  t.join();  // returns only if the sleeper saw the new value
  EXPECT_EQ(word.load(), 1u);
}

TEST(Locks, GuardsReleaseAtTheEndOfTheirScope) {
  Mutex m;
  SpinLock s;
  SharedMutex rw;
  {
    LockGuard g(m);
    LockGuard h(s);
    EXPECT_FALSE(m.try_lock());
    EXPECT_FALSE(s.try_lock());
  }
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  EXPECT_TRUE(s.try_lock());
  s.unlock();
  {
    SharedLockGuard r1(rw);
    SharedLockGuard r2(rw);  // readers share it
  }
  LockGuard w(rw);
  rw.assert_held();
}

TEST(Locks, UniqueLockDropsAndRetakes) {
  Mutex m;
  UniqueLock l(m);
  l.unlock();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  l.lock();
  m.assert_held();
}

#ifndef NDEBUG
// lockdep_assert_held: a debug build stops a thread that does not hold the lock.
TEST(LocksDeathTest, AssertHeldFailsWithoutTheLock) {
  Mutex m;
  EXPECT_DEATH(m.assert_held(), "");
  SpinLock s;
  EXPECT_DEATH(lockdep_assert_held(s), "");
}

TEST(LocksDeathTest, AssertHeldFailsForAnotherThreadsLock) {
  Mutex m;
  LockGuard g(m);
  EXPECT_DEATH(std::thread([&] { m.assert_held(); }).join(), "");
}
#endif

TEST(CondVar, NotifyWakesAWaiterThatSeesTheChange) {
  Mutex m;
  CondVar cv;
  bool ready = false;
  std::latch waiting(1);
  std::thread t([&] {
    UniqueLock l(m);
    waiting.count_down();
    while (!ready) cv.wait(l);
    m.assert_held();  // the wait gave the lock back, owner and all
  });
  waiting.wait();
  {
    LockGuard g(m);
    ready = true;
  }
  cv.notify_all();
  t.join();
}

TEST(CondVar, WaitForTimesOut) {
  Mutex m;
  CondVar cv;
  UniqueLock l(m);
  EXPECT_EQ(cv.wait_for(l, std::chrono::milliseconds(1)), std::cv_status::timeout);
  m.assert_held();
}

// lib/sbitmap.c's sbitmap_calculate_shift for some depths.
TEST(Sbitmap, ShiftAsTheKernelPicksIt) {
  EXPECT_EQ(sbitmap_calculate_shift(1), 6u);
  EXPECT_EQ(sbitmap_calculate_shift(3), 6u);
  EXPECT_EQ(sbitmap_calculate_shift(4), 0u);
  EXPECT_EQ(sbitmap_calculate_shift(32), 3u);
  EXPECT_EQ(sbitmap_calculate_shift(64), 4u);
  EXPECT_EQ(sbitmap_calculate_shift(128), 5u);
  EXPECT_EQ(sbitmap_calculate_shift(256), 6u);
  EXPECT_EQ(sbitmap_calculate_shift(4096), 6u);
  EXPECT_EQ(sbitmap_nr_words(64, 4), 4u);
  EXPECT_EQ(sbitmap_nr_words(65, 4), 5u);
}

TEST(Sbitmap, WordMaskCoversTheMapAndTheShallowLimit) {
  EXPECT_EQ(sbitmap_word_mask(64, 4, 0), 0xffffu);
  EXPECT_EQ(sbitmap_word_mask(60, 4, 3), 0xfffu);  // the last word is short
  EXPECT_EQ(sbitmap_word_mask(64, 4, 4), 0u);      // past the end
  EXPECT_EQ(sbitmap_word_mask(64, 4, 1, 3), 0x7u);
  EXPECT_EQ(sbitmap_word_mask(4096, 6, 0), ~0ull);
}

TEST(Sbitmap, GetTakesTheLowestFreeBitAndClearGivesItBack) {
  std::atomic<std::uint64_t> words[2] = {};
  EXPECT_EQ(sbitmap_word_get(words[0], 0x7, std::memory_order_acquire), 0);
  EXPECT_EQ(sbitmap_word_get(words[0], 0x7, std::memory_order_acquire), 1);
  EXPECT_EQ(sbitmap_word_get(words[0], 0x7, std::memory_order_seq_cst), 2);
  EXPECT_EQ(sbitmap_word_get(words[0], 0x7, std::memory_order_acquire), -1);  // mask full
  EXPECT_EQ(sbitmap_word_get(words[1], 0xff, std::memory_order_acquire), 0);
  EXPECT_EQ(sbitmap_weight(words), 4u);
  sbitmap_clear_bit(words, 3, 1, std::memory_order_release);  // word 0, bit 1
  EXPECT_EQ(sbitmap_word_get(words[0], 0x7, std::memory_order_acquire), 1);
  sbitmap_clear_bit(words, 3, 8, std::memory_order_release);  // word 1, bit 0
  EXPECT_EQ(sbitmap_weight(words), 3u);
}

TEST(Sbitmap, WordDepthRoundsUp) {
  EXPECT_EQ(sbitmap_word_depth(48, 16, 64), 12u);
  EXPECT_EQ(sbitmap_word_depth(1, 16, 64), 1u);
  EXPECT_EQ(sbitmap_word_depth(64, 16, 0), 16u);
}

}  // namespace
}  // namespace iostack::core
