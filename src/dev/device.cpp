// Creating devices from specs: driver, queue and disk together.
#include "dev/device.hpp"

#include <exception>
#include <mutex>
#include <vector>

namespace iostack::dev {

namespace {

// struct ida: the lowest free device index of one kind.
class IndexAllocator {
 public:
  int alloc() {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) {
        used_[i] = true;
        return static_cast<int>(i);
      }
    }
    used_.push_back(true);
    return static_cast<int>(used_.size() - 1);
  }
  void free(int i) {
    std::lock_guard lock(mu_);
    used_[static_cast<std::size_t>(i)] = false;
  }

 private:
  std::mutex mu_;
  std::vector<bool> used_;
};

IndexAllocator& indexes(DeviceKind k) {
  static IndexAllocator ram, null, loop;
  return k == DeviceKind::kRam ? ram : k == DeviceKind::kNull ? null : loop;
}

}  // namespace

BlockDevice::~BlockDevice() {
  if (null_) null_->quiesce();  // its timers must not outlive the queue
  if (loop_) loop_->drain();    // nor may its workers' completions
  disk_.reset();
  queue_.reset();
  driver_.reset();
  if (index_ >= 0) indexes(spec_.kind).free(index_);
}

std::unique_ptr<BlockDevice> create_device(const DeviceSpec& spec, core::Clock* clock,
                                           std::string* err) {
  auto fail = [&](const std::string& why) {
    if (err) *err = why;
    return nullptr;
  };
  if (const std::string why = validate(spec); !why.empty()) return fail(why);
  if (!clock) clock = &core::real_clock();
  try {
    std::unique_ptr<BlockDevice> dev(new BlockDevice());
    dev->spec_ = spec;
    block::QueueLimits lim;
    block::TagSetConfig set;
    block::sector_t capacity;
    std::string name;
    unsigned major;
    if (spec.kind == DeviceKind::kRam) {
      auto drv = std::make_unique<RamDriver>(spec.ram);
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->ram_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "ram";
      major = kRamMajor;
    } else if (spec.kind == DeviceKind::kLoop) {
      auto drv = LoopDriver::create(spec.loop, clock->is_virtual(), err);
      if (!drv) return nullptr;
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->loop_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "loop";
      major = kLoopMajor;
    } else {
      auto drv = std::make_unique<NullBlkDriver>(spec.null, clock);
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->null_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "nullb";
      major = kNullBlkMajor;
    }
    if (block::blk_validate_limits(&lim) != 0) return fail("invalid queue limits for " + name);
    dev->queue_ = std::make_unique<block::RequestQueue>(dev->driver_.get(), set, lim, clock);
    dev->index_ = indexes(spec.kind).alloc();
    name += std::to_string(dev->index_);
    dev->disk_ = std::make_unique<block::Disk>(name, major, static_cast<unsigned>(dev->index_),
                                               capacity, dev->queue_.get());
    dev->queue_->set_disk(dev->disk_.get());
    if (dev->loop_) {
      dev->disk_->set_read_only(dev->loop_->read_only());  // set_disk_ro
    } else {
      dev->queue_->init_default_elevator();
    }
    return dev;
  } catch (const std::exception& e) {
    return fail(std::string("cannot create device: ") + e.what());
  }
}

std::unique_ptr<BlockDevice> create_device(std::string_view spec, core::Clock* clock,
                                           std::string* err) {
  DeviceSpec parsed;
  if (!parse_device_spec(spec, &parsed, err)) return nullptr;
  return create_device(parsed, clock, err);
}

}  // namespace iostack::dev
