// struct request (include/linux/blk-mq.h): one unit of work for a driver,
// made of one or more merged bios covering contiguous sectors.
#pragma once

#include <atomic>
#include <boost/intrusive/set_hook.hpp>
#include <cstdint>

#include "block/bio.hpp"
#include "core/list.hpp"

namespace iostack::block {

class RequestQueue;
struct HwCtx;
struct Request;

// rq_flags (enum rqf_flags).
enum RqFlag : std::uint32_t {
  RQF_STARTED = 1u << 0,
  RQF_FLUSH_SEQ = 1u << 1,
  RQF_MIXED_MERGE = 1u << 2,
  RQF_SCHED_TAGS = 1u << 4,  // allocated from the scheduler's tags
  RQF_USE_SCHED = 1u << 5,   // goes through the elevator
  RQF_IO_STAT = 1u << 6,
  RQF_HASHED = 1u << 10,  // on the elevator's merge hash
};

using RqEndIo = void (*)(Request*, BlkStatus);

struct Request {
  RequestQueue* q = nullptr;
  HwCtx* mq_hctx = nullptr;
  std::uint32_t cmd_flags = 0;  // op | REQ_* flags
  std::uint32_t rq_flags = 0;
  int tag = -1;           // driver tag
  int internal_tag = -1;  // scheduler tag
  sector_t __sector = 0;
  std::uint32_t __data_len = 0;
  Bio* bio = nullptr;
  Bio* biotail = nullptr;
  std::uint16_t nr_phys_segments = 0;
  std::uint16_t ioprio = 0;
  std::uint8_t write_hint = 0;
  std::int32_t pid = -1;  // submitter, for traces

  core::ListHead queuelist;                     // plug, software queue, dispatch or scheduler FIFO
  Request* rq_next = nullptr;                   // plug->cached_rqs (an rq_list)
  core::ListHead hash;                          // elevator merge hash bucket
  boost::intrusive::set_member_hook<> rb_node;  // scheduler sector tree

  std::uint64_t start_time_ns = 0;     // allocation (queue) time
  std::uint64_t io_start_time_ns = 0;  // issue time
  std::uint64_t fifo_time = 0;         // scheduler deadline

  // Scheduler private data (rq->elv.priv).
  void* elv_priv[2] = {nullptr, nullptr};

  // Flush state machine (rq->flush).
  std::uint32_t flush_seq = 0;
  RqEndIo flush_saved_end_io = nullptr;
  core::ListHead flush_list;

  // Completion hook for requests the block layer issues itself (flush rq).
  RqEndIo end_io = nullptr;
  void* end_io_data = nullptr;

  void* pdu = nullptr;  // driver private area of TagSet::cmd_size bytes

  std::atomic<int> state{0};  // MQ_RQ_IDLE / IN_FLIGHT / COMPLETE
};

enum MqRqState { MQ_RQ_IDLE = 0, MQ_RQ_IN_FLIGHT = 1, MQ_RQ_COMPLETE = 2 };

inline sector_t blk_rq_pos(const Request* rq) { return rq->__sector; }
inline std::uint32_t blk_rq_bytes(const Request* rq) { return rq->__data_len; }
inline std::uint32_t blk_rq_sectors(const Request* rq) { return rq->__data_len >> kSectorShift; }
inline sector_t blk_rq_end_sector(const Request* rq) { return rq->__sector + blk_rq_sectors(rq); }
inline std::uint32_t req_op(const Request* rq) { return req_op(rq->cmd_flags); }
inline bool rq_data_dir_write(const Request* rq) { return op_is_write(rq->cmd_flags); }
inline bool rq_is_sync(const Request* rq) { return op_is_sync(rq->cmd_flags); }

inline Request* rq_from_queuelist(core::ListHead* n) {
  return core::list_entry<Request, &Request::queuelist>(n);
}

// Calls fn(void* data, uint32_t len) over every data segment of the request.
template <typename Fn>
void rq_for_each_segment(const Request* rq, Fn&& fn) {
  for (const Bio* b = rq->bio; b; b = b->bi_next) bio_for_each_segment(b, fn);
}

}  // namespace iostack::block
