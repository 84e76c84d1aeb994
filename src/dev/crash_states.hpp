// Crash states of a recorded run, as CrashMonkey builds them from a
// dm-log-writes log (log_replay.hpp): the log holds each write just before
// the FLUSH that made it durable, and FUA writes where they completed. At
// each persistence point (the log's start, each FLUSH and each FUA entry)
// everything logged so far is durable; the writes logged after it, up to the
// next point, were acknowledged but may sit in a volatile cache, so any
// subset of them may have reached the media when the power goes. A state is
// the durable prefix plus one such subset, applied in log order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dev/log_replay.hpp"

namespace iostack::dev {

struct CrashState {
  std::uint64_t durable = 0;         // entries [0, durable) are on the media
  std::vector<std::uint64_t> extra;  // and these later writes (log indexes)
  bool end = false;                  // the whole log (a clean end)
};

// For each persistence point, the state with nothing more, then every
// non-empty subset of the writes pending there when there are at most
// `subsets` of them, else `subsets` distinct random ones (seeded); last, the
// whole log.
std::vector<CrashState> crash_states(const std::vector<LogEntry>& log, unsigned subsets,
                                     std::uint64_t seed);

// Writes the state's data through `write` (discards as zeroes); 0 or -errno.
int apply_crash_state(const std::vector<LogEntry>& log, const CrashState& s,
                      const ReplayWrite& write);

// "after entry 12 (FLUSH) + entries 13 15", "log start", "whole log".
std::string describe(const std::vector<LogEntry>& log, const CrashState& s);

}  // namespace iostack::dev
