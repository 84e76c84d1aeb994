// I/O accounting behind /proc/diskstats.
#include "block/stats.hpp"

#include "block/disk.hpp"
#include "block/request_queue.hpp"

namespace iostack::block {
namespace {

using core::local_add;

DiskStatCounters* counters(const Request* rq) {
  Disk* d = rq->q->disk();
  return d ? &d->counters() : nullptr;
}

// update_io_ticks: time with at least one I/O in flight, counted from the last
// stamp whenever an I/O starts or ends. Only a new jiffy writes the shared
// stamp; the in-flight sum is read only then.
void update_io_ticks(Disk* d, std::uint64_t now, bool end) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  std::uint64_t stamp = d->stamp_ns().load(kRelaxed);
  if (now <= stamp || !d->stamp_ns().compare_exchange_strong(stamp, now, kRelaxed)) return;
  if (end || d->in_flight() > 0) d->io_ticks_ns().fetch_add(now - stamp, kRelaxed);
}

}  // namespace

void account_io_start(Request* rq) {
  Disk* d = rq->q->disk();
  if (!d || !rq->q->io_stat()) return;
  rq->rq_flags |= RQF_IO_STAT;
  update_io_ticks(d, rq->q->jiffies(), false);
  local_add(d->counters().in_flight[op_is_write(rq->cmd_flags)], std::int64_t{1});
}

void account_io_merge_bio(Request* rq) {
  if (!(rq->rq_flags & RQF_IO_STAT)) return;
  local_add(counters(rq)->merges[op_stat_group(rq->cmd_flags)], std::uint64_t{1});
}

void account_io_merge_request(Request* next) {
  if (!(next->rq_flags & RQF_IO_STAT)) return;
  DiskStatCounters* s = counters(next);
  local_add(s->merges[op_stat_group(next->cmd_flags)], std::uint64_t{1});
  local_add(s->in_flight[op_is_write(next->cmd_flags)], std::int64_t{-1});
}

void account_io_completion(Request* rq, std::uint32_t bytes) {
  if (!(rq->rq_flags & RQF_IO_STAT)) return;
  local_add(counters(rq)->sectors[op_stat_group(rq->cmd_flags)],
            std::uint64_t{bytes >> kSectorShift});
}

void account_io_done(Request* rq, std::uint64_t now) {
  // Requests inside a flush sequence are accounted once, by their owner.
  if ((rq->rq_flags & (RQF_IO_STAT | RQF_FLUSH_SEQ)) != RQF_IO_STAT) return;
  Disk* d = rq->q->disk();
  const StatGroup g = op_stat_group(rq->cmd_flags);
  update_io_ticks(d, rq->q->jiffies(), true);
  DiskStatCounters& s = d->counters();
  local_add(s.ios[g], std::uint64_t{1});
  local_add(s.nsecs[g], now - rq->start_time_ns);
  local_add(s.in_flight[op_is_write(rq->cmd_flags)], std::int64_t{-1});
  rq->rq_flags &= ~RQF_IO_STAT;
}

void account_io_flush(Request* flush_rq, std::uint64_t now) {
  DiskStatCounters* s = counters(flush_rq);
  if (!s) return;
  local_add(s->ios[STAT_FLUSH], std::uint64_t{1});
  local_add(s->nsecs[STAT_FLUSH], now - flush_rq->start_time_ns);
}

}  // namespace iostack::block
