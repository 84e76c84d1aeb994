// ioengine=null: every I/O succeeds at once.
#include "job/engine_null.hpp"

#include "job/io_unit.hpp"

namespace iostack::job {

int NullEngine::init(const EngineSetup& s, std::string* /*err*/) {
  done_.reserve(s.iodepth);
  return 0;
}

QueueResult NullEngine::queue(IoUnit* u) {
  u->error = 0;
  done_.push_back(u);
  return QueueResult::kQueued;
}

unsigned NullEngine::getevents(unsigned /*min*/, unsigned max, IoUnit** out) {
  unsigned n = 0;
  while (n < max && n < done_.size()) {
    out[n] = done_[n];
    ++n;
  }
  done_.erase(done_.begin(), done_.begin() + n);
  return n;
}

}  // namespace iostack::job
