// bio allocation from per-thread caches, vectors, split and chain.
#include "block/bio.hpp"

#include <cassert>

#include "core/object_cache.hpp"

namespace iostack::block {
namespace {

struct BioTag {};
template <unsigned N>
struct VecTag {};
using BioCache = core::ObjectCache<BioTag, sizeof(Bio)>;
// Vector arrays beyond the inline ones, in the size classes of biovec_slabs.
using Vecs16 = core::ObjectCache<VecTag<16>, 16 * sizeof(BioVec)>;
using Vecs64 = core::ObjectCache<VecTag<64>, 64 * sizeof(BioVec)>;
using Vecs256 = core::ObjectCache<VecTag<256>, 256 * sizeof(BioVec)>;
constexpr unsigned kBioMaxVecs = 256;  // BIO_MAX_VECS

BioVec* alloc_vecs(unsigned* nr) {
  if (*nr <= 16) return *nr = 16, static_cast<BioVec*>(Vecs16::alloc());
  if (*nr <= 64) return *nr = 64, static_cast<BioVec*>(Vecs64::alloc());
  *nr = kBioMaxVecs;
  return static_cast<BioVec*>(Vecs256::alloc());
}

void free_vecs(BioVec* v, unsigned nr) {
  if (nr == 16)
    Vecs16::free(v);
  else if (nr == 64)
    Vecs64::free(v);
  else
    Vecs256::free(v);
}

void bio_chain_endio(Bio*) {
  // Never called: bio_endio recognises chained bios and walks to the parent.
  assert(false);
}

}  // namespace

void bio_init(Bio* bio, Disk* bdev, BioVec* vecs, unsigned max_vecs, std::uint32_t opf) {
  bio->bi_next = nullptr;
  bio->bi_bdev = bdev;
  bio->bi_opf = opf;
  bio->bi_flags = 0;
  bio->bi_ioprio = 0;
  bio->bi_write_hint = 0;
  bio->bi_status = BlkStatus::OK;
  bio->bi_vcnt = 0;
  bio->bi_max_vecs = static_cast<std::uint16_t>(max_vecs);
  bio->bi_iter = BvecIter{};
  bio->bi_remaining.store(1, std::memory_order_relaxed);
  bio->bi_end_io = nullptr;
  bio->bi_private = nullptr;
  bio->bi_io_vec = vecs;
  bio->bi_pid = -1;
  bio->bi_blkcg = nullptr;
  bio->bi_issue_ns = 0;
}

Bio* bio_alloc(Disk* bdev, unsigned nr_vecs, std::uint32_t opf) {
  if (nr_vecs > kBioMaxVecs) return nullptr;
  Bio* bio = new (BioCache::alloc()) Bio;
  if (nr_vecs <= kBioInlineVecs) {
    bio_init(bio, bdev, bio->bi_inline_vecs, kBioInlineVecs, opf);
  } else {
    BioVec* v = alloc_vecs(&nr_vecs);
    bio_init(bio, bdev, v, nr_vecs, opf);
  }
  bio->bi_flags = BIO_POOLED;
  return bio;
}

void bio_put(Bio* bio) {
  if (!bio_flagged(bio, BIO_POOLED)) return;  // caller-owned storage
  const bool own_vecs = !bio_flagged(bio, BIO_CLONED) && bio->bi_io_vec != bio->bi_inline_vecs &&
                        bio->bi_max_vecs > kBioInlineVecs;
  if (own_vecs) free_vecs(bio->bi_io_vec, bio->bi_max_vecs);
  bio->~Bio();
  BioCache::free(bio);
}

bool bio_add_vec(Bio* bio, void* base, std::uint32_t len) {
  if (bio->bi_vcnt >= bio->bi_max_vecs || bio_flagged(bio, BIO_CLONED)) return false;
  bio->bi_io_vec[bio->bi_vcnt++] = BioVec{base, len};
  bio->bi_iter.bi_size += len;
  return true;
}

void bio_set_vecs(Bio* bio, BioVec* vecs, unsigned count) {
  bio->bi_io_vec = vecs;
  bio->bi_vcnt = static_cast<std::uint16_t>(count);
  bio->bi_max_vecs = static_cast<std::uint16_t>(count);
  bio->bi_iter.bi_idx = 0;
  bio->bi_iter.bi_bvec_done = 0;
  std::uint32_t size = 0;
  for (unsigned i = 0; i < count; ++i) size += vecs[i].len;
  bio->bi_iter.bi_size = size;
}

void bio_advance_iter(const Bio* bio, BvecIter* iter, std::uint32_t bytes) {
  iter->bi_sector += bytes >> kSectorShift;
  if (!bio_has_data(bio)) {
    iter->bi_size -= bytes;
    return;
  }
  iter->bi_size -= bytes;
  while (bytes) {
    const std::uint32_t left = bio->bi_io_vec[iter->bi_idx].len - iter->bi_bvec_done;
    if (bytes < left) {
      iter->bi_bvec_done += bytes;
      return;
    }
    bytes -= left;
    iter->bi_bvec_done = 0;
    ++iter->bi_idx;
  }
}

// A parent's BIO_CHAIN flag is set by the submitter while an earlier piece
// may be completing on another thread: both sides access it atomically.
std::atomic_ref<std::uint16_t> chain_flags(Bio* bio) { return std::atomic_ref(bio->bi_flags); }

void bio_chain(Bio* child, Bio* parent) {
  child->bi_private = parent;
  child->bi_end_io = bio_chain_endio;
  chain_flags(parent).fetch_or(BIO_CHAIN, std::memory_order_release);
  parent->bi_remaining.fetch_add(1, std::memory_order_relaxed);
}

void bio_endio(Bio* bio) {
  for (;;) {
    if (chain_flags(bio).load(std::memory_order_acquire) & BIO_CHAIN) {
      if (bio->bi_remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      chain_flags(bio).fetch_and(static_cast<std::uint16_t>(~BIO_CHAIN), std::memory_order_relaxed);
    }
    if (bio->bi_end_io != bio_chain_endio) break;
    Bio* parent = static_cast<Bio*>(bio->bi_private);
    if (bio->bi_status != BlkStatus::OK && parent->bi_status == BlkStatus::OK)
      parent->bi_status = bio->bi_status;
    bio_put(bio);
    bio = parent;
  }
  if (bio->bi_end_io) bio->bi_end_io(bio);
}

Bio* bio_split(Bio* bio, sector_t sectors) {
  Bio* split = new (BioCache::alloc()) Bio;
  bio_init(split, bio->bi_bdev, bio->bi_io_vec, bio->bi_max_vecs, bio->bi_opf);
  split->bi_flags = BIO_POOLED | BIO_CLONED | (bio->bi_flags & BIO_TRACE_COMPLETION);
  split->bi_vcnt = bio->bi_vcnt;
  split->bi_ioprio = bio->bi_ioprio;
  split->bi_write_hint = bio->bi_write_hint;
  split->bi_pid = bio->bi_pid;
  split->bi_blkcg = bio->bi_blkcg;  // bio_clone_blkg_association
  split->bi_issue_ns = bio->bi_issue_ns;
  split->bi_iter = bio->bi_iter;
  split->bi_iter.bi_size = static_cast<std::uint32_t>(sectors << kSectorShift);
  bio_advance(bio, split->bi_iter.bi_size);
  return split;
}

}  // namespace iostack::block
