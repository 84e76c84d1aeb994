// Hard disk service times: geometry, seeks, rotation.
#include "dev/hdd_model.hpp"

#include <algorithm>
#include <cmath>

#include "block/blk_types.hpp"

namespace iostack::dev {

HddModel::HddModel(const HddConfig& cfg) : cfg_(cfg) {
  rev_ = 60 * core::kNsPerSec / cfg.rpm;
  const unsigned nz = cfg.zones;
  std::uint64_t spt_sum = 0;
  zones_.resize(nz);
  for (unsigned z = 0; z < nz; ++z) {
    const std::uint64_t drop =
        nz > 1 ? std::uint64_t{cfg.spt_outer - cfg.spt_inner} * z / (nz - 1) : 0;
    zones_[z].spt = static_cast<std::uint32_t>(cfg.spt_outer - drop);
    spt_sum += zones_[z].spt;
  }
  // Enough equal-width zones to hold the capacity; the tail of the last zone
  // past the capacity is never addressed.
  const std::uint64_t sectors = cfg.size_bytes >> block::kSectorShift;
  const std::uint64_t per_cyl_set = spt_sum * cfg.heads;
  cyls_per_zone_ = static_cast<std::uint32_t>((sectors + per_cyl_set - 1) / per_cyl_set);
  cyls_ = cyls_per_zone_ * nz;
  std::uint64_t lba = 0;
  for (unsigned z = 0; z < nz; ++z) {
    zones_[z].first_lba = lba;
    zones_[z].first_cyl = z * cyls_per_zone_;
    lba += std::uint64_t{cyls_per_zone_} * cfg.heads * zones_[z].spt;
  }
  seek_knee_ = std::max<std::uint32_t>(2, cyls_ / 3);
  seek_a_ = static_cast<double>(cfg.seek_avg - cfg.seek_track) /
            (std::sqrt(static_cast<double>(seek_knee_)) - 1.0);
  seek_settle_ = static_cast<double>(cfg.seek_track) - seek_a_;
  skew_ = std::max(cfg.head_switch, cfg.seek_track);
  min_seek_ = seek_ns(1);
  std::vector<core::Nanos> lut(std::min<std::uint32_t>(cyls_, 1024));
  for (std::uint32_t d = 0; d < lut.size(); ++d) lut[d] = seek_ns(d);
  seek_lut_ = std::move(lut);
}

core::Nanos HddModel::seek_curve(std::uint32_t dist) const {
  if (dist == 0) return 0;
  if (dist <= seek_knee_) {
    // Rounded to the nearest ns (the value is positive).
    return static_cast<core::Nanos>(seek_settle_ + seek_a_ * std::sqrt(static_cast<double>(dist)) +
                                    0.5);
  }
  const std::uint32_t span = cyls_ - 1 > seek_knee_ ? cyls_ - 1 - seek_knee_ : 1;
  const double frac = static_cast<double>(dist - seek_knee_) / span;
  return cfg_.seek_avg +
         static_cast<core::Nanos>(frac * static_cast<double>(cfg_.seek_full - cfg_.seek_avg) + 0.5);
}

std::size_t HddModel::zone_of(std::uint64_t lba) const {
  std::size_t lo = 0, hi = zones_.size();
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    (zones_[mid].first_lba <= lba ? lo : hi) = mid;
  }
  return lo;
}

HddPos HddModel::locate(std::uint64_t lba) const {
  const HddZone& zone = zones_[zone_of(lba)];
  const std::uint64_t off = lba - zone.first_lba;
  const std::uint64_t track = off / zone.spt;
  HddPos p;
  p.spt = zone.spt;
  p.sector = static_cast<std::uint32_t>(off % zone.spt);
  p.cyl = zone.first_cyl + static_cast<std::uint32_t>(track / cfg_.heads);
  p.head = static_cast<std::uint32_t>(track % cfg_.heads);
  p.offset = sector_offset(p);
  return p;
}

