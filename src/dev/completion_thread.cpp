// A driver's completion thread.
#include "dev/completion_thread.hpp"

#include "block/blk_mq.hpp"
#include "core/internal_thread.hpp"
#include "core/slist.hpp"

namespace iostack::dev {

namespace {
void end_request(CompletionLink* link) { block::blk_mq_end_request(link->rq, link->status); }
}  // namespace

CompletionThread::CompletionThread(CompletionEndFn end)
    : end_(end ? end : &end_request),
      thread_(core::start_internal_thread(core::ThreadKind::kDevice, [this] { run(); })) {}

CompletionThread::~CompletionThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void CompletionThread::post(CompletionLink* link) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    core::slist_add_tail<CompletionLink, &CompletionLink::next>(head_, tail_, link);
    wake = sleeping_;
    sleeping_ = false;  // one wakeup is enough for everything posted meanwhile
  }
  if (wake) cv_.notify_one();
}

void CompletionThread::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!head_) {
      if (stop_) return;
      sleeping_ = true;
      cv_.wait(lock, [this] { return head_ || stop_; });
      sleeping_ = false;
      continue;
    }
    CompletionLink* batch = head_;
    head_ = tail_ = nullptr;
    // Completions may re-enter the block layer and this driver: no lock held.
    lock.unlock();
    while (batch) {
      CompletionLink* next = batch->next;  // the request may be reused once ended
      end_(batch);
      batch = next;
    }
    lock.lock();
  }
}

}  // namespace iostack::dev
