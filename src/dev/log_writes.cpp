// dm-log-writes: every write, discard, flush and FUA into a log file.
#include "dev/log_writes.hpp"

#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>

#include "block/request.hpp"
#include "dev/device.hpp"
#include "dev/log_format.hpp"

namespace iostack::dev {

// struct pending_block: one future log entry, with its data copied at map
// time (the writer's buffer may change once the write completes).
struct LogWritesTarget::Pending {
  std::uint64_t flags = 0;
  std::uint64_t sector = 0;       // device sectors
  std::uint64_t nr_sectors = 0;   // device sectors
  std::string data;               // the write's data, or a mark's text
  std::vector<Pending*> spliced;  // a flush's share of the unflushed writes
};

std::unique_ptr<LogWritesTarget> LogWritesTarget::create(const LogWritesConfig& cfg,
                                                         std::unique_ptr<BlockDevice> lower,
                                                         core::Clock* clock, std::string* err) {
  const int fd = ::open(cfg.log_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (err) *err = "log-writes: cannot open log " + cfg.log_path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<LogWritesTarget>(new LogWritesTarget(cfg, std::move(lower), clock, fd));
}

LogWritesTarget::LogWritesTarget(const LogWritesConfig& cfg, std::unique_ptr<BlockDevice> lower,
                                 core::Clock* clock, int fd)
    : TargetDriver(std::move(lower), clock), cfg_(cfg), fd_(fd) {
  const block::QueueLimits& below = this->lower()->queue()->limits();
  sectorsize_ = below.logical_block_size;
  shift_ = static_cast<unsigned>(std::countr_zero(sectorsize_ >> block::kSectorShift));
  supports_discard_ = below.max_discard_sectors != 0;
  next_sector_ = sectorsize_ >> block::kSectorShift;  // past the super block
  std::lock_guard lock(mu_);
  write_super();
}

LogWritesTarget::~LogWritesTarget() {
  drain();
  {
    std::lock_guard lock(mu_);
    std::vector<Pending*> rest;
    rest.swap(unflushed_);
    log_blocks(&rest);
  }
  message({"mark", "dm-log-writes-end"}, nullptr);
  ::close(fd_);
}

void LogWritesTarget::adjust_limits(block::QueueLimits* lim) const {
  lim->wc_feature = true;  // flush_supported: flushes must reach the log
  lim->fua_feature = true;
  lim->max_write_zeroes_sectors = 0;  // not a dm-log-writes operation
  if (!lim->max_discard_sectors) {    // log_writes_io_hints: log them anyway
    lim->max_discard_sectors = UINT_MAX >> block::kSectorShift;
    lim->discard_granularity = lim->logical_block_size;
  }
}

TargetDriver::Map LogWritesTarget::map(TargetIo* io, block::BlkStatus* /*status*/) {
  block::Request* rq = io->rq;
  const std::uint32_t op = block::req_op(rq);
  const bool flush = op == block::REQ_OP_FLUSH;
  const bool discard = op == block::REQ_OP_DISCARD;
  {
    std::lock_guard lock(mu_);
    if (!logging_enabled_) return Map::kRemap;
  }
  if (!target_is_write(rq->cmd_flags)) return Map::kRemap;
  if (!block::blk_rq_sectors(rq) && !flush) return Map::kRemap;
  auto* p = new Pending;
  if (flush) p->flags |= kLogFlush;
  if (rq->cmd_flags & block::REQ_FUA) p->flags |= kLogFua;
  if (discard) p->flags |= kLogDiscard;
  if (rq->cmd_flags & block::REQ_META) p->flags |= kLogMetadata;
  p->sector = block::blk_rq_pos(rq) >> shift_;
  p->nr_sectors = block::blk_rq_sectors(rq) >> shift_;
  if (flush) p->sector = p->nr_sectors = 0;
  io->priv = p;
  if (discard) {
    if (supports_discard_) return Map::kRemap;
    return Map::kDone;
  }
  if (flush) {
    std::lock_guard lock(mu_);
    p->spliced.swap(unflushed_);
    return Map::kRemap;
  }
  p->data.reserve(block::blk_rq_bytes(rq));
  block::rq_for_each_segment(rq, [&](void* data, std::uint32_t len) {
    p->data.append(static_cast<const char*>(data), len);
  });
  return Map::kRemap;
}

// normal_end_io: a flush logs what it carried and then itself, FUA logs at
// once, anything else waits for the next flush. (The kernel does not look
// at the status here; neither does this.)
void LogWritesTarget::end_io(TargetIo* io, block::BlkStatus* /*status*/) {
  auto* p = static_cast<Pending*>(io->priv);
  if (!p) return;
  io->priv = nullptr;
  std::lock_guard lock(mu_);
  if (p->flags & kLogFlush) {
    std::vector<Pending*> blocks;
    blocks.swap(p->spliced);
    blocks.push_back(p);
    log_blocks(&blocks);
  } else if (p->flags & kLogFua) {
    std::vector<Pending*> blocks{p};
    log_blocks(&blocks);
  } else {
    unflushed_.push_back(p);
  }
}

bool LogWritesTarget::write_at(std::uint64_t byte, const void* data, std::size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len) {
    const ssize_t n = ::pwrite(fd_, p, len, static_cast<off_t>(byte));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
    byte += static_cast<std::uint64_t>(n);
  }
  return true;
}

void LogWritesTarget::write_super() {
  std::string sec(sectorsize_, '\0');
  const LogSuper s{kLogMagic, kLogVersion, logged_, sectorsize_};
  std::memcpy(sec.data(), &s, sizeof(s));
  if (!write_at(0, sec.data(), sec.size())) logging_enabled_ = false;
}

// log_writes_kthread + log_one_block: one header sector, then the data.
void LogWritesTarget::log_blocks(std::vector<Pending*>* blocks) {
  for (Pending* p : *blocks) {
    for (Pending* s : p->spliced) delete s;  // a flush that never completed
    if (!logging_enabled_) {
      delete p;
      continue;
    }
    const std::uint64_t at = next_sector_;
    if (!(p->flags & kLogDiscard)) next_sector_ += p->nr_sectors << shift_;
    next_sector_ += std::uint64_t{1} << shift_;
    ++logged_;
    std::string sec(sectorsize_, '\0');
    const bool mark = p->flags & kLogMark;
    const LogEntryHeader h{p->sector, p->nr_sectors, p->flags, mark ? p->data.size() : 0};
    std::memcpy(sec.data(), &h, sizeof(h));
    if (mark) std::memcpy(sec.data() + sizeof(h), p->data.data(), p->data.size());
    bool ok = write_at(at << block::kSectorShift, sec.data(), sec.size());
    if (ok && !mark && !p->data.empty()) {
      ok = write_at((at << block::kSectorShift) + sectorsize_, p->data.data(), p->data.size());
    }
    if (p->flags & kLogFlush) flushes_.fetch_add(1, std::memory_order_relaxed);
    if (p->flags & kLogFua) fuas_.fetch_add(1, std::memory_order_relaxed);
    if (p->flags & kLogDiscard) discards_.fetch_add(1, std::memory_order_relaxed);
    if (mark) marks_.fetch_add(1, std::memory_order_relaxed);
    if (!mark && !p->data.empty()) {
      writes_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(p->data.size(), std::memory_order_relaxed);
    }
    // The super is rewritten after FUA and mark entries, as the kernel does.
    if (ok && (p->flags & (kLogFua | kLogMark))) write_super();
    if (!ok) logging_enabled_ = false;  // log_end_io on a failed log write
    delete p;
  }
  blocks->clear();
}

int LogWritesTarget::message(const std::vector<std::string>& argv, std::string* /*result*/) {
  if (argv.empty() || strcasecmp(argv[0].c_str(), "mark") != 0) return -ENOTTY;
  if (argv.size() != 2) return -EINVAL;
  auto* p = new Pending;
  p->flags = kLogMark;
  // kstrndup(data, maxsize - 1): the text must fit the entry's sector.
  p->data = argv[1].substr(0, sectorsize_ - sizeof(LogEntryHeader) - 1);
  std::lock_guard lock(mu_);
  std::vector<Pending*> blocks{p};
  log_blocks(&blocks);
  return 0;
}

std::uint64_t LogWritesTarget::logged_entries() const {
  std::lock_guard lock(mu_);
  return logged_;
}

Counters LogWritesTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  return {{"log_entries", static_cast<double>(logged_entries())},
          {"log_writes", n(writes_)},
          {"log_flushes", n(flushes_)},
          {"log_fua", n(fuas_)},
          {"log_discards", n(discards_)},
          {"log_marks", n(marks_)},
          {"log_bytes", n(bytes_)}};
}

}  // namespace iostack::dev
