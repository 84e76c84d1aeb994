// struct gendisk: capacity, read-only state, tracing and diskstats of a disk.
#include "block/disk.hpp"

#include "block/blk_trace.hpp"
#include "block/request_queue.hpp"
#include "core/mutex.hpp"
#include "trace/blktrace.hpp"

namespace iostack::block {

Disk::Disk(std::string name, unsigned major, unsigned minor, sector_t capacity, RequestQueue* q)
    : name_(std::move(name)), major_(major), minor_(minor), capacity_(capacity), q_(q) {
  q_->set_disk(this);
}

Disk::~Disk() {
  trace_stop();
  q_->set_disk(nullptr);
}

std::int64_t Disk::in_flight() const {
  std::int64_t n = 0;
  stats_.for_each([&](const DiskStatCounters& c) {
    n += c.in_flight[0].load(std::memory_order_relaxed) +
         c.in_flight[1].load(std::memory_order_relaxed);
  });
  return n;
}

trace::DiskStats Disk::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  std::uint64_t ios[NR_STAT_GROUPS] = {}, merges[NR_STAT_GROUPS] = {};
  std::uint64_t sectors[NR_STAT_GROUPS] = {}, nsecs[NR_STAT_GROUPS] = {};
  std::int64_t inflight = 0;
  stats_.for_each([&](const DiskStatCounters& c) {
    for (int g = 0; g < NR_STAT_GROUPS; ++g) {
      ios[g] += c.ios[g].load(r);
      merges[g] += c.merges[g].load(r);
      sectors[g] += c.sectors[g].load(r);
      nsecs[g] += c.nsecs[g].load(r);
    }
    inflight += c.in_flight[0].load(r) + c.in_flight[1].load(r);
  });
  auto group = [&](StatGroup g) {
    trace::DiskStatGroup out;
    out.ios = ios[g];
    out.merges = merges[g];
    out.sectors = sectors[g];
    out.ticks_ms = nsecs[g] / 1000000;
    return out;
  };
  trace::DiskStats s;
  s.read = group(STAT_READ);
  s.write = group(STAT_WRITE);
  s.discard = group(STAT_DISCARD);
  s.flush = group(STAT_FLUSH);
  s.in_flight = inflight > 0 ? static_cast<std::uint64_t>(inflight) : 0;
  s.io_ticks_ms = io_ticks_ns_.load(r) / 1000000;
  std::uint64_t total_ns = 0;
  for (int g = 0; g < NR_STAT_GROUPS; ++g) total_ns += nsecs[g];
  s.time_in_queue_ms = total_ns / 1000000;
  return s;
}

std::string Disk::diskstats_line() const {
  return trace::format_diskstats_line(major_, minor_, name_, stats());
}

int Disk::trace_start(const std::string& dir, std::string* err) {
  core::LockGuard lock(trace_mu_);
  if (trace_owner_) {
    if (err) *err = name_ + ": a trace is already running";
    return -EBUSY;
  }
  auto t = trace::BlkTrace::open(dir, name_, trace_dev(), q_->now(), err,
                                 q_->clock()->single_threaded());
  if (!t) return -EIO;
  trace_owner_ = std::move(t);
  detail::g_traced_disks.fetch_add(1, std::memory_order_relaxed);
  trace_.store(trace_owner_.get(), std::memory_order_release);
  return 0;
}

void Disk::trace_stop() {
  core::LockGuard lock(trace_mu_);
  if (!trace_owner_) return;
  // Callers must have quiesced the device: an event in progress may still
  // hold the pointer (as with blktrace's teardown, stop after the I/O).
  trace_.store(nullptr, std::memory_order_release);
  detail::g_traced_disks.fetch_sub(1, std::memory_order_relaxed);
  trace_owner_.reset();
}

}  // namespace iostack::block
