// The block layer's tracepoints (include/trace/events/block.h) feeding the
// device's blktrace, if one is running. While no disk of the process is
// traced each is one inline load of a process-wide count (the kernel's
// tracepoints are static keys, patched out while off).
#pragma once

#include <atomic>
#include <cstdint>

#include "block/bio.hpp"
#include "block/request.hpp"

namespace iostack::block {

class RequestQueue;

enum TraceBioAction : std::uint32_t {
  kTraceQueue,       // Q  block_bio_queue
  kTraceBackMerge,   // M  block_bio_backmerge / block_rq_merge
  kTraceFrontMerge,  // F  block_bio_frontmerge
  kTraceGetRq,       // G  block_getrq
};
enum TraceRqAction : std::uint32_t {
  kTraceInsert = 16,  // I  block_rq_insert
  kTraceIssue,        // D  block_rq_issue
  kTraceRequeue,      // R  block_rq_requeue
};

namespace detail {
// Disks with a blktrace running, in every queue of the process.
extern std::atomic<int> g_traced_disks;
void trace_bio(RequestQueue* q, const Bio* bio, std::uint32_t action);
void trace_rq(const Request* rq, std::uint32_t action);
void trace_rq_complete(const Request* rq, BlkStatus error, std::uint32_t nr_bytes);
void trace_split(RequestQueue* q, const Bio* split, sector_t new_sector);
void trace_plug(RequestQueue* q);
void trace_unplug(RequestQueue* q, unsigned depth, bool explicit_unplug);
}  // namespace detail

// A trace started before an I/O (on its thread, or handed to it through a
// lock or queue) is seen by that I/O's events.
inline bool blk_trace_on() { return detail::g_traced_disks.load(std::memory_order_relaxed) != 0; }

inline void trace_bio(RequestQueue* q, const Bio* bio, std::uint32_t action) {
  if (blk_trace_on()) detail::trace_bio(q, bio, action);
}
inline void trace_rq(const Request* rq, std::uint32_t action) {
  if (blk_trace_on()) detail::trace_rq(rq, action);
}
inline void trace_rq_complete(const Request* rq, BlkStatus error, std::uint32_t nr_bytes) {
  if (blk_trace_on()) detail::trace_rq_complete(rq, error, nr_bytes);
}
inline void trace_split(RequestQueue* q, const Bio* split, sector_t new_sector) {
  if (blk_trace_on()) detail::trace_split(q, split, new_sector);
}
inline void trace_plug(RequestQueue* q) {
  if (blk_trace_on()) detail::trace_plug(q);
}
inline void trace_unplug(RequestQueue* q, unsigned depth, bool explicit_unplug) {
  if (blk_trace_on()) detail::trace_unplug(q, depth, explicit_unplug);
}

}  // namespace iostack::block
