// dm-dust: bad blocks that fail reads until written.
#include "dev/dust.hpp"

#include <strings.h>
#include <bit>
#include <cerrno>
#include <charconv>

#include "block/request.hpp"
#include "dev/device.hpp"

namespace iostack::dev {

namespace {

bool is(const std::string& a, const char* b) { return strcasecmp(a.c_str(), b) == 0; }

bool parse_num(const std::string& s, std::uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 10);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string validate(const DustConfig& c) {
  if (c.block_size < 512) return "dust: bs must be at least 512";
  if (!std::has_single_bit(c.block_size)) return "dust: bs must be a power of 2";
  if ((c.block_size >> block::kSectorShift) > 2097152u) return "dust: bs is too large";
  return {};
}

DustTarget::DustTarget(const DustConfig& cfg, std::unique_ptr<BlockDevice> lower,
                       core::Clock* clock)
    : TargetDriver(std::move(lower), clock),
      cfg_(cfg),
      sect_per_block_shift_(
          static_cast<unsigned>(std::countr_zero(cfg.block_size >> block::kSectorShift))),
      fail_read_on_bb_(cfg.enable),
      quiet_(cfg.quiet) {
  for (std::uint64_t b : cfg.bad_blocks) bad_.emplace(b, 0);
}

void DustTarget::adjust_limits(block::QueueLimits* lim) const {
  lim->chunk_sectors = cfg_.block_size >> block::kSectorShift;  // dm_set_target_max_io_len
}

bool DustTarget::enabled() const {
  std::lock_guard lock(mu_);
  return fail_read_on_bb_;
}

TargetDriver::Map DustTarget::map(TargetIo* io, block::BlkStatus* status) {
  block::Request* rq = io->rq;
  const bool flush = block::req_op(rq) == block::REQ_OP_FLUSH;
  const std::uint64_t blk = (flush ? 0 : block::blk_rq_pos(rq)) >> sect_per_block_shift_;
  std::lock_guard lock(mu_);
  if (!fail_read_on_bb_) return Map::kRemap;
  auto it = bad_.find(blk);
  if (it == bad_.end()) return Map::kRemap;
  if (!target_is_write(rq->cmd_flags)) {
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    *status = block::BlkStatus::IOERR;
    return Map::kKill;
  }
  if (it->second > 0) {
    --it->second;
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    *status = block::BlkStatus::IOERR;
    return Map::kKill;
  }
  bad_.erase(it);  // a successful write repairs the block
  cleared_.fetch_add(1, std::memory_order_relaxed);
  return Map::kRemap;
}

int DustTarget::add_block(std::uint64_t block, unsigned write_fails) {
  std::lock_guard lock(mu_);
  return bad_.emplace(block, write_fails).second ? 0 : -EINVAL;
}

int DustTarget::message(const std::vector<std::string>& argv, std::string* result) {
  if (argv.empty()) return -EINVAL;
  const std::string& cmd = argv[0];
  const bool known = is(cmd, "addbadblock") || is(cmd, "removebadblock") || is(cmd, "queryblock") ||
                     is(cmd, "disable") || is(cmd, "enable") || is(cmd, "countbadblocks") ||
                     is(cmd, "clearbadblocks") || is(cmd, "quiet") || is(cmd, "listbadblocks");
  if (!known) return -ENOTTY;
  if (argv.size() == 1) {
    std::lock_guard lock(mu_);
    if (is(cmd, "disable")) return fail_read_on_bb_ = false, 0;
    if (is(cmd, "enable")) return fail_read_on_bb_ = true, 0;
    if (is(cmd, "quiet")) return quiet_ = !quiet_, 0;
    if (is(cmd, "countbadblocks")) {
      *result = "countbadblocks: " + std::to_string(bad_.size()) + " badblock(s) found";
      return 1;
    }
    if (is(cmd, "clearbadblocks")) {
      *result = bad_.empty() ? "dust_clear_badblocks: no badblocks found"
                             : "dust_clear_badblocks: badblocks cleared";
      bad_.clear();
      return 1;
    }
    if (is(cmd, "listbadblocks")) {
      result->clear();
      for (const auto& [b, fails] : bad_) *result += std::to_string(b) + "\n";
      if (bad_.empty()) *result = "No blocks in badblocklist";
      return 1;
    }
    return -EINVAL;  // add/remove/query need a block
  }
  std::uint64_t block;
  if (argv.size() > 3 || !parse_num(argv[1], &block)) return -EINVAL;
  // The kernel compares with '>', so the block just past the end is accepted.
  const std::uint64_t nblocks = capacity_sectors() >> sect_per_block_shift_;
  if (block > nblocks) return -EINVAL;
  if (argv.size() == 3) {
    std::uint64_t fails;
    if (!is(cmd, "addbadblock") || !parse_num(argv[2], &fails) || fails > 255) return -EINVAL;
    return add_block(block, static_cast<unsigned>(fails));
  }
  if (is(cmd, "addbadblock")) return add_block(block, 0);
  std::lock_guard lock(mu_);
  if (is(cmd, "removebadblock")) return bad_.erase(block) ? 0 : -EINVAL;
  if (is(cmd, "queryblock")) {
    *result = "dust_query_block: block " + std::to_string(block) +
              (bad_.count(block) ? " found in badblocklist" : " not found in badblocklist");
    return 1;
  }
  return -EINVAL;
}

Counters DustTarget::counters() const {
  auto n = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  std::size_t count;
  {
    std::lock_guard lock(mu_);
    count = bad_.size();
  }
  return {{"dust_read_errors", n(read_errors_)},
          {"dust_write_errors", n(write_errors_)},
          {"dust_blocks_cleared", n(cleared_)},
          {"dust_bad_blocks", static_cast<double>(count)}};
}

}  // namespace iostack::dev
