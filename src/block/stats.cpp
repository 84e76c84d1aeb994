// I/O accounting behind /proc/diskstats.
#include "block/stats.hpp"

#include "block/disk.hpp"
#include "block/request_queue.hpp"

namespace iostack::block {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

DiskStatCounters* counters(const Request* rq) {
  Disk* d = rq->q->disk();
  return d ? &d->counters() : nullptr;
}

// update_io_ticks: time with at least one I/O in flight, counted from the last
// stamp whenever an I/O starts or ends.
void update_io_ticks(DiskStatCounters* s, std::uint64_t now, bool end) {
  std::uint64_t stamp = s->stamp_ns.load(kRelaxed);
  if (now <= stamp || !s->stamp_ns.compare_exchange_strong(stamp, now, kRelaxed)) return;
  if (end || s->in_flight[0].load(kRelaxed) + s->in_flight[1].load(kRelaxed) > 0)
    s->io_ticks_ns.fetch_add(now - stamp, kRelaxed);
}

}  // namespace

void account_io_start(Request* rq) {
  DiskStatCounters* s = counters(rq);
  if (!s || !rq->q->io_stat()) return;
  rq->rq_flags |= RQF_IO_STAT;
  update_io_ticks(s, rq->q->jiffies(), false);
  s->in_flight[op_is_write(rq->cmd_flags)].fetch_add(1, kRelaxed);
}

void account_io_merge_bio(Request* rq) {
  if (!(rq->rq_flags & RQF_IO_STAT)) return;
  counters(rq)->merges[op_stat_group(rq->cmd_flags)].fetch_add(1, kRelaxed);
}

void account_io_merge_request(Request* next) {
  if (!(next->rq_flags & RQF_IO_STAT)) return;
  DiskStatCounters* s = counters(next);
  s->merges[op_stat_group(next->cmd_flags)].fetch_add(1, kRelaxed);
  s->in_flight[op_is_write(next->cmd_flags)].fetch_sub(1, kRelaxed);
}

void account_io_completion(Request* rq, std::uint32_t bytes) {
  if (!(rq->rq_flags & RQF_IO_STAT)) return;
  counters(rq)->sectors[op_stat_group(rq->cmd_flags)].fetch_add(bytes >> kSectorShift, kRelaxed);
}

void account_io_done(Request* rq, std::uint64_t now) {
  // Requests inside a flush sequence are accounted once, by their owner.
  if ((rq->rq_flags & (RQF_IO_STAT | RQF_FLUSH_SEQ)) != RQF_IO_STAT) return;
  DiskStatCounters* s = counters(rq);
  const StatGroup g = op_stat_group(rq->cmd_flags);
  update_io_ticks(s, rq->q->jiffies(), true);
  s->ios[g].fetch_add(1, kRelaxed);
  s->nsecs[g].fetch_add(now - rq->start_time_ns, kRelaxed);
  s->in_flight[op_is_write(rq->cmd_flags)].fetch_sub(1, kRelaxed);
  rq->rq_flags &= ~RQF_IO_STAT;
}

void account_io_flush(Request* flush_rq, std::uint64_t now) {
  DiskStatCounters* s = counters(flush_rq);
  if (!s) return;
  s->ios[STAT_FLUSH].fetch_add(1, kRelaxed);
  s->nsecs[STAT_FLUSH].fetch_add(now - flush_rq->start_time_ns, kRelaxed);
}

}  // namespace iostack::block
