// struct blk_mq_ops (include/linux/blk-mq.h): what a block driver provides.
#pragma once

#include <cstddef>

#include "block/blk_types.hpp"

namespace iostack::block {

struct HwCtx;
struct Request;

class BlockDriver {
 public:
  virtual ~BlockDriver() = default;
  virtual const char* name() const = 0;
  // Start `rq`. Return OK once the driver owns it (it will later call
  // blk_mq_end_request or blk_update_request), RESOURCE / DEV_RESOURCE when it
  // cannot take it now (the block layer requeues it and retries after a
  // completion), or an error status to fail it at once. `last` is false when
  // more requests follow in this batch (commit_rqs will be called if the batch
  // stops early). Called concurrently from every submitting and completing
  // thread, for one hardware queue too, as the kernel's CPUs do: a driver
  // serialises what it must itself.
  virtual BlkStatus queue_rq(HwCtx* hctx, Request* rq, bool last) = 0;
  virtual void commit_rqs(HwCtx* /*hctx*/) {}
  // Per-request driver data reserved in every preallocated request (rq->pdu).
  virtual std::size_t cmd_size() const { return 0; }
};

}  // namespace iostack::block
