// The I/O engine interface, shaped like fio's ioengine_ops: queue hands one
// I/O over (a sync engine does it there and then), commit submits what was
// queued, getevents reaps completions.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "job/engine_stats.hpp"
#include "job/io_unit.hpp"

namespace iostack::block {
class Disk;
}

namespace iostack::job {

struct JobOptions;
class VirtualTime;

enum class QueueResult { kQueued, kCompleted };

struct EngineSetup {
  block::Disk* disk = nullptr;
  unsigned iodepth = 1;
  unsigned nr_units = 1;
  bool direct = false;
  const JobOptions* opts = nullptr;  // engine options (fixedbufs, cmdprio, ...)
  // Every I/O unit's whole buffer, by unit index (fixedbufs registers them).
  std::vector<struct iovec> bufs;
  // The job's own priority (prio/prioclass; 0 when unset): io_uring puts it
  // on every read and write, since an SQPOLL thread does not inherit it.
  std::uint16_t ioprio = 0;
  std::uint64_t seed = 0;  // for cmdprio's choices
  // Under clock=virtual: the run's virtual time and this job's participant
  // id there; an engine then waits with vt->block(vt_id), and a completion
  // wakes it with vt->wake(vt_id). Null in real time.
  VirtualTime* vt = nullptr;
  int vt_id = -1;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Sync engines finish every I/O inside queue (FIO_SYNCIO).
  virtual bool sync() const = 0;
  // 0, or -errno with *err set to one line.
  virtual int init(const EngineSetup& s, std::string* err) = 0;
  // Sets u->error on an I/O that failed.
  virtual QueueResult queue(IoUnit* u) = 0;
  // Submits everything queued since the last commit.
  virtual void commit() = 0;
  // Waits for at least `min` completions and returns up to `max` of them
  // in out[]; the count is returned.
  virtual unsigned getevents(unsigned min, unsigned max, IoUnit** out) = 0;
  const EngineStats& stats() const { return stats_; }

 protected:
  EngineStats stats_;
};

// The engine for ioengine=name; null with *err when it does not exist here.
std::unique_ptr<Engine> make_engine(const std::string& name, std::string* err);

}  // namespace iostack::job
