// The free tags a thread keeps for itself (BlkMqTags' per-thread cache, as
// lib/percpu_ida.c's per-CPU free lists): they are free for every thread.
// A get that finds the map full takes them back, a waiter takes them before
// it sleeps, a shallow get never gets one past its depth, and busy() does
// not count them.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "block/tags.hpp"
#include "core/real_clock.hpp"
#include "core/virtual_clock.hpp"

namespace iostack::block::test {
namespace {

// Takes every tag on the calling thread and puts them back: with a map of
// at most four tags, all of them stay in this thread's cache.
void take_all_and_keep(BlkMqTags* tags) {
  std::vector<int> got;
  for (unsigned i = 0; i < tags->depth(); ++i) got.push_back(tags->try_get());
  ASSERT_EQ(tags->try_get(), -1);
  for (int t : got) {
    ASSERT_GE(t, 0);
    tags->put(t);
  }
}

TEST(TagCache, AnotherThreadGetsTheTagsAThreadKeeps) {
  BlkMqTags tags(4, 0);
  take_all_and_keep(&tags);
  EXPECT_EQ(tags.busy(), 0u) << "cached tags are free";
  std::vector<int> got;
  int extra = 0;
  std::thread([&] {
    for (unsigned i = 0; i < 4; ++i) got.push_back(tags.try_get());
    extra = tags.try_get();
  }).join();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3})) << "all four, each once";
  EXPECT_EQ(extra, -1);
  EXPECT_EQ(tags.busy(), 4u);
  EXPECT_EQ(tags.try_get(), -1) << "the owner's cache was emptied, not copied";
}

TEST(TagCache, TheOwnerGetsItsKeptTagsBackFirst) {
  BlkMqTags tags(64, 0);
  const int a = tags.try_get();
  tags.put(a);
  EXPECT_EQ(tags.try_get(), a);
  EXPECT_EQ(tags.busy(), 1u);
}

TEST(TagCache, AShallowGetTakesNoKeptTagPastItsDepthButFindsOneWithin) {
  BlkMqTags tags(32, 0);  // 8 bits per word; a shallow depth of 2 allows bits 0-1 of each
  ASSERT_EQ(tags.bits_per_word(), 8u);
  std::vector<int> got;
  for (unsigned i = 0; i < 32; ++i) got.push_back(tags.try_get());
  ASSERT_EQ(tags.try_get(), -1);
  tags.put(8);  // bit 0 of word 1: within the shallow depth
  tags.put(7);  // bit 7 of word 0: past it; on top of the cache
  EXPECT_EQ(tags.try_get(2), 8) << "the full map's get takes the kept tags back";
  EXPECT_EQ(tags.try_get(2), -1);
  EXPECT_EQ(tags.try_get(), 7);
}

TEST(TagCache, AWaiterTakesTheTagsAnotherThreadKeepsInsteadOfSleeping) {
  BlkMqTags tags(4, 0);
  std::thread([&] { take_all_and_keep(&tags); }).join();
  core::VirtualClock clock;  // no timer: a sleep here would never end (false)
  EXPECT_TRUE(tags.wait_for_free(&clock, tags.wait_seq()));
  EXPECT_GE(tags.try_get(), 0);
}

TEST(TagCache, APutWhileAThreadWaitsGoesToTheMapAndWakesIt) {
  core::RealClock clock;
  BlkMqTags tags(4, 0);
  std::vector<int> held;
  for (unsigned i = 0; i < 4; ++i) held.push_back(tags.try_get());
  int got = -1;
  // The putter's cache was open before anyone waited: its put must still
  // reach the waiter (each wait ends after 1 ms at most; 2000 of them would
  // mean the tag never came).
  std::thread waiter([&] {
    for (int waits = 0; waits < 2000; ++waits) {
      const std::uint64_t seq = tags.wait_seq();
      if ((got = tags.try_get()) >= 0) return;
      tags.wait_for_free(&clock, seq);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  tags.put(held[0]);
  waiter.join();
  EXPECT_EQ(got, held[0]);
}

// Threads that hold most of a small map take and free tags at once, so that
// gets keep finding the map full and stealing from caches that are in use:
// no tag is ever given to two holders, and every tag is free at the end.
TEST(TagCache, ConcurrentGetsPutsAndStealsNeverShareATag) {
  BlkMqTags tags(8, 0);
  std::atomic<int> owner[8] = {};
  std::atomic<bool> shared{false};
  std::atomic<unsigned> failed{0};
  auto worker = [&](int id) {
    std::vector<int> mine;
    for (unsigned i = 0; i < 20000; ++i) {
      const int t = tags.try_get();
      if (t < 0) {
        failed.fetch_add(1, std::memory_order_relaxed);
      } else {
        if (owner[t].exchange(id, std::memory_order_acq_rel) != 0) shared = true;
        mine.push_back(t);
      }
      // Hold up to three, then free them all (into this thread's cache).
      if (mine.size() == 3 || (t < 0 && !mine.empty())) {
        for (int m : mine) {
          if (owner[m].exchange(0, std::memory_order_acq_rel) != id) shared = true;
          tags.put(m);
        }
        mine.clear();
      }
    }
    for (int m : mine) {
      owner[m].store(0, std::memory_order_relaxed);
      tags.put(m);
    }
  };
  std::vector<std::thread> threads;
  for (int id = 1; id <= 3; ++id) threads.emplace_back(worker, id);
  for (auto& th : threads) th.join();
  EXPECT_FALSE(shared.load());
  EXPECT_EQ(tags.busy(), 0u);
  std::vector<int> all;
  for (unsigned i = 0; i < 8; ++i) all.push_back(tags.try_get());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace iostack::block::test
