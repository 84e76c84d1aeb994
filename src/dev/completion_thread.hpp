// A driver's completion context: requests handed over here are ended on one
// thread of their own, as null_blk's softirq mode ends them through
// blk_mq_complete_request -> ops->complete (block/blk-mq.c). Nothing is
// allocated per request: each carries its own link.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "block/blk_types.hpp"

namespace iostack::block {
struct Request;
}

namespace iostack::dev {

// Lives in the request's driver data (rq->pdu).
struct CompletionLink {
  CompletionLink* next = nullptr;
  block::Request* rq = nullptr;
  block::BlkStatus status = block::BlkStatus::OK;
  void* priv = nullptr;  // for the owner's EndFn
};

// Ends one posted request; the default is blk_mq_end_request(rq, status).
using CompletionEndFn = void (*)(CompletionLink*);

class CompletionThread {
 public:
  explicit CompletionThread(CompletionEndFn end = nullptr);
  // Ends everything still queued, then joins.
  ~CompletionThread();
  CompletionThread(const CompletionThread&) = delete;
  CompletionThread& operator=(const CompletionThread&) = delete;

  // Queues `link` to be ended on the thread.
  void post(CompletionLink* link);

 private:
  void run();

  CompletionEndFn end_;
  std::mutex mu_;
  std::condition_variable cv_;
  CompletionLink* head_ = nullptr;
  CompletionLink* tail_ = nullptr;
  bool sleeping_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace iostack::dev
