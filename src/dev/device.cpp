// Creating devices from specs: driver, queue and disk together.
#include "dev/device.hpp"

#include <cerrno>
#include <exception>
#include <mutex>
#include <vector>

#include "dev/delay.hpp"
#include "dev/dust.hpp"
#include "dev/error_target.hpp"
#include "dev/flakey.hpp"
#include "dev/log_writes.hpp"
#include "dev/wcache.hpp"

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
  static IndexAllocator ram, null, loop, hdd, ssd, dm;
  if (k >= DeviceKind::kFlakey) return dm;
  switch (k) {
    case DeviceKind::kRam:
      return ram;
    case DeviceKind::kNull:
      return null;
    case DeviceKind::kHdd:
      return hdd;
    case DeviceKind::kSsd:
      return ssd;
    default:
      return loop;
  }
}

// sd_format_disk_name: a..z, then aa..zz, ...
std::string sd_name(int index) {
  std::string s;
  for (int i = index + 1; i > 0; i = (i - 1) / 26) s.insert(s.begin(), char('a' + (i - 1) % 26));
  return "sd" + s;
}

}  // namespace

BlockDevice::~BlockDevice() {
  if (null_) null_->quiesce();  // its timers must not outlive the queue
  if (loop_) loop_->drain();    // nor may its workers' completions
  if (hdd_) hdd_->quiesce();    // nor the disks' service timers
  if (ssd_) ssd_->drain();
  if (target_) target_->drain();  // its timers and clones must end first
  if (queue_) queue_->drain_for_teardown();
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
    if (spec.is_target()) {
      if (!spec.lower) return fail("a target needs a device below it");
      auto lower = create_device(*spec.lower, clock, err);
      if (!lower) return nullptr;
      std::unique_ptr<TargetDriver> drv;
      switch (spec.kind) {
        case DeviceKind::kFlakey:
          drv = std::make_unique<FlakeyTarget>(spec.flakey, std::move(lower), clock);
          break;
        case DeviceKind::kDust:
          drv = std::make_unique<DustTarget>(spec.dust, std::move(lower), clock);
          break;
        case DeviceKind::kDelay:
          drv = std::make_unique<DelayTarget>(spec.delay, std::move(lower), clock);
          break;
        case DeviceKind::kError:
          drv = std::make_unique<ErrorTarget>(spec.error, std::move(lower), clock);
          break;
        case DeviceKind::kWcache:
          drv = std::make_unique<WcacheTarget>(spec.wcache, std::move(lower), clock);
          break;
        default:
          drv = LogWritesTarget::create(spec.log_writes, std::move(lower), clock, err);
          if (!drv) return nullptr;
          break;
      }
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->target_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "dm-";
      major = kDmMajor;
    } else if (spec.kind == DeviceKind::kRam) {
      auto drv = std::make_unique<RamDriver>(spec.ram);
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->ram_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "ram";
      major = kRamMajor;
    } else if (spec.kind == DeviceKind::kLoop) {
      auto drv = LoopDriver::create(spec.loop, clock->single_threaded(), err);
      if (!drv) return nullptr;
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->loop_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "loop";
      major = kLoopMajor;
    } else if (spec.kind == DeviceKind::kHdd) {
      auto drv = std::make_unique<HddDriver>(spec.hdd, clock);
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->hdd_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "sd";
      major = kSdMajor;
    } else if (spec.kind == DeviceKind::kSsd) {
      auto drv = std::make_unique<SsdDriver>(spec.ssd, clock);
      lim = drv->limits();
      set = drv->tag_set();
      capacity = drv->capacity_sectors();
      dev->ssd_ = drv.get();
      dev->driver_ = std::move(drv);
      name = "nvme";
      major = kExtMajor;
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
    unsigned minor = static_cast<unsigned>(dev->index_);
    if (spec.kind == DeviceKind::kHdd) {
      name = sd_name(dev->index_);
      minor *= 16;  // sd: 16 minors per disk for partitions
    } else if (spec.kind == DeviceKind::kSsd) {
      name = "nvme" + std::to_string(dev->index_) + "n1";
    } else {
      name += std::to_string(dev->index_);
    }
    dev->disk_ = std::make_unique<block::Disk>(name, major, minor, capacity, dev->queue_.get());
    dev->queue_->set_disk(dev->disk_.get());
    if (dev->loop_) {
      dev->disk_->set_read_only(dev->loop_->read_only());  // set_disk_ro
    } else if (!dev->target_) {                            // device-mapper disks have no elevator
      dev->queue_->init_default_elevator();
    }
    return dev;
  } catch (const std::exception& e) {
    return fail(std::string("cannot create device: ") + e.what());
  }
}

std::vector<std::pair<std::string, double>> BlockDevice::counters() const {
  std::vector<std::pair<std::string, double>> c;
  auto n = [](std::uint64_t v) { return static_cast<double>(v); };
  if (hdd_) {
    const HddStats s = hdd_->stats();
    c = {{"seeks", n(s.seeks)},
         {"avg_seek_cyl", s.avg_seek_distance()},
         {"read_hits", n(s.read_hits)},
         {"readahead_hits", n(s.readahead_hits)},
         {"read_misses", n(s.read_misses)},
         {"cached_writes", n(s.cached_writes)},
         {"media_writes", n(s.media_writes)},
         {"destages", n(s.destages)},
         {"flushes", n(s.flushes)}};
  } else if (ssd_) {
    const SsdStats s = ssd_->stats();
    c = {{"host_pages", n(s.ftl.host_pages)},
         {"nand_pages", n(s.ftl.nand_pages)},
         {"gc_runs", n(s.ftl.gc_runs)},
         {"gc_pages_moved", n(s.ftl.pages_moved)},
         {"write_amp", s.ftl.write_amplification()},
         {"trimmed_pages", n(s.ftl.trimmed_pages)},
         {"slc_writes", n(s.slc_writes)}};
  } else if (target_) {
    c = target_->counters();
    const auto below = target_->lower()->counters();
    c.insert(c.end(), below.begin(), below.end());
  }
  return c;
}

int BlockDevice::message(const std::vector<std::string>& argv, std::string* result) {
  std::string ignored;
  if (!result) result = &ignored;
  int answer = -EINVAL;
  for (BlockDevice* d = this; d && d->target_; d = d->lower()) {
    std::string mine;
    const int r = d->target_->message(argv, &mine);
    if (r == -ENOTTY) continue;
    if (r < 0) return r;
    if (answer == -EINVAL) {  // the first taker answers
      answer = r;
      *result = std::move(mine);
    }
  }
  return answer;
}

std::unique_ptr<BlockDevice> create_device(std::string_view spec, core::Clock* clock,
                                           std::string* err) {
  DeviceSpec parsed;
  if (!parse_device_spec(spec, &parsed, err)) return nullptr;
  return create_device(parsed, clock, err);
}

}  // namespace iostack::dev
