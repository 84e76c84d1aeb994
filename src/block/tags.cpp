// Tag allocation, shallow depths and sleeping for a tag (blk-mq-tag.c).
#include "block/tags.hpp"

#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "core/sbitmap.hpp"

namespace iostack::block {
namespace {

// Driver data areas start on max_align_t boundaries.
std::size_t pdu_stride(std::size_t cmd_size) {
  const std::size_t a = alignof(std::max_align_t);
  return (cmd_size + a - 1) / a * a;
}
}  // namespace

BlkMqTags::BlkMqTags(unsigned nr_tags, std::size_t cmd_size)
    : nr_tags_(nr_tags),
      shift_(core::sbitmap_calculate_shift(nr_tags)),
      words_(core::sbitmap_nr_words(nr_tags, shift_)),
      static_rqs_(new Request[nr_tags]),
      rqs_(nr_tags, nullptr),
      pdu_(cmd_size ? new unsigned char[pdu_stride(cmd_size) * nr_tags]() : nullptr) {
  for (unsigned i = 0; i < nr_tags; ++i) {
    if (pdu_) static_rqs_[i].pdu = pdu_.get() + i * pdu_stride(cmd_size);
  }
}

unsigned BlkMqTags::hint_word(Hint* h) {
  const unsigned nw = static_cast<unsigned>(words_.size());
  if (h->tag >= nr_tags_)
    h->tag = (next_hint_word_.fetch_add(1, std::memory_order_relaxed) % nw) << shift_;
  return h->tag >> shift_;
}

// update_alloc_hint_after_get: a tag taken at the hint moves it on by one.
void BlkMqTags::hint_after_get(Hint* h, unsigned tag) const {
  if (tag == h->tag) h->tag = tag + 1 >= nr_tags_ - 1 ? 0 : tag + 1;
}

int BlkMqTags::try_get(unsigned shallow_depth) {
  Hint* h = hints_.local();
  const unsigned nw = static_cast<unsigned>(words_.size());
  // sbitmap_find_bit: from the hint's word on, each word from its bit 0.
  for (unsigned i = 0, w = hint_word(h); i < nw; ++i, w = w + 1 == nw ? 0 : w + 1) {
    const std::uint64_t mask = core::sbitmap_word_mask(nr_tags_, shift_, w, shallow_depth);
    const int nr = core::sbitmap_word_get(words_[w].bits, mask, std::memory_order_acquire);
    if (nr >= 0) {
      const unsigned tag = (w << shift_) + static_cast<unsigned>(nr);
      hint_after_get(h, tag);
      return static_cast<int>(tag);
    }
  }
  h->tag = 0;  // a full map: the hint is of no use
  return -1;
}

std::uint64_t BlkMqTags::try_get_batch(unsigned nr, unsigned* offset) {
  const unsigned nw = static_cast<unsigned>(words_.size());
  for (unsigned i = 0, w = hint_word(hints_.local()); i < nw; ++i, w = w + 1 == nw ? 0 : w + 1) {
    const std::uint64_t mask = core::sbitmap_word_mask(nr_tags_, shift_, w);
    unsigned first = 0;
    const std::uint64_t got =
        core::sbitmap_word_get_batch(words_[w].bits, mask, nr, &first, std::memory_order_acquire);
    if (got) {
      *offset = (w << shift_) + first;
      return got;
    }
  }
  return 0;
}

void BlkMqTags::put(int tag) {
  // Sequentially consistent with the waiter's registration: either this put
  // sees the waiter, or the waiter sees the bit free (no atomic counter is
  // bumped on the common path, as sbitmap_queue_clear wakes only when
  // ws_active says someone sleeps).
  const unsigned nr = static_cast<unsigned>(tag);
  core::sbitmap_clear_bit(words_, shift_, nr, std::memory_order_seq_cst);
  // sbitmap_queue_clear: the freed tag is the next one to try (the kernel
  // sets the hint of the CPU that allocated it; here the freeing thread's,
  // which is the submitter's when a request completes inline).
  hints_.local()->tag = nr;
  if (waiters_.load(std::memory_order_seq_cst) > 0) [[unlikely]] {
    core::LockGuard lock(wait_mu_);
    put_seq_.fetch_add(1, std::memory_order_relaxed);
    wait_cv_.notify_all();
  }
}

unsigned BlkMqTags::busy() const { return core::sbitmap_weight(words_); }

bool BlkMqTags::any_free(unsigned shallow_depth) const {
  for (unsigned w = 0; w < words_.size(); ++w) {
    const std::uint64_t mask = core::sbitmap_word_mask(nr_tags_, shift_, w, shallow_depth);
    if (~words_[w].bits.load(std::memory_order_seq_cst) & mask) return true;
  }
  return false;
}

bool BlkMqTags::wait_for_free(core::Clock* clock, std::uint64_t seq, unsigned shallow_depth) {
  core::UniqueLock lock(wait_mu_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  // A put before the registration left its bit free; the timed wait covers
  // what else may race.
  bool progress = true;
  if (wait_seq() == seq && !any_free(shallow_depth))
    progress = clock->wait(lock, wait_cv_, core::kNsPerMs);
  waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return progress;
}

}  // namespace iostack::block
