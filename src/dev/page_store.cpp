// Sparse 4 KiB pages backing ram and memory-backed null devices.
#include "dev/page_store.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>

#include "block/request.hpp"
#include "dev/chunk_pool.hpp"

namespace iostack::dev {

struct PageStore::Node {
  std::atomic<void*> slot[kNodeSlots];
};

unsigned char* PageStore::alloc_page(bool* zero) {
  core::LockGuard lock(pool_mu_);
  if (!free_pages_.empty()) {
    auto* p = static_cast<unsigned char*>(free_pages_.back());
    free_pages_.pop_back();
    *zero = false;
    return p;
  }
  if (chunk_next_ == chunk_end_) {
    if (chunks_.size() == chunks_.capacity()) {
      try {
        chunks_.reserve(chunks_.empty() ? 16 : chunks_.size() * 2);
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
    }
    const ChunkPool::Chunk c = ChunkPool::instance().get();
    if (!c.base) return nullptr;
    chunks_.push_back(c.base);
    chunk_next_ = c.base;
    chunk_end_ = c.base + ChunkPool::kChunkBytes;
    chunk_zero_ = c.zero;
  }
  unsigned char* p = chunk_next_;
  chunk_next_ += kPageSize;
  *zero = chunk_zero_;
  return p;
}

void PageStore::free_page(void* p) {
  core::LockGuard lock(pool_mu_);
  try {
    free_pages_.push_back(p);
  } catch (const std::bad_alloc&) {
    // The page stays unused until the store goes away.
  }
}

PageStore::PageStore(std::uint64_t capacity_bytes) : capacity_(capacity_bytes), levels_(1) {
  const std::uint64_t pages = (capacity_bytes + kPageSize - 1) >> kPageShift;
  // Enough radix levels to address the last page index.
  while (levels_ < 8 && pages > (1ull << (kNodeShift * levels_))) ++levels_;
  root_ = new Node{};
}

PageStore::~PageStore() {
  free_node(root_, levels_);
  core::LockGuard lock(pool_mu_);
  for (unsigned char* c : chunks_) ChunkPool::instance().put(c);
}

void PageStore::free_node(Node* n, unsigned level) {
  for (auto& s : n->slot) {
    void* p = s.load(std::memory_order_relaxed);
    // Pages go back with their chunks.
    if (p && level > 1) free_node(static_cast<Node*>(p), level - 1);
  }
  delete n;
}

std::atomic<void*>* PageStore::leaf_slot(std::uint64_t idx) const {
  Node* n = root_;
  for (unsigned level = levels_; level > 1; --level) {
    const unsigned i = (idx >> (kNodeShift * (level - 1))) & (kNodeSlots - 1);
    n = static_cast<Node*>(n->slot[i].load(std::memory_order_acquire));
    if (!n) return nullptr;
  }
  return &n->slot[idx & (kNodeSlots - 1)];
}

unsigned char* PageStore::lookup(std::uint64_t idx) const {
  std::atomic<void*>* s = leaf_slot(idx);
  return s ? static_cast<unsigned char*>(s->load(std::memory_order_acquire)) : nullptr;
}

std::atomic<void*>* PageStore::leaf_slot_create(std::uint64_t idx) {
  Node* n = root_;
  for (unsigned level = levels_; level > 1; --level) {
    std::atomic<void*>& s = n->slot[(idx >> (kNodeShift * (level - 1))) & (kNodeSlots - 1)];
    void* child = s.load(std::memory_order_acquire);
    if (!child) {
      Node* fresh = new (std::nothrow) Node{};
      if (!fresh) return nullptr;
      // Two writers may race to insert the same node: the loser frees its copy.
      if (s.compare_exchange_strong(child, fresh, std::memory_order_acq_rel)) {
        child = fresh;
      } else {
        delete fresh;
      }
    }
    n = static_cast<Node*>(child);
  }
  return &n->slot[idx & (kNodeSlots - 1)];
}

bool PageStore::write_page(std::uint64_t idx, std::uint32_t off, const unsigned char* in,
                           std::size_t n) {
  std::atomic<void*>* s = leaf_slot_create(idx);
  if (!s) return false;
  void* page = s->load(std::memory_order_acquire);
  if (!page) {
    bool zero = false;
    unsigned char* fresh = alloc_page(&zero);
    if (!fresh) return false;
    // A page the write covers whole needs no clearing first.
    if (!zero && n != kPageSize) {
      std::memset(fresh, 0, off);
      std::memset(fresh + off + n, 0, kPageSize - off - n);
    }
    std::memcpy(fresh + off, in, n);
    if (s->compare_exchange_strong(page, fresh, std::memory_order_acq_rel)) {
      nr_pages_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    // Another writer published the page first: write into theirs.
    free_page(fresh);
  }
  std::memcpy(static_cast<unsigned char*>(page) + off, in, n);
  return true;
}

void PageStore::prefetch(const block::Request* rq, std::uint64_t max_bytes) const {
  const bool is_write = block::op_is_write(rq->cmd_flags);
  const std::uint64_t pos = block::blk_rq_pos(rq) << block::kSectorShift;
  const std::uint64_t bytes = std::min<std::uint64_t>(block::blk_rq_bytes(rq), max_bytes);
  if (!bytes) return;
  const std::uint64_t end = pos + bytes;
  // Nodes are never freed before the store, so the walk needs no lock.
  for (std::uint64_t p = pos & ~std::uint64_t{63}; p < end;) {
    const std::uint64_t page_end = std::min((p | (kPageSize - 1)) + 1, end);
    if (const unsigned char* page = lookup(p >> kPageShift)) {
      for (std::uint64_t line = p; line < page_end; line += 64) {
        if (is_write) {
          __builtin_prefetch(page + (line & (kPageSize - 1)), 1);
        } else {
          __builtin_prefetch(page + (line & (kPageSize - 1)), 0);
        }
      }
    }
    p = (page_end + 63) & ~std::uint64_t{63};
  }
}

void PageStore::read_nolock(std::uint64_t pos, void* dst, std::size_t len) const {
  auto* out = static_cast<unsigned char*>(dst);
  while (len) {
    const std::uint32_t off = pos & (kPageSize - 1);
    const std::size_t n = std::min<std::size_t>(len, kPageSize - off);
    const unsigned char* page = lookup(pos >> kPageShift);
    if (page) {
      std::memcpy(out, page + off, n);
    } else {
      std::memset(out, 0, n);
    }
    out += n;
    pos += n;
    len -= n;
  }
}

bool PageStore::write_nolock(std::uint64_t pos, const void* src, std::size_t len) {
  auto* in = static_cast<const unsigned char*>(src);
  while (len) {
    const std::uint32_t off = pos & (kPageSize - 1);
    const std::size_t n = std::min<std::size_t>(len, kPageSize - off);
    if (!write_page(pos >> kPageShift, off, in, n)) return false;
    in += n;
    pos += n;
    len -= n;
  }
  return true;
}

void PageStore::read(std::uint64_t pos, void* dst, std::size_t len) const {
  std::shared_lock lock(mu_);
  read_nolock(pos, dst, len);
}

bool PageStore::write(std::uint64_t pos, const void* src, std::size_t len) {
  std::shared_lock lock(mu_);
  return write_nolock(pos, src, len);
}

bool PageStore::transfer(const block::Request* rq, std::uint64_t max_bytes) {
  const bool is_write = block::op_is_write(rq->cmd_flags);
  std::uint64_t pos = block::blk_rq_pos(rq) << block::kSectorShift;
  bool ok = true;
  std::shared_lock lock(mu_);
  block::rq_for_each_segment(rq, [&](void* data, std::uint32_t len) {
    if (!ok || !max_bytes) return;
    const std::size_t n = std::min<std::uint64_t>(len, max_bytes);
    if (is_write) {
      ok = write_nolock(pos, data, n);
    } else {
      read_nolock(pos, data, n);
    }
    pos += n;
    max_bytes -= n;
  });
  return ok;
}

void PageStore::clear_nolock(std::uint64_t pos, std::uint64_t len, bool unmap) {
  const std::uint64_t end = std::min(pos + len, capacity_);
  while (pos < end) {
    const std::uint32_t off = pos & (kPageSize - 1);
    const std::uint64_t n = std::min<std::uint64_t>(end - pos, kPageSize - off);
    std::atomic<void*>* s = leaf_slot(pos >> kPageShift);
    void* page = s ? s->load(std::memory_order_relaxed) : nullptr;
    if (page) {
      if (unmap && n == kPageSize) {
        s->store(nullptr, std::memory_order_relaxed);
        free_page(page);
        nr_pages_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        std::memset(static_cast<unsigned char*>(page) + off, 0, n);
      }
    }
    pos += n;
  }
}

void PageStore::discard(std::uint64_t pos, std::uint64_t len) { zero_range(pos, len, true); }

void PageStore::zero_range(std::uint64_t pos, std::uint64_t len, bool unmap) {
  if (unmap) {
    std::unique_lock lock(mu_);
    clear_nolock(pos, len, true);
  } else {
    // Only clears bytes in place: concurrent copies are no worse off than
    // with an overlapping write.
    std::shared_lock lock(mu_);
    clear_nolock(pos, len, false);
  }
}

}  // namespace iostack::dev
