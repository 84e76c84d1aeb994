// The live status line on a terminal.
#include "job/progress.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "job/now.hpp"
#include "job/num2str.hpp"
#include "job/worker.hpp"

namespace iostack::job {

Progress::Progress(bool enabled, const std::vector<std::unique_ptr<Worker>>& workers)
    : enabled_(enabled), workers_(workers) {
  start_ns_ = last_ns_ = now_ns();
}

namespace {

char state_char(const Worker& w) {
  const JobOptions& o = w.def().opts;
  switch (w.progress().state.load(std::memory_order_relaxed)) {
    case 0:
      return 'P';
    case 1:
      return '/';
    case 3:
      return 'V';
    case 4:
      return '_';
    default:
      break;
  }
  if (o.dir_read && o.dir_write) return o.random ? 'm' : 'M';
  if (o.dir_write) return o.random ? 'w' : 'W';
  return o.random ? 'r' : 'R';
}

}  // namespace

void Progress::tick() {
  if (!enabled_) return;
  const std::uint64_t now = now_ns();
  if (now - last_ns_ < 1000000000ull) return;
  const double span = static_cast<double>(now - last_ns_) / 1e9;

  int running = 0;
  std::string states;
  char prev = 0;
  int run_len = 0;
  auto flush_run = [&] {
    if (!run_len) return;
    states += fmt::format("{}({})", prev, run_len);
  };
  std::uint64_t bytes[2] = {0, 0}, ios[2] = {0, 0};
  double pct_sum = 0;
  std::uint64_t eta_s = 0;
  const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
  for (const auto& w : workers_) {
    const char c = state_char(*w);
    if (c != prev) {
      flush_run();
      prev = c;
      run_len = 0;
    }
    ++run_len;
    if (c != 'P' && c != '_') ++running;
    for (int d = 0; d < 2; ++d) {
      bytes[d] += w->progress().bytes[d].load(std::memory_order_relaxed);
      ios[d] += w->progress().ios[d].load(std::memory_order_relaxed);
    }
    // Done share: by time for time-based jobs, else by bytes.
    const JobOptions& o = w->def().opts;
    double pct = 0;
    if (c == '_') {
      pct = 1;
    } else if (c != 'P') {
      const double total_s = static_cast<double>(o.ramp_time_ns + o.runtime_ns) / 1e9;
      if (o.time_based && total_s > 0) {
        pct = std::min(1.0, elapsed / total_s);
      } else if (w->planned_bytes()) {
        const std::uint64_t done = w->progress().bytes[0] + w->progress().bytes[1];
        pct = std::min(1.0, static_cast<double>(done) / static_cast<double>(w->planned_bytes()));
        if (total_s > 0) pct = std::max(pct, std::min(1.0, elapsed / total_s));
      }
      if (pct > 0 && pct < 1)
        eta_s = std::max(eta_s, static_cast<std::uint64_t>(elapsed * (1 - pct) / pct));
    }
    pct_sum += pct;
  }
  flush_run();
  const double pct = 100.0 * pct_sum / static_cast<double>(workers_.size());
  auto rate = [&](int d, bool iops) {
    const std::uint64_t cur = iops ? ios[d] : bytes[d];
    const std::uint64_t last = iops ? last_ios_[d] : last_bytes_[d];
    const auto v =
        static_cast<std::uint64_t>(static_cast<double>(cur >= last ? cur - last : 0) / span);
    return iops ? num2str(v, 4, 1, false, N2S::kNone) : num2str(v, 4, 1, true, N2S::kBytePerSec);
  };
  const std::string line =
      fmt::format("Jobs: {} (f={}): [{}][{:.1f}%][r={},w={}][r={},w={} IOPS][eta {:02d}m:{:02d}s]",
                  running, running, states, pct, rate(0, false), rate(1, false), rate(0, true),
                  rate(1, true), eta_s / 60, eta_s % 60);
  std::fprintf(stdout, "\r%s\033[K", line.c_str());
  std::fflush(stdout);
  drawn_ = true;
  for (int d = 0; d < 2; ++d) {
    last_bytes_[d] = bytes[d];
    last_ios_[d] = ios[d];
  }
  last_ns_ = now;
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", stdout);
  std::fflush(stdout);
}

}  // namespace iostack::job
