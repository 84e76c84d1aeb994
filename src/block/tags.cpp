// Tag allocation, shallow depths and sleeping for a tag (blk-mq-tag.c).
#include "block/tags.hpp"

#include <algorithm>
#include <thread>

#include "core/clock.hpp"
#include "core/membarrier.hpp"
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

unsigned BlkMqTags::hint_word(Local* l) {
  const unsigned nw = static_cast<unsigned>(words_.size());
  if (l->hint >= nr_tags_)
    l->hint = (next_hint_word_.fetch_add(1, std::memory_order_relaxed) % nw) << shift_;
  return l->hint >> shift_;
}

// update_alloc_hint_after_get: a tag taken at the hint moves it on by one.
void BlkMqTags::hint_after_get(Local* l, unsigned tag) const {
  if (tag == l->hint) l->hint = tag + 1 >= nr_tags_ - 1 ? 0 : tag + 1;
}

// cache_get and cache_put are try_get's and put's fast paths: inlined (a
// scheduler request takes two tags and puts both, on every I/O).
[[gnu::always_inline]] inline int BlkMqTags::cache_get(Local* l, unsigned shallow_depth) {
  // Only the owner adds to its cache: an empty one needs no handshake. The
  // tag comes from `top`, not tags[n - 1]: one load fewer before the request
  // is known.
  const int t = l->top;
  if (t < 0) return -1;
  const unsigned n = l->n.load(std::memory_order_relaxed);
  l->busy.store(1, std::memory_order_relaxed);
  core::light_barrier();
  int tag = -1;
  // Open after the barrier: no stealer has emptied it (one closes it first
  // and waits for `busy`), so `n` and `top` are still what this thread left.
  if (!l->closed.load(std::memory_order_relaxed) &&
      tag_fits(static_cast<unsigned>(t), shallow_depth)) {
    tag = t;
    l->n.store(n - 1, std::memory_order_relaxed);
    l->top = n > 1 ? l->tags[n - 2].load(std::memory_order_relaxed) : -1;
  }
  l->busy.store(0, std::memory_order_release);
  if (tag >= 0) ++l->served;
  return tag;
}

[[gnu::always_inline]] inline bool BlkMqTags::cache_put(Local* l, unsigned tag) {
  const unsigned n = l->n.load(std::memory_order_relaxed);
  if (l->closed.load(std::memory_order_relaxed) || n >= kCacheTags) return false;
  l->busy.store(1, std::memory_order_relaxed);
  core::light_barrier();
  bool kept = false;
  // Still open: `n` is still this thread's (see cache_get).
  if (!l->closed.load(std::memory_order_relaxed)) {
    l->tags[n].store(static_cast<int>(tag), std::memory_order_relaxed);
    l->n.store(n + 1, std::memory_order_relaxed);
    l->top = static_cast<int>(tag);
    kept = true;
  }
  // Release: a stealer that sees the section over sees the request's last
  // use before the put.
  l->busy.store(0, std::memory_order_release);
  return kept;
}

void BlkMqTags::maybe_open(Local* l) {
  if (l->opened) {
    // Stolen since it opened: a cache stolen from soon after opening costs
    // more barriers than it saves locked instructions.
    l->opened = false;
    l->backoff = l->served >= kCacheWorthIt
                     ? 0
                     : std::min(l->backoff ? 2 * l->backoff : 1, kCacheMaxBackoff);
    l->skip = l->backoff;
  }
  if (l->skip) {
    --l->skip;
    return;
  }
  if (waiters_.load(std::memory_order_relaxed) > 0) return;
  core::LockGuard g(steal_mu_);
  // A waiter has stolen every cached tag; none may be kept until it is done
  // (a put to a cache wakes no one).
  if (waiters_.load(std::memory_order_seq_cst) > 0) return;
  l->served = 0;
  l->opened = true;
  l->top = -1;  // closed, it was emptied
  ++open_caches_;
  l->closed.store(0, std::memory_order_release);
}

