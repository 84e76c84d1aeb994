// struct blk_mq_tags (block/blk-mq-tag.c) over an sbitmap-like bitmap
// (lib/sbitmap.c): tag allocation without locks, with sleeping waiters.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "block/request.hpp"
#include "core/mutex.hpp"
#include "core/per_thread.hpp"

namespace iostack::core {
class Clock;
}

namespace iostack::block {

class BlkMqTags {
 public:
  // `cmd_size` bytes of driver data are reserved for each static request.
  BlkMqTags(unsigned nr_tags, std::size_t cmd_size);
  BlkMqTags(const BlkMqTags&) = delete;
  BlkMqTags& operator=(const BlkMqTags&) = delete;

  unsigned depth() const { return nr_tags_; }
  // Bits per bitmap word, as sbitmap_calculate_shift picks for this depth.
  unsigned bits_per_word() const { return 1u << shift_; }

  // Tries to take a free tag: the thread's own cached one, else one from the
  // map. `shallow_depth` (0 = none) caps how many bits of each word may be
  // used, like sbitmap_get_shallow. Returns -1 if none is free (in the map
  // or any thread's cache).
  int try_get(unsigned shallow_depth = 0);
  // __sbitmap_queue_get_batch: up to `nr` tags (nr <= bits_per_word) from
  // one word with one atomic. Returns a mask of the tags taken, tag
  // *offset + i for bit i, or 0 when no word has `nr` bits from its first
  // free one on (the caller then takes one tag at a time).
  std::uint64_t try_get_batch(unsigned nr, unsigned* offset);
  // Frees a tag: into the thread's cache when it is open and has room,
  // else into the map (waking a waiter).
  void put(int tag);
  // Tags taken (cached ones are free).
  unsigned busy() const;

  // Sleeping for a tag: read wait_seq() before a failed try_get, then
  // wait_for_free(seq, shallow_depth) returns once a tag this caller may take
  // is free or was put meanwhile (real clock), or after firing one timer
  // (virtual clock). False when nothing can ever free a tag.
  std::uint64_t wait_seq() const { return put_seq_.load(std::memory_order_acquire); }
  bool wait_for_free(core::Clock* clock, std::uint64_t seq, unsigned shallow_depth = 0);

  Request* static_rq(int tag) { return &static_rqs_[static_cast<std::size_t>(tag)]; }
  // Driver tag -> request currently owning it (may be a scheduler request).
  Request* rq_for_tag(int tag) const { return rqs_[static_cast<std::size_t>(tag)]; }
  void set_rq_for_tag(int tag, Request* rq) { rqs_[static_cast<std::size_t>(tag)] = rq; }

 private:
  // struct sbitmap_word: each word on a cache line of its own, so that
  // threads taking tags from different words share no line.
  struct alignas(64) Word {
    std::atomic<std::uint64_t> bits{0};
  };
  // A thread's own slot of the map. The allocation hint (sbitmap's per-CPU
  // alloc_hint, threads in place of CPUs): the word to search first is the
  // hint's. The kernel starts each CPU at a random tag; here the first
  // thread to use the map starts at word 0 and each next one at the next
  // word, so that submitters on different threads allocate from different
  // words.
  //
  // And a few free tags the thread keeps for itself (the per-CPU free lists
  // of lib/percpu_ida.c, blk-mq's tag allocator in Linux 3.13-4.x): a put
  // keeps its tag there and the thread's next get takes it back, both
  // without a locked instruction. A cached tag's bit stays set in the map;
  // it is free all the same: a get that finds no free bit in the map takes
  // every cached tag back first (steal_cached), and a waiter does so before
  // it sleeps, so a get fails, and a caller sleeps, only when the kernel's
  // would (no tag free, cached ones counted). The owner works on its cache
  // with `busy` set and reads `closed` after setting it (core's light
  // barrier); a stealer closes the cache, pays the heavy barrier, waits for
  // `busy` to clear and empties it. A closed cache is empty and stays closed
  // until its owner takes a tag from the map again (and no one waits for a
  // tag), so a thread that only completes I/O keeps none.
  static constexpr unsigned kCacheTags = 4;
  struct Local {
    unsigned hint = ~0u;  // the next tag to try; none yet
    std::atomic<std::uint32_t> busy{0};
    std::atomic<std::uint32_t> closed{1};
    std::atomic<std::uint32_t> n{0};  // cached tags, in tags[0, n)
    std::atomic<int> tags[kCacheTags] = {};
    // The owner's copy of tags[n - 1] (-1: none) as it last left the cache;
    // a stealer empties the cache without it, but also closes it, and the
    // owner resets it on opening.
    int top = -1;
    // The owner's: the gets the cache served since it opened, and how many
    // map gets to make before opening it again after a steal (doubling
    // while caches keep being stolen soon after opening).
    unsigned served = 0;
    unsigned backoff = 0;
    unsigned skip = 0;
    bool opened = false;  // opened by the owner since it last saw it closed
  };
  static constexpr unsigned kCacheWorthIt = 1024;
  static constexpr unsigned kCacheMaxBackoff = 1u << 14;
  unsigned hint_word(Local* l);
  void hint_after_get(Local* l, unsigned tag) const;
  int cache_get(Local* l, unsigned shallow_depth);
  bool cache_put(Local* l, unsigned tag);
  // The owner's own cached tags back into the map.
  void cache_flush(Local* l);
  // A map get by the owner of a closed cache: opens it when it may.
  void maybe_open(Local* l);
  // Puts every cached tag back into the map; true when there were any.
  bool steal_cached();
  void wake_waiters();
  bool tag_fits(unsigned tag, unsigned shallow_depth) const {
    return !shallow_depth || (tag & ((1u << shift_) - 1)) < shallow_depth;
  }
  int map_get(Local* l, unsigned shallow_depth);

  bool any_free(unsigned shallow_depth) const;

  unsigned nr_tags_;
  unsigned shift_;
  std::vector<Word> words_;
  core::PerThread<Local> locals_;
  std::atomic<unsigned> next_hint_word_{0};
  core::Mutex steal_mu_;  // serialises stealers, and owners opening their cache
  // Caches opened since the last steal: with none, a steal has nothing to
  // close.
  unsigned open_caches_ GUARDED_BY(steal_mu_) = 0;
  std::unique_ptr<Request[]> static_rqs_;
  std::vector<Request*> rqs_;
  std::unique_ptr<unsigned char[]> pdu_;
  core::Mutex wait_mu_;
  core::CondVar wait_cv_;
  std::atomic<int> waiters_{0};
  std::atomic<std::uint64_t> put_seq_{0};  // puts seen by a waiter (bumped under wait_mu_)
};

}  // namespace iostack::block
