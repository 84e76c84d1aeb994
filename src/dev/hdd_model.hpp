// The service-time arithmetic of a simulated hard disk, after Ruemmler and
// Wilkes, "An introduction to disk drive modeling" (1994) and DiskSim:
// zoned geometry, seek curve, rotational position, track skew and head
// switches. Pure functions of the configuration and a head state; the
// device (hdd.cpp) keeps the state and the clock.
#pragma once

#include <cstdint>
#include <vector>

#include "core/clock.hpp"
#include "dev/hdd_config.hpp"

namespace iostack::dev {

struct HddZone {
  std::uint64_t first_lba = 0;
  std::uint32_t first_cyl = 0;
  std::uint32_t spt = 0;  // sectors per track
};

// Where a sector lies on the platters.
struct HddPos {
  std::uint32_t cyl = 0;
  std::uint32_t head = 0;
  std::uint32_t sector = 0;  // on its track
  std::uint32_t spt = 0;     // of its track
  core::Nanos offset = 0;    // sector_offset(): where it passes under the head
};

// The actuator: the cylinder and surface it last accessed.
struct HddHead {
  std::uint32_t cyl = 0;
  std::uint32_t head = 0;
};

class HddModel {
 public:
  explicit HddModel(const HddConfig& cfg);

  core::Nanos rev_ns() const { return rev_; }
  std::uint32_t cylinders() const { return cyls_; }
  std::uint32_t cyls_per_zone() const { return cyls_per_zone_; }
  const std::vector<HddZone>& zones() const { return zones_; }
  // Track skew: the rotation between the end of one track and the start of
  // the next, enough for a head switch or a one-cylinder seek.
  core::Nanos skew_ns() const { return skew_; }

  HddPos locate(std::uint64_t lba) const;
  // The first sector of cylinder `cyl` (past the last one: ~0), so that
  // locate(lba).cyl == cyl exactly for lba in [cylinder_start(cyl),
  // cylinder_start(cyl + 1)).
  std::uint64_t cylinder_start(std::uint32_t cyl) const;
  // locate(lba).spt: the sectors per track of its zone.
  std::uint32_t spt_at(std::uint64_t lba) const { return zones_[zone_of(lba)].spt; }
  // Seek time over `dist` cylinders: 0 for 0; settle + a*sqrt(d) up to a
  // third of the stroke (through seek_track at 1 and seek_avg at C/3);
  // linear from there to seek_full at C-1.
  core::Nanos seek_ns(std::uint32_t dist) const {
    return dist < seek_lut_.size() ? seek_lut_[dist] : seek_curve(dist);
  }
  // Rotational offset (ns past the index mark) where sector `p` starts.
  core::Nanos sector_offset(const HddPos& p) const;
  // Seek or head switch plus rotational wait to reach `lba` from `h`,
  // starting at time `t`.
  core::Nanos position_ns(const HddHead& h, core::Nanos t, std::uint64_t lba) const {
    return position_ns(h, t, locate(lba));
  }
  // Same, for a sector already located.
  core::Nanos position_ns(const HddHead& h, core::Nanos t, const HddPos& p) const;
  // position_ns() when it is below `bound`; otherwise some value at least
  // `bound`, found cheaply (any seek takes at least seek_ns(1)): what SPTF
  // needs to find the minimum.
  core::Nanos position_below(const HddHead& h, core::Nanos t, const HddPos& p,
                             core::Nanos bound) const;
  // Reads or writes `n` sectors from `lba` starting at time `t`; returns the
  // time the last sector passes under the head and moves *h there. *seek_dist
  // (if given) gets the cylinders crossed by the first seek. `at`, if given,
  // is locate(lba), already known.
  core::Nanos access(HddHead* h, core::Nanos t, std::uint64_t lba, std::uint32_t n,
                     std::uint32_t* seek_dist = nullptr, const HddPos* at = nullptr) const;
  // The arm's part of position_ns(): seek, head switch or nothing.
  core::Nanos move_ns(const HddHead& h, const HddPos& p) const {
    if (p.cyl != h.cyl) return seek_ns(p.cyl > h.cyl ? p.cyl - h.cyl : h.cyl - p.cyl);
    return p.head != h.head ? cfg_.head_switch : 0;
  }
  // position_ns() from the move and `r`, how far the sector's start is
  // past the start time's angle ((p.offset - t) mod rev): the first time
  // it passes under the head once the arm is there. Equal to r whenever
  // move <= r, so in an SPTF pass visiting sectors by increasing r the
  // first one within its reach is the best of those still to come.
  core::Nanos position_from(core::Nanos move, core::Nanos r) const {
    if (move <= r) return r;
    if (move - r <= rev_) return r + rev_;  // the usual case, without dividing
    return r + (move - r + rev_ - 1) / rev_ * rev_;
  }

 private:
  HddConfig cfg_;
  core::Nanos rev_;
  core::Nanos skew_;
  std::uint32_t cyls_per_zone_ = 0;
  std::uint32_t cyls_ = 0;
  std::uint32_t seek_knee_ = 0;  // C/3, where the sqrt curve meets the line
  double seek_a_ = 0;            // sqrt coefficient
  double seek_settle_ = 0;       // seek_track - seek_a_
  core::Nanos min_seek_ = 0;     // seek_ns(1): seeks only grow with distance
  // position_below()'s last bound and the shortest seek distance that takes
  // at least that long (SPTF passes keep a bound for many candidates). The
  // drive's lock covers them, like the rest of its state.
  mutable core::Nanos cut_bound_ = 0;
  mutable std::uint32_t cut_dist_ = 1;
  // ... and its last start time modulo a revolution.
  mutable core::Nanos mod_t_ = 0, mod_v_ = 0;
  // seek_ns() of the shortest distances, which SPTF asks for most.
  std::vector<core::Nanos> seek_lut_;
  std::uint32_t seek_cut(core::Nanos bound) const;
  // seek_ns() from the curve itself.
  core::Nanos seek_curve(std::uint32_t dist) const;
  // The last zone starting at or before `lba`.
  std::size_t zone_of(std::uint64_t lba) const;
  std::vector<HddZone> zones_;
};

}  // namespace iostack::dev
