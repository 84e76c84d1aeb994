// struct bio (include/linux/blk_types.h, block/bio.c): one I/O of contiguous
// sectors whose data lives in caller memory described by a vector of
// segments. Splitting makes a clone that shares the vector and covers a
// prefix of the iterator, as bio_split does.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "block/blk_types.hpp"

namespace iostack::task {
struct Blkcg;
}

namespace iostack::block {

class Disk;
struct Bio;

// struct bio_vec, with page + offset collapsed into one address.
struct BioVec {
  void* base;
  std::uint32_t len;
};

// struct bvec_iter: the part of the vector a bio still covers.
struct BvecIter {
  sector_t bi_sector = 0;
  std::uint32_t bi_size = 0;       // bytes left
  std::uint32_t bi_idx = 0;        // current vector index
  std::uint32_t bi_bvec_done = 0;  // bytes done in the current vector
};

using BioEndIo = void (*)(Bio*);

enum BioFlag : std::uint16_t {
  BIO_CLONED = 1u << 0,            // shares another bio's vector
  BIO_CHAIN = 1u << 1,             // has a chained child; completion counts down
  BIO_TRACE_COMPLETION = 1u << 2,  // Q already traced for this bio
  BIO_POOLED = 1u << 3,            // from bio_alloc: bio_put returns it to the cache
};

constexpr unsigned kBioInlineVecs = 4;

struct Bio {
  Bio* bi_next = nullptr;  // request's bio chain
  Disk* bi_bdev = nullptr;
  std::uint32_t bi_opf = 0;
  std::uint16_t bi_flags = 0;
  std::uint16_t bi_ioprio = 0;
  std::uint8_t bi_write_hint = 0;
  BlkStatus bi_status = BlkStatus::OK;
  std::uint16_t bi_vcnt = 0;
  std::uint16_t bi_max_vecs = 0;
  BvecIter bi_iter{};
  std::atomic<int> bi_remaining{1};
  BioEndIo bi_end_io = nullptr;
  void* bi_private = nullptr;
  BioVec* bi_io_vec = nullptr;
  std::int32_t bi_pid = -1;  // submitting thread, for traces
  // bio->bi_blkg's cgroup: the submitter's (nullptr: the root); the
  // scheduler keeps its own per-cgroup state (bfq's groups).
  task::Blkcg* bi_blkcg = nullptr;
  std::uint64_t bi_issue_ns = 0;
  BioVec bi_inline_vecs[kBioInlineVecs];
};

// bio_init: prepare caller-owned storage. `vecs` may be bi_inline_vecs or an
// external array of `max_vecs` entries.
void bio_init(Bio* bio, Disk* bdev, BioVec* vecs, unsigned max_vecs, std::uint32_t opf);
// bio_alloc: from the process-wide bio cache (per-thread free lists, no
// allocation in steady state). More than kBioInlineVecs vectors come from a
// separate array pool.
Bio* bio_alloc(Disk* bdev, unsigned nr_vecs, std::uint32_t opf);
void bio_put(Bio* bio);

// bio_add_page equivalent: append a segment; false when the vector is full.
bool bio_add_vec(Bio* bio, void* base, std::uint32_t len);
// Point the bio at an external vector that the caller keeps alive (no copy).
void bio_set_vecs(Bio* bio, BioVec* vecs, unsigned count);

inline sector_t bio_sectors(const Bio* bio) { return bio->bi_iter.bi_size >> kSectorShift; }
inline sector_t bio_end_sector(const Bio* bio) { return bio->bi_iter.bi_sector + bio_sectors(bio); }
inline std::uint32_t bio_op(const Bio* bio) { return req_op(bio->bi_opf); }
inline bool bio_has_data(const Bio* bio) {
  const auto op = bio_op(bio);
  return bio->bi_iter.bi_size && op != REQ_OP_DISCARD && op != REQ_OP_WRITE_ZEROES;
}
inline bool bio_flagged(const Bio* bio, BioFlag f) { return (bio->bi_flags & f) != 0; }
inline void bio_set_flag(Bio* bio, BioFlag f) { bio->bi_flags |= f; }
// For flags of a bio that another thread may be completing a chained piece
// of (it reads the flags in bio_endio): an atomic clear.
inline void bio_clear_flag_shared(Bio* bio, BioFlag f) {
  std::atomic_ref(bio->bi_flags)
      .fetch_and(static_cast<std::uint16_t>(~f), std::memory_order_relaxed);
}

// bio_advance: consume `bytes` from the front of the iterator.
void bio_advance_iter(const Bio* bio, BvecIter* iter, std::uint32_t bytes);
inline void bio_advance(Bio* bio, std::uint32_t bytes) {
  bio_advance_iter(bio, &bio->bi_iter, bytes);
}

// Calls fn(void* data, uint32_t len) for each piece of the bio's remaining data.
template <typename Fn>
void bio_for_each_segment(const Bio* bio, Fn&& fn) {
  if (!bio_has_data(bio)) return;
  BvecIter it = bio->bi_iter;
  while (it.bi_size) {
    const BioVec& v = bio->bi_io_vec[it.bi_idx];
    std::uint32_t len = v.len - it.bi_bvec_done;
    if (len > it.bi_size) len = it.bi_size;
    fn(static_cast<char*>(v.base) + it.bi_bvec_done, len);
    bio_advance_iter(bio, &it, len);
  }
}

// bio_endio: completes the bio (or counts down a chained parent).
void bio_endio(Bio* bio);
inline void bio_io_error(Bio* bio, BlkStatus s) {
  bio->bi_status = s;
  bio_endio(bio);
}
// bio_chain: `parent` completes only after `child` and itself have completed;
// the child's error is propagated to the parent.
void bio_chain(Bio* child, Bio* parent);
// bio_split: returns a clone covering the first `sectors` of `bio` and advances
// `bio` past them. The clone comes from the bio cache and is freed on end.
Bio* bio_split(Bio* bio, sector_t sectors);

}  // namespace iostack::block
