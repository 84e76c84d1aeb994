// ioengine=null (fio's engines/null.c): I/O that completes at once without
// reaching any device, to measure the job machinery itself: queued I/Os
// complete at the next getevents.
#pragma once

#include <vector>

#include "job/engine.hpp"

namespace iostack::job {

class NullEngine final : public Engine {
 public:
  const char* name() const override { return "null"; }
  bool sync() const override { return false; }
  int init(const EngineSetup& s, std::string* err) override;
  QueueResult queue(IoUnit* u) override;
  void commit() override {}
  unsigned getevents(unsigned min, unsigned max, IoUnit** out) override;

 private:
  std::vector<IoUnit*> done_;  // reserved for iodepth at init
};

}  // namespace iostack::job
