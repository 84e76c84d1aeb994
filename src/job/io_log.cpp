// fio's log files: sampling, averaging windows and the text format.
#include "job/io_log.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "job/job_options.hpp"

namespace iostack::job {
namespace {

constexpr unsigned kIoprioClassShift = 13;  // IOPRIO_CLASS_SHIFT
constexpr unsigned kIoprioClassRt = 1;

FILE* open_log(const std::string& path, std::string* err) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) *err = path + ": cannot write log file: " + std::strerror(errno);
  return f;
}

bool close_log(FILE* f, const std::string& path, std::string* err) {
  const bool bad = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || bad) {
    *err = path + ": error writing log file";
    return false;
  }
  return true;
}

bool create_log(const std::string& path, std::string* err) {
  FILE* f = open_log(path, err);
  return f && close_log(f, path, err);
}

}  // namespace

std::string log_file_name(const std::string& prefix, const char* type, int num, bool per_job) {
  return per_job ? prefix + "_" + type + "." + std::to_string(num) + ".log"
                 : prefix + "_" + type + ".log";
}

IoLog::IoLog(std::string path, unsigned avg_msec, bool log_offset, bool log_prio, bool log_max)
    : path_(std::move(path)),
      avg_msec_(avg_msec),
      log_offset_(log_offset),
      log_prio_(log_prio),
      log_max_(log_max) {
  samples_.reserve(4096);  // grows by doubling: no allocation per I/O on average
}

void IoLog::push(std::uint64_t t_ms, std::uint64_t val, int ddir, std::uint64_t bs,
                 std::uint64_t offset, std::uint16_t ioprio) {
  if (samples_.empty()) avg_last_[ddir] = t_ms;
  samples_.push_back({t_ms, val, bs, offset, ioprio, static_cast<std::uint8_t>(ddir)});
}

void IoLog::flush_window(int ddir, std::uint64_t t_ms) {
  Window& w = win_[ddir];
  if (w.samples)
    push(t_ms, log_max_ ? w.max : static_cast<std::uint64_t>(w.mean + 0.50), ddir, 0, 0, 0);
  w = Window{};
}

void IoLog::add(std::uint64_t t_ms, std::uint64_t val, int ddir, std::uint64_t bs,
                std::uint64_t offset, std::uint16_t ioprio) {
  if (ddir < 0 || ddir >= kRwDirs) return;
  if (!avg_msec_) {
    push(t_ms, val, ddir, bs, offset, ioprio);
    return;
  }
  Window& w = win_[ddir];
  ++w.samples;
  w.mean += (static_cast<double>(val) - w.mean) / static_cast<double>(w.samples);
  if (val > w.max) w.max = val;
  if (t_ms < avg_last_[ddir] || t_ms - avg_last_[ddir] < avg_msec_) return;
  flush_window(ddir, t_ms);
  avg_last_[ddir] = t_ms - t_ms % avg_msec_;
}

void IoLog::finish(std::uint64_t t_ms) {
  if (!avg_msec_) return;
  for (int d = 0; d < kRwDirs; ++d) flush_window(d, t_ms);
}

bool IoLog::write(std::string* err) const {
  FILE* f = open_log(path_, err);
  if (!f) return false;
  for (const Sample& s : samples_) {
    const unsigned prio =
        log_prio_ ? s.ioprio : ((s.ioprio >> kIoprioClassShift) == kIoprioClassRt ? 1u : 0u);
    std::fprintf(f, "%" PRIu64 ", %" PRIu64 ", %u, %" PRIu64 ", ", s.t_ms, s.val,
                 static_cast<unsigned>(s.ddir), s.bs);
    if (log_offset_) std::fprintf(f, "%" PRIu64 ", ", s.offset);
    std::fprintf(f, log_prio_ ? "0x%04x\n" : "%u\n", prio);
  }
  return close_log(f, path_, err);
}

bool IoLog::create(std::string* err) const { return create_log(path_, err); }

HistLog::HistLog(std::string path, unsigned hist_msec, unsigned coarseness)
    : path_(std::move(path)), hist_msec_(hist_msec), stride_(1u << coarseness) {
  for (auto& b : before_) b.assign(kPlatNr, 0);
}

void HistLog::add(std::uint64_t t_ms, int ddir, std::uint64_t bs, const LatHist& now) {
  if (!hist_msec_ || ddir < 0 || ddir >= kRwDirs) return;
  if (!started_[ddir]) {
    started_[ddir] = true;
    last_[ddir] = t_ms;
  }
  const std::uint64_t window = t_ms - last_[ddir];
  if (window < hist_msec_) return;
  Line l{t_ms, bs, ddir, {}};
  l.counts.reserve(kPlatNr / stride_);
  std::vector<std::uint64_t>& before = before_[ddir];
  for (unsigned j = 0; j < kPlatNr; j += stride_) {
    std::uint64_t sum = 0;
    // The end of a ramp clears the histogram: count from zero again.
    for (unsigned k = j; k < j + stride_ && k < kPlatNr; ++k)
      sum += now.buckets[k] >= before[k] ? now.buckets[k] - before[k] : now.buckets[k];
    l.counts.push_back(sum);
  }
  std::copy(now.buckets.begin(), now.buckets.end(), before.begin());
  lines_.push_back(std::move(l));
  last_[ddir] = t_ms - (window - hist_msec_);  // keep the windows on their grid
}

