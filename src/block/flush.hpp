// struct blk_flush_queue (block/blk-flush.c): sequencing of PREFLUSH, data and
// POSTFLUSH steps for REQ_PREFLUSH / REQ_FUA requests on devices with a
// volatile write cache, sharing one flush among the requests waiting for it.
#pragma once

#include "block/request.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"

namespace iostack::block {

class RequestQueue;

// The steps of a flush sequence (REQ_FSEQ_*).
enum FlushSeq : std::uint32_t {
  REQ_FSEQ_PREFLUSH = 1u << 0,
  REQ_FSEQ_DATA = 1u << 1,
  REQ_FSEQ_POSTFLUSH = 1u << 2,
  REQ_FSEQ_DONE = 1u << 3,
  REQ_FSEQ_ACTIONS = REQ_FSEQ_PREFLUSH | REQ_FSEQ_DATA | REQ_FSEQ_POSTFLUSH,
};

struct FlushQueue {
  core::Mutex lock;
  // requests waiting for a flush; double-buffered
  core::ListHead flush_queue[2] GUARDED_BY(lock);
  unsigned pending_idx GUARDED_BY(lock) = 0;
  unsigned running_idx GUARDED_BY(lock) = 0;
  unsigned data_in_flight GUARDED_BY(lock) = 0;  // data steps issued, not yet complete
  std::uint64_t pending_since GUARDED_BY(lock) = 0;
  Request flush_rq;  // the one flush request this queue issues
  std::uint64_t flushes_issued = 0;
};

// Which steps `rq` needs on a queue with these cache properties.
std::uint32_t blk_flush_policy(bool write_cache, bool fua, const Request* rq);
// blk_insert_flush: takes over a PREFLUSH/FUA request. Returns false when the
// request needs no flush machinery and should go the normal way.
bool blk_insert_flush(Request* rq);

}  // namespace iostack::block
