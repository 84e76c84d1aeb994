// ioengine=psync, sync, pvsync and pvsync2: one I/O at a time on a file
// descriptor of the device (block/fops.c direct I/O through bdev_rw), the
// calling thread waiting for each to finish as pread/pwrite would.
#pragma once

#include <atomic>
#include <string>

#include "block/bdev_file.hpp"
#include "job/engine.hpp"

namespace iostack::job {

class SyncEngine final : public Engine {
 public:
  explicit SyncEngine(std::string name) : name_(std::move(name)) {}
  ~SyncEngine() override;
  const char* name() const override { return name_.c_str(); }
  bool sync() const override { return true; }
  int init(const EngineSetup& s, std::string* err) override;
  QueueResult queue(IoUnit* u) override;
  void commit() override {}
  unsigned getevents(unsigned, unsigned, IoUnit**) override { return 0; }

 private:
  static void end(void* priv, long res);
  long wait_result();

  std::string name_;
  int fd_ = -1;
  core::FileRef file_ref_;
  block::BdevFile* file_ = nullptr;
  block::BdevIo io_;
  std::atomic<std::uint32_t> done_{0};
  long res_ = 0;
  VirtualTime* vt_ = nullptr;  // clock=virtual: waits go through it
  int vt_id_ = -1;
};

}  // namespace iostack::job