bool HistLog::write(std::string* err) const {
  FILE* f = open_log(path_, err);
  if (!f) return false;
  for (const Line& l : lines_) {
    std::fprintf(f, "%" PRIu64 ", %d, %" PRIu64 ", ", l.t_ms, l.ddir, l.bs);
    for (std::size_t i = 0; i < l.counts.size(); ++i)
      std::fprintf(f, i + 1 < l.counts.size() ? "%" PRIu64 ", " : "%" PRIu64 "\n", l.counts[i]);
  }
  return close_log(f, path_, err);
}

bool HistLog::create(std::string* err) const { return create_log(path_, err); }

std::unique_ptr<JobLogs> JobLogs::make(const JobOptions& o, int num) {
  if (!o.write_lat_log && !o.write_bw_log && !o.write_iops_log && !o.write_hist_log) return nullptr;
  auto l = std::make_unique<JobLogs>();
  auto prefix = [&](const std::string& p) { return p.empty() ? o.name : p; };
  auto log = [&](const std::string& pre, const char* type) {
    return std::make_unique<IoLog>(log_file_name(prefix(pre), type, num, o.per_job_logs),
                                   o.log_avg_msec, o.log_offset, o.log_prio, o.log_max_value);
  };
  if (o.write_lat_log) {
    l->lat = log(o.lat_log_file, "lat");
    l->slat = log(o.lat_log_file, "slat");
    l->clat = log(o.lat_log_file, "clat");
  }
  if (o.write_bw_log) l->bw = log(o.bw_log_file, "bw");
  if (o.write_iops_log) l->iops = log(o.iops_log_file, "iops");
  if (o.write_hist_log)
    l->hist = std::make_unique<HistLog>(
        log_file_name(prefix(o.hist_log_file), "clat_hist", num, o.per_job_logs), o.log_hist_msec,
        o.log_hist_coarseness);
  for (int d = 0; d < 2; ++d) {
    l->min_bs[d] = o.min_bs[d];
    l->max_bs[d] = o.max_bs[d];
  }
  return l;
}

void JobLogs::slat_sample(std::uint64_t t_ms, std::uint64_t ns, int ddir, std::uint64_t bs,
                          std::uint64_t offset, std::uint16_t prio) {
  if (slat) slat->add(t_ms, ns, ddir, bs, offset, prio);
}

void JobLogs::complete_sample(std::uint64_t t_ms, std::uint64_t lat_ns, std::uint64_t clat_ns,
                              int ddir, std::uint64_t bs, std::uint64_t offset, std::uint16_t prio,
                              const LatHist& clat_hist) {
  if (lat) lat->add(t_ms, lat_ns, ddir, bs, offset, prio);
  if (clat) clat->add(t_ms, clat_ns, ddir, bs, offset, prio);
  if (hist) hist->add(t_ms, ddir, bs, clat_hist);
  // Without averaging, bw and iops are logged per I/O (per_unit_log):
  // the I/O's own rate over its completion latency, and 1.
  if (bw && !bw->avg_msec())
    bw->add(t_ms, clat_ns ? bs * 1000000ull / clat_ns : 0, ddir, bs, offset, prio);
  if (iops && !iops->avg_msec()) iops->add(t_ms, 1, ddir, bs, offset, prio);
}

void JobLogs::tick(std::uint64_t t_ms, const std::uint64_t bytes[2], const std::uint64_t ios[2],
                   bool force) {
  const bool windowed = (bw && bw->avg_msec()) || (iops && iops->avg_msec());
  if (!windowed) return;
  const unsigned avg = bw && bw->avg_msec() ? bw->avg_msec() : iops->avg_msec();
  const std::uint64_t spent = t_ms - win_t_ms;
  if (!force && spent < avg) return;
  for (int d = 0; d < 2; ++d) {
    const std::uint64_t db = bytes[d] - win_bytes[d], di = ios[d] - win_ios[d];
    const std::uint64_t bs = min_bs[d] == max_bs[d] ? min_bs[d] : 0;
    if (bw && bw->avg_msec() && db)
      bw->add(t_ms, spent ? db * 1000 / spent / 1024 : 0, d, bs, 0, 0);
    if (iops && iops->avg_msec() && di) iops->add(t_ms, spent ? di * 1000 / spent : 0, d, bs, 0, 0);
    win_bytes[d] = bytes[d];
    win_ios[d] = ios[d];
  }
  win_t_ms = t_ms;
}

void JobLogs::finish(std::uint64_t t_ms) {
  for (IoLog* l : {lat.get(), slat.get(), clat.get(), bw.get(), iops.get()})
    if (l) l->finish(t_ms);
}

bool JobLogs::create(std::string* err) const {
  for (const IoLog* l : {lat.get(), slat.get(), clat.get(), bw.get(), iops.get()})
    if (l && !l->create(err)) return false;
  return !hist || hist->create(err);
}

bool JobLogs::write(std::string* err) const {
  for (const IoLog* l : {lat.get(), slat.get(), clat.get(), bw.get(), iops.get()})
    if (l && !l->write(err)) return false;
  return !hist || hist->write(err);
}

}  // namespace iostack::job