bool BlkMqTags::steal_cached() {
  bool any = false;
  {
    core::LockGuard g(steal_mu_);
    if (!open_caches_) return false;  // all closed, so empty
    bool closing = false;
    locals_.for_each_mut([&](Local& l) {
      if (l.closed.load(std::memory_order_relaxed)) return;  // empty
      l.closed.store(1, std::memory_order_relaxed);
      closing = true;
    });
    open_caches_ = 0;
    if (!closing) return false;
    // Every owner now either shows its cache operation under way or sees
    // its cache closed.
    core::heavy_barrier();
    locals_.for_each_mut([&](Local& l) {
      for (unsigned spins = 0; l.busy.load(std::memory_order_acquire); ++spins) {
        if (spins > 64) {
          std::this_thread::yield();  // its owner was preempted inside
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
      const unsigned n = l.n.load(std::memory_order_relaxed);
      for (unsigned i = 0; i < n; ++i) {
        core::sbitmap_clear_bit(words_, shift_,
                                static_cast<unsigned>(l.tags[i].load(std::memory_order_relaxed)),
                                std::memory_order_seq_cst);
      }
      if (n) {
        l.n.store(0, std::memory_order_relaxed);
        any = true;
      }
    });
  }
  if (any) wake_waiters();
  return any;
}

int BlkMqTags::map_get(Local* l, unsigned shallow_depth) {
  const unsigned nw = static_cast<unsigned>(words_.size());
  // sbitmap_find_bit: from the hint's word on, each word from its bit 0.
  for (unsigned i = 0, w = hint_word(l); i < nw; ++i, w = w + 1 == nw ? 0 : w + 1) {
    const std::uint64_t mask = core::sbitmap_word_mask(nr_tags_, shift_, w, shallow_depth);
    const int nr = core::sbitmap_word_get(words_[w].bits, mask, std::memory_order_acquire);
    if (nr >= 0) {
      const unsigned tag = (w << shift_) + static_cast<unsigned>(nr);
      hint_after_get(l, tag);
      return static_cast<int>(tag);
    }
  }
  l->hint = 0;  // a full map: the hint is of no use
  return -1;
}

int BlkMqTags::try_get(unsigned shallow_depth) {
  Local* l = locals_.local();
  if (const int tag = cache_get(l, shallow_depth); tag >= 0) return tag;
  int tag = map_get(l, shallow_depth);
  // No free bit: the tags threads keep are free too. Past the stealers'
  // lock every tag kept before is back in the map (this one's steal or an
  // earlier one that this search may have missed): look once more.
  if (tag < 0) {
    steal_cached();
    tag = map_get(l, shallow_depth);
  }
  if (tag >= 0 && l->closed.load(std::memory_order_relaxed)) maybe_open(l);
  return tag;
}

void BlkMqTags::cache_flush(Local* l) {
  if (l->top < 0) return;
  l->top = -1;  // emptied here, or by the stealer that closed it
  l->busy.store(1, std::memory_order_relaxed);
  core::light_barrier();
  if (!l->closed.load(std::memory_order_relaxed)) {
    const unsigned n = l->n.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < n; ++i) {
      core::sbitmap_clear_bit(words_, shift_,
                              static_cast<unsigned>(l->tags[i].load(std::memory_order_relaxed)),
                              std::memory_order_seq_cst);
    }
    l->n.store(0, std::memory_order_relaxed);
  }
  l->busy.store(0, std::memory_order_release);
}

std::uint64_t BlkMqTags::try_get_batch(unsigned nr, unsigned* offset) {
  Local* l = locals_.local();
  // The batch's window starts at the map's first free bit: the thread's
  // kept tags go back first, so that the window finds them free there.
  cache_flush(l);
  const unsigned nw = static_cast<unsigned>(words_.size());
  for (unsigned i = 0, w = hint_word(l); i < nw; ++i, w = w + 1 == nw ? 0 : w + 1) {
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
  const unsigned nr = static_cast<unsigned>(tag);
  Local* l = locals_.local();
  // sbitmap_queue_clear: the freed tag is the next one to try (the kernel
  // sets the hint of the CPU that allocated it; here the freeing thread's,
  // which is the submitter's when a request completes inline).
  l->hint = nr;
  if (cache_put(l, nr)) return;
  // Sequentially consistent with the waiter's registration: either this put
  // sees the waiter, or the waiter sees the bit free (no atomic counter is
  // bumped on the common path, as sbitmap_queue_clear wakes only when
  // ws_active says someone sleeps).
  core::sbitmap_clear_bit(words_, shift_, nr, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) > 0) [[unlikely]]
    wake_waiters();
}

void BlkMqTags::wake_waiters() {
  core::LockGuard lock(wait_mu_);
  put_seq_.fetch_add(1, std::memory_order_relaxed);
  wait_cv_.notify_all();
}

unsigned BlkMqTags::busy() const {
  unsigned cached = 0;
  locals_.for_each([&](const Local& l) { cached += l.n.load(std::memory_order_relaxed); });
  const unsigned set = core::sbitmap_weight(words_);
  return set > cached ? set - cached : 0;
}

bool BlkMqTags::any_free(unsigned shallow_depth) const {
  for (unsigned w = 0; w < words_.size(); ++w) {
    const std::uint64_t mask = core::sbitmap_word_mask(nr_tags_, shift_, w, shallow_depth);
    if (~words_[w].bits.load(std::memory_order_seq_cst) & mask) return true;
  }
  return false;
}

bool BlkMqTags::wait_for_free(core::Clock* clock, std::uint64_t seq, unsigned shallow_depth) {
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  // No cache keeps a tag from a sleeper, and none opens while it waits.
  steal_cached();
  bool progress = true;
  {
    core::UniqueLock lock(wait_mu_);
    // A put before the registration left its bit free; the timed wait covers
    // what else may race.
    if (wait_seq() == seq && !any_free(shallow_depth))
      progress = clock->wait(lock, wait_cv_, core::kNsPerMs);
  }
  waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return progress;
}

}  // namespace iostack::block
