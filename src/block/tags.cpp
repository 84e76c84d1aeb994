// Tag allocation, shallow depths and sleeping for a tag (blk-mq-tag.c).
#include "block/tags.hpp"

#include <bit>
#include <chrono>

#include "core/virtual_clock.hpp"

namespace iostack::block {
namespace {

// sbitmap_calculate_shift: small maps use narrower words to spread tags.
unsigned calc_shift(unsigned depth) {
  unsigned shift = 6;
  if (depth >= 4) {
    while ((4u << shift) > depth) --shift;
  }
  return shift;
}

// Driver data areas start on max_align_t boundaries.
std::size_t pdu_stride(std::size_t cmd_size) {
  const std::size_t a = alignof(std::max_align_t);
  return (cmd_size + a - 1) / a * a;
}
}  // namespace

BlkMqTags::BlkMqTags(unsigned nr_tags, std::size_t cmd_size)
    : nr_tags_(nr_tags),
      shift_(calc_shift(nr_tags)),
      words_((nr_tags + (1u << shift_) - 1) >> shift_),
      static_rqs_(new Request[nr_tags]),
      rqs_(nr_tags, nullptr),
      pdu_(cmd_size ? new unsigned char[pdu_stride(cmd_size) * nr_tags]() : nullptr) {
  for (unsigned i = 0; i < nr_tags; ++i) {
    if (pdu_) static_rqs_[i].pdu = pdu_.get() + i * pdu_stride(cmd_size);
  }
}

int BlkMqTags::try_get(unsigned shallow_depth) {
  const unsigned per_word = 1u << shift_;
  for (std::size_t w = 0; w < words_.size(); ++w) {
    unsigned bits = nr_tags_ - static_cast<unsigned>(w) * per_word;
    if (bits > per_word) bits = per_word;
    if (shallow_depth && shallow_depth < bits) bits = shallow_depth;
    const std::uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    std::uint64_t cur = words_[w].load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t free = ~cur & mask;
      if (!free) break;
      const std::uint64_t bit = 1ull << std::countr_zero(free);
      cur = words_[w].fetch_or(bit, std::memory_order_acquire);
      if (!(cur & bit)) return static_cast<int>(w * per_word + std::countr_zero(bit));
    }
  }
  return -1;
}

void BlkMqTags::put(int tag) {
  const auto t = static_cast<unsigned>(tag);
  words_[t >> shift_].fetch_and(~(1ull << (t & ((1u << shift_) - 1))), std::memory_order_release);
  put_seq_.fetch_add(1, std::memory_order_acq_rel);
  if (waiters_.load(std::memory_order_acquire) > 0) {
    std::lock_guard lock(wait_mu_);
    wait_cv_.notify_all();
  }
}

unsigned BlkMqTags::busy() const {
  unsigned n = 0;
  for (const auto& w : words_)
    n += static_cast<unsigned>(std::popcount(w.load(std::memory_order_relaxed)));
  return n;
}

bool BlkMqTags::wait_for_free(core::Clock* clock, std::uint64_t seq) {
  if (clock->is_virtual()) return static_cast<core::VirtualClock*>(clock)->run_one();
  std::unique_lock lock(wait_mu_);
  waiters_.fetch_add(1, std::memory_order_acq_rel);
  // The timed wait covers a put that raced with our registration.
  wait_cv_.wait_for(lock, std::chrono::milliseconds(1), [&] { return wait_seq() != seq; });
  waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

}  // namespace iostack::block
