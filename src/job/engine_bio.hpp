// ioengine=bio: iostack's own engine. Each I/O is a bio handed straight to
// submit_bio, a batch under one plug; completions arrive through bi_end_io
// from whatever context the driver completes on (inline, a completion
// thread or a timer) and are collected lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "block/bio.hpp"
#include "job/engine.hpp"

namespace iostack::job {

class BioEngine final : public Engine {
 public:
  ~BioEngine() override;
  const char* name() const override { return "bio"; }
  bool sync() const override { return false; }
  int init(const EngineSetup& s, std::string* err) override;
  QueueResult queue(IoUnit* u) override;
  void commit() override;
  unsigned getevents(unsigned min, unsigned max, IoUnit** out) override;

 private:
  static void end_io(block::Bio* bio);
  void complete(IoUnit* u);
  // Moves what completers pushed onto the local FIFO; returns its length.
  unsigned collect();
  void append_ready(IoUnit* u);

  block::Disk* disk_ = nullptr;
  std::unique_ptr<block::Bio[]> bios_;  // one per I/O unit, reused
  std::vector<IoUnit*> units_;          // the unit behind each bio slot
  std::vector<IoUnit*> pending_;        // queued, not yet submitted
  std::atomic<IoUnit*> done_{nullptr};  // LIFO pushed by completers
  std::atomic<std::uint32_t> gen_{0};   // bumped to wake a waiting reaper
  std::atomic<bool> waiting_{false};
  // Completers inside complete(): the engine outlives them (see ~BioEngine).
  std::atomic<int> completing_{0};
  IoUnit* ready_head_ = nullptr;  // FIFO owned by the reaper
  IoUnit* ready_tail_ = nullptr;
  unsigned ready_n_ = 0;
  VirtualTime* vt_ = nullptr;  // clock=virtual: waits and wakes go through it
  int vt_id_ = -1;
};

}  // namespace iostack::job
