// A campaign's seed range split over forked processes: the tool mostly
// waits (quiet periods, time limits), so slices side by side finish a long
// campaign several times sooner on the same cores.
#pragma once

#include <cstdint>
#include <functional>

#include "campaign.hpp"

namespace fuzz {

// Runs seeds [start, start + seeds) as `jobs` contiguous slices, each in a
// child process that calls `slice(first, count)`. What a slice prints goes
// to stdout in seed order once all have ended; the summaries are merged
// (each class keeps its first eight seeds). Returns false, with a line on
// stderr, when a slice did not end normally.
bool run_in_slices(std::uint64_t start, std::uint64_t seeds, unsigned jobs,
                   const std::function<Summary(std::uint64_t first, std::uint64_t count)>& slice,
                   Summary* merged);

}  // namespace fuzz
