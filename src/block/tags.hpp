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

  // Tries to take a free tag. `shallow_depth` (0 = none) caps how many bits of
  // each word may be used, like sbitmap_get_shallow. Returns -1 if none free.
  int try_get(unsigned shallow_depth = 0);
  // __sbitmap_queue_get_batch: up to `nr` tags (nr <= bits_per_word) from
  // one word with one atomic. Returns a mask of the tags taken, tag
  // *offset + i for bit i, or 0 when no word has `nr` bits from its first
  // free one on (the caller then takes one tag at a time).
  std::uint64_t try_get_batch(unsigned nr, unsigned* offset);
  void put(int tag);
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
  // The calling thread's allocation hint (sbitmap's per-CPU alloc_hint,
  // threads in place of CPUs): the word to search first is the hint's.
  // The kernel starts each CPU at a random tag; here the first thread to use
  // the map starts at word 0 and each next one at the next word, so that
  // submitters on different threads allocate from different words.
  struct Hint {
    unsigned tag = ~0u;  // none yet
  };
  unsigned hint_word(Hint* h);
  void hint_after_get(Hint* h, unsigned tag) const;

  bool any_free(unsigned shallow_depth) const;

  unsigned nr_tags_;
  unsigned shift_;
  std::vector<Word> words_;
  core::PerThread<Hint> hints_;
  std::atomic<unsigned> next_hint_word_{0};
  std::unique_ptr<Request[]> static_rqs_;
  std::vector<Request*> rqs_;
  std::unique_ptr<unsigned char[]> pdu_;
  core::Mutex wait_mu_;
  core::CondVar wait_cv_;
  std::atomic<int> waiters_{0};
  std::atomic<std::uint64_t> put_seq_{0};  // puts seen by a waiter (bumped under wait_mu_)
};

}  // namespace iostack::block
