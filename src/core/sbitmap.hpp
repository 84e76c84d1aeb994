// The word operations of lib/sbitmap.c that blk-mq tags and kyber's tokens share.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

namespace iostack::core {

// sbitmap_calculate_shift: small maps use narrower words so that their bits
// spread over several words (and cache lines).
constexpr unsigned sbitmap_calculate_shift(unsigned depth) {
  unsigned shift = 6;
  if (depth >= 4) {
    while ((4u << shift) > depth) --shift;
  }
  return shift;
}

constexpr unsigned sbitmap_nr_words(unsigned depth, unsigned shift) {
  return (depth + (1u << shift) - 1) >> shift;
}

// The bits of word `w` usable in a map of `depth` bits, at most `shallow`
// of them (0: no cap; sbitmap_get_shallow). Zero past the end of the map.
constexpr std::uint64_t sbitmap_word_mask(unsigned depth, unsigned shift, unsigned w,
                                          unsigned shallow = 0) {
  const unsigned per_word = 1u << shift;
  if (w * per_word >= depth) return 0;
  unsigned bits = depth - w * per_word;
  if (bits > per_word) bits = per_word;
  if (shallow && shallow < bits) bits = shallow;
  return bits >= 64 ? ~0ull : ((1ull << bits) - 1);
}

// Sets the lowest clear bit of `word` within `mask` (__sbitmap_get_word);
// returns its number in the word, or -1 when all are set. `order` is the
// order of the read-modify-write: acquire for a lock-like tag, seq_cst where
// a waiter's registration must not pass the failed search.
inline int sbitmap_word_get(std::atomic<std::uint64_t>& word, std::uint64_t mask,
                            std::memory_order order) {
  const std::memory_order load_order =
      order == std::memory_order_seq_cst ? std::memory_order_seq_cst : std::memory_order_relaxed;
  std::uint64_t cur = word.load(load_order);
  for (;;) {
    const std::uint64_t free = ~cur & mask;
    if (!free) return -1;
    const int nr = std::countr_zero(free);
    const std::uint64_t bit = 1ull << nr;
    cur = word.fetch_or(bit, order);
    if (!(cur & bit)) return nr;
  }
}

// One word of __sbitmap_queue_get_batch: claims the `nr` bits from the
// word's lowest clear bit within `mask` with one read-modify-write. Returns
// the bits this call set (bits already set in that window stay with their
// owners), shifted down by *first, the window's lowest bit; 0 when the word
// is full or the window would pass the end of `mask`.
inline std::uint64_t sbitmap_word_get_batch(std::atomic<std::uint64_t>& word, std::uint64_t mask,
                                            unsigned nr, unsigned* first, std::memory_order order) {
  const std::uint64_t cur = word.load(std::memory_order_relaxed);
  const std::uint64_t free = ~cur & mask;
  if (!free || nr == 0 || nr >= 64) return 0;
  const unsigned lo = static_cast<unsigned>(std::countr_zero(free));
  const unsigned usable = static_cast<unsigned>(std::bit_width(mask));
  if (lo + nr > usable) return 0;
  const std::uint64_t window = ((1ull << nr) - 1) << lo;
  const std::uint64_t old = word.fetch_or(window, order);
  *first = lo;
  return (window & ~old) >> lo;
}

// A map's word: the element itself, or the `bits` of an element padded to
// a cache line of its own (struct sbitmap_word).
inline std::atomic<std::uint64_t>& sbitmap_bits(std::atomic<std::uint64_t>& w) { return w; }
inline const std::atomic<std::uint64_t>& sbitmap_bits(const std::atomic<std::uint64_t>& w) {
  return w;
}
template <class Word>
auto& sbitmap_bits(Word& w) {
  return w.bits;
}

// sbitmap_clear_bit of bit `nr` of a map with words of 1 << `shift` bits.
template <class Words>
void sbitmap_clear_bit(Words& words, unsigned shift, unsigned nr, std::memory_order order) {
  sbitmap_bits(words[nr >> shift]).fetch_and(~(1ull << (nr & ((1u << shift) - 1))), order);
}

// sbitmap_weight: bits set now (a snapshot, word by word).
template <class Words>
unsigned sbitmap_weight(const Words& words) {
  unsigned n = 0;
  for (const auto& w : words)
    n += static_cast<unsigned>(std::popcount(sbitmap_bits(w).load(std::memory_order_relaxed)));
  return n;
}

// A depth in requests as bits per word for sbitmap_get_shallow: scaled by
// bits_per_word / nr, rounding up (dd_to_word_depth).
constexpr unsigned sbitmap_word_depth(std::uint64_t depth, unsigned bits_per_word, unsigned nr) {
  return nr ? static_cast<unsigned>((depth * bits_per_word + nr - 1) / nr) : bits_per_word;
}

}  // namespace iostack::core