std::uint64_t HddModel::cylinder_start(std::uint32_t cyl) const {
  if (cyl >= cyls_) return ~std::uint64_t{0};
  const HddZone& zone = zones_[cyl / cyls_per_zone_];
  return zone.first_lba + std::uint64_t{cyl - zone.first_cyl} * cfg_.heads * zone.spt;
}

core::Nanos HddModel::sector_offset(const HddPos& p) const {
  const std::uint64_t track = std::uint64_t{p.cyl} * cfg_.heads + p.head;
  return (std::uint64_t{p.sector} * rev_ / p.spt + track * skew_) % rev_;
}

core::Nanos HddModel::position_ns(const HddHead& h, core::Nanos t, const HddPos& p) const {
  const core::Nanos move = move_ns(h, p);
  const core::Nanos at = (t + move) % rev_;
  const core::Nanos off = p.offset;
  return move + (off >= at ? off - at : off + rev_ - at);
}

// The shortest distance whose seek takes at least `bound` (cylinders_ when
// none does): from the inverse of the curve, then checked against seek_ns()
// itself so that rounding cannot make it wrong.
std::uint32_t HddModel::seek_cut(core::Nanos bound) const {
  if (bound <= min_seek_) return 1;
  const std::uint32_t top = cyls_ > 1 ? cyls_ - 1 : 1;
  if (seek_ns(top) < bound) return cyls_;
  double est;
  if (bound <= cfg_.seek_avg) {
    const double r = (static_cast<double>(bound) - seek_settle_) / seek_a_;
    est = r * r;
  } else {
    const std::uint32_t span = cyls_ - 1 > seek_knee_ ? cyls_ - 1 - seek_knee_ : 1;
    est = seek_knee_ + static_cast<double>(bound - cfg_.seek_avg) /
                           static_cast<double>(cfg_.seek_full - cfg_.seek_avg) * span;
  }
  std::uint32_t d = est < 1 ? 1 : est > top ? top : static_cast<std::uint32_t>(est);
  while (d > 1 && seek_ns(d - 1) >= bound) --d;
  while (d < top && seek_ns(d) < bound) ++d;
  return d;
}

core::Nanos HddModel::position_below(const HddHead& h, core::Nanos t, const HddPos& p,
                                     core::Nanos bound) const {
  if (p.cyl != h.cyl) {
    if (bound != cut_bound_) {
      cut_bound_ = bound;
      cut_dist_ = seek_cut(bound);
    }
    // Every seek at least this long costs at least the bound.
    if ((p.cyl > h.cyl ? p.cyl - h.cyl : h.cyl - p.cyl) >= cut_dist_) return bound;
  }
  const core::Nanos move = move_ns(h, p);
  if (move >= bound) return move;
  // (t + move) % rev_, with t % rev_ kept for the pass.
  if (t != mod_t_ || mod_v_ >= rev_) {
    mod_t_ = t;
    mod_v_ = t % rev_;
  }
  core::Nanos at = mod_v_ + move;
  if (at >= rev_) at = move < rev_ ? at - rev_ : at % rev_;
  const core::Nanos off = p.offset;
  return move + (off >= at ? off - at : off + rev_ - at);
}

core::Nanos HddModel::access(HddHead* h, core::Nanos t, std::uint64_t lba, std::uint32_t n,
                             std::uint32_t* seek_dist, const HddPos* at) const {
  bool first = true;
  while (n) {
    const HddPos p = first && at ? *at : locate(lba);
    if (first && seek_dist) *seek_dist = p.cyl > h->cyl ? p.cyl - h->cyl : h->cyl - p.cyl;
    first = false;
    t += position_ns(*h, t, p);
    const std::uint32_t k = std::min(n, p.spt - p.sector);
    t += std::uint64_t{k} * rev_ / p.spt;
    h->cyl = p.cyl;
    h->head = p.head;
    lba += k;
    n -= k;
  }
  return t;
}

}  // namespace iostack::dev
