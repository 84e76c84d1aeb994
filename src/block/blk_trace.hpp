// The block layer's tracepoints (include/trace/events/block.h) feeding the
// device's blktrace, if one is running. Each is one atomic load when off.
#pragma once

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

void trace_bio(RequestQueue* q, const Bio* bio, std::uint32_t action);
void trace_rq(const Request* rq, std::uint32_t action);
void trace_rq_complete(const Request* rq, BlkStatus error, std::uint32_t nr_bytes);
void trace_split(RequestQueue* q, const Bio* split, sector_t new_sector);
void trace_plug(RequestQueue* q);
void trace_unplug(RequestQueue* q, unsigned depth, bool explicit_unplug);

}  // namespace iostack::block
