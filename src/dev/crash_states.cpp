// Crash states from a log-writes record.
#include "dev/crash_states.hpp"

#include <set>
#include <string>

#include "dev/log_format.hpp"
#include "dev/target.hpp"

namespace iostack::dev {

namespace {

bool is_point(const LogEntry& e) { return e.flags & (kLogFlush | kLogFua); }
bool is_data(const LogEntry& e) { return !(e.flags & (kLogMark | kLogFlush)) && e.nr_sectors; }

int apply(const LogEntry& e, const ReplayWrite& write) {
  if (e.flags & kLogDiscard) {
    const std::string zeroes(1u << 20, '\0');
    for (std::uint64_t done = 0; done < (e.nr_sectors << 9);) {
      const std::uint64_t n = std::min<std::uint64_t>((e.nr_sectors << 9) - done, zeroes.size());
      if (const int r = write((e.sector << 9) + done, zeroes.data(), n); r < 0) return r;
      done += n;
    }
    return 0;
  }
  return e.data.empty() ? 0 : write(e.sector << 9, e.data.data(), e.data.size());
}

}  // namespace

std::vector<CrashState> crash_states(const std::vector<LogEntry>& log, unsigned subsets,
                                     std::uint64_t seed) {
  TargetRandom rng(seed);
  std::vector<std::uint64_t> points{0};  // durable prefix lengths
  for (std::uint64_t i = 0; i < log.size(); ++i)
    if (is_point(log[i])) points.push_back(i + 1);
  std::vector<CrashState> states;
  for (std::size_t p = 0; p < points.size(); ++p) {
    const std::uint64_t from = points[p];
    const std::uint64_t to = p + 1 < points.size() ? points[p + 1] : log.size();
    std::vector<std::uint64_t> pending;
    for (std::uint64_t i = from; i < to; ++i)
      if (is_data(log[i]) && !is_point(log[i])) pending.push_back(i);
    states.push_back(CrashState{from, {}, false});
    const std::size_t n = pending.size();
    if (n == 0) continue;
    if (n < 32 && (std::uint64_t{1} << n) - 1 <= subsets) {
      // Few enough to try every non-empty subset.
      for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << n); ++mask) {
        CrashState s{from, {}, false};
        for (std::size_t j = 0; j < n; ++j)
          if (mask >> j & 1) s.extra.push_back(pending[j]);
        states.push_back(std::move(s));
      }
      continue;
    }
    std::set<std::vector<std::uint64_t>> seen;
    for (unsigned tries = 0; seen.size() < subsets && tries < 4 * subsets; ++tries) {
      CrashState s{from, {}, false};
      for (std::uint64_t i : pending)
        if (rng.next() & 1) s.extra.push_back(i);
      if (s.extra.empty() || !seen.insert(s.extra).second) continue;
      states.push_back(std::move(s));
    }
  }
  states.push_back(CrashState{log.size(), {}, true});
  return states;
}

int apply_crash_state(const std::vector<LogEntry>& log, const CrashState& s,
                      const ReplayWrite& write) {
  for (std::uint64_t i = 0; i < s.durable && i < log.size(); ++i)
    if (const int r = apply(log[i], write); r < 0) return r;
  for (std::uint64_t i : s.extra)
    if (const int r = apply(log[i], write); r < 0) return r;
  return 0;
}

std::string describe(const std::vector<LogEntry>& log, const CrashState& s) {
  if (s.end) return "whole log";
  std::string d = s.durable == 0
                      ? "log start"
                      : "after entry " + std::to_string(s.durable - 1) + " (" +
                            (log[s.durable - 1].flags & kLogFlush ? "FLUSH" : "FUA") + ")";
  if (!s.extra.empty()) {
    d += " + entries";
    for (std::uint64_t i : s.extra) d += " " + std::to_string(i);
  }
  return d;
}

}  // namespace iostack::dev
