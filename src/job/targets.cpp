// The devices a run's filenames name.
#include "job/targets.hpp"

#include <fmt/format.h>

#include <cstring>

#include "dev/device_spec.hpp"
#include "job/num2str.hpp"

namespace iostack::job {

Targets::~Targets() = default;

namespace {

bool is_device_spec(const std::string& f) { return dev::names_device_spec(f); }

}  // namespace

std::string Targets::spec_of(const JobOptions& o) {
  // A plain path is a file behind an iostack loop device; direct=1 makes
  // the loop device use O_DIRECT on it, as `losetup --direct-io` would.
  std::string s = is_device_spec(o.filename) ? o.filename : "loop:" + o.filename;
  if (!is_device_spec(o.filename) && o.direct) s += ",dio=1";
  if (o.queue_depth)
    s += (s.find(':') == std::string::npos ? ":" : ",") + std::string("queue_depth=") +
         std::to_string(o.queue_depth);
  return s;
}

std::string queue_error(const QueueSetting& s, const std::string& dev, const block::RequestQueue& q,
                        int rc) {
  std::string why;
  const auto* e = q.elevator();
  if (rc == -ENOENT && s.attr.rfind("iosched/", 0) == 0)
    why = std::string("scheduler ") + (e ? e->name() : "none") + " of " + dev +
          " has no tunable '" + s.attr.substr(8) + "'";
  else if (rc == -ENOENT)
    why = "no such queue attribute on " + dev;
  else
    why = "rejected by " + dev + " (" + std::strerror(-rc) + ")";
  return s.loc.str() + ": " + s.option + "=" + s.value + ": " + why;
}

bool Targets::apply_settings(const JobOptions& o, dev::BlockDevice* d, std::string* err) const {
  for (const QueueSetting& s : o.queue_settings) {
    const int rc = d->queue()->attr_store(s.attr, s.value);
    if (rc < 0) {
      *err = queue_error(s, d->name(), *d->queue(), rc);
      return false;
    }
  }
  return true;
}

namespace {

// Whether a device stack has a loop device in it (real files, I/O threads).
bool has_loop(const dev::DeviceSpec& s) {
  if (s.kind == dev::DeviceKind::kLoop) return true;
  return s.lower && has_loop(*s.lower);
}

}  // namespace

bool Targets::prepare(const std::vector<JobDef>& jobs, std::string* err, core::Clock* clock) {
  for (const JobDef& j : jobs) {
    const JobOptions& o = j.opts;
    const std::string spec = spec_of(o);
    auto it = by_spec_.find(spec);
    dev::BlockDevice* d;
    if (it == by_spec_.end()) {
      std::string e;
      dev::DeviceSpec parsed;
      if (clock && clock->single_threaded() && dev::parse_device_spec(spec, &parsed, &e) &&
          has_loop(parsed)) {
        *err = o.filename_loc.str() + ": filename=" + o.filename +
               ": a file (loop device) runs in real time only; with clock=virtual use ram:, "
               "null:, hdd: or ssd: (or a target over one)";
        return false;
      }
      auto dev = dev::create_device(spec, clock, &e);
      if (!dev) {
        *err = o.filename_loc.str() + ": filename=" + o.filename + ": " + e;
        return false;
      }
      d = dev.get();
      by_spec_[spec] = d;
      devs_.push_back(std::move(dev));
    } else {
      d = it->second;
    }
    job_dev_.push_back(d);

    // Offset and size against the device (fio: size defaults to the rest).
    const std::uint64_t cap = d->disk()->capacity() << block::kSectorShift;
    std::uint32_t min_bs = 0, max_bs = 0;
    const bool on[kRwDirs] = {o.dir_read, o.dir_write, o.dir_trim};
    for (int dd = kRead; dd < kRwDirs; ++dd) {
      if (!on[dd]) continue;
      min_bs = min_bs ? std::min(min_bs, o.min_bs[dd]) : o.min_bs[dd];
      max_bs = std::max(max_bs, o.max_bs[dd]);
    }
    if (o.verify != VerifyType::kNone) max_bs = std::max(max_bs, o.max_bs[kRead]);
    JobRange r;
    r.offset = o.offset_percent > 0
                   ? static_cast<std::uint64_t>(static_cast<double>(cap) * o.offset_percent / 100)
                   : o.offset;
    r.offset -= r.offset % min_bs;
    if (o.offset % 512) {
      *err = o.offset_loc.str() + ": offset=" + std::to_string(o.offset) +
             ": not a multiple of the 512-byte sector";
      return false;
    }
    if (r.offset >= cap) {
      *err = o.offset_loc.str() + ": offset=" + std::to_string(r.offset) + ": beyond the end of " +
             d->name() + " (" + num2str(cap, 4, 1, true, N2S::kByte) + ")";
      return false;
    }
    r.size = o.size_percent > 0
                 ? static_cast<std::uint64_t>(static_cast<double>(cap) * o.size_percent / 100)
                 : (o.size && !o.fill_device ? o.size : cap - r.offset);
    // fio: a size percentage is of what is left after the offset, so that
    // offset=50% size=50% ends at the device's end.
    if (o.size_percent > 0 && r.offset + r.size > cap) r.size = cap - r.offset;
    if (r.offset + r.size > cap) {
      *err = (o.size ? o.size_loc.str() : j.loc.str()) + ": size=" + o.size_str + " (" +
             num2str(r.size, 4, 1, true, N2S::kByte) + "): larger than " + d->name() + " (" +
             num2str(cap, 4, 1, true, N2S::kByte) + ")" +
             (r.offset ? " from offset " + std::to_string(r.offset) : std::string());
      return false;
    }
    r.size -= r.size % min_bs;
    if (r.size < max_bs) {
      *err = (o.size ? o.size_loc.str() : j.loc.str()) + ": size=" + std::to_string(r.size) +
             ": smaller than the block size " + std::to_string(max_bs);
      return false;
    }
    ranges_.push_back(r);
    std::uint64_t inc = o.offset_increment;
    if (o.offset_increment_percent > 0)
      inc = static_cast<std::uint64_t>(o.offset_increment_percent) * cap / 100;
    align_.push_back(o.offset_increment_percent > 0 ? min_bs : 0);
    increments_.push_back(inc);
  }

  // Every device's settings, in job order, on a twin of the device.
  for (const auto& [spec, d] : by_spec_) {
    std::string e;
    auto twin = dev::create_device(spec, nullptr, &e);
    if (!twin) {
      *err = "cannot create a scratch twin of " + d->name() + ": " + e;
      return false;
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (job_dev_[i] != d) continue;
      for (const QueueSetting& s : jobs[i].opts.queue_settings) {
        const int rc = twin->queue()->attr_store(s.attr, s.value);
        if (rc < 0) {
          *err = queue_error(s, d->name(), *twin->queue(), rc);
          return false;
        }
      }
    }
  }
  return true;
}

bool Targets::clone_range(const JobDef& j, std::size_t job, unsigned clone, JobRange* r,
                          std::string* err) const {
  *r = ranges_[job];
  if (!clone || !increments_[job]) return true;
  const std::uint64_t cap = job_dev_[job]->disk()->capacity() << block::kSectorShift;
  // A percentage is aligned up to the smallest block size, as fio does.
  std::uint64_t add = increments_[job] * clone;
  if (align_[job]) add = (add + align_[job] - 1) / align_[job] * align_[job];
  r->offset += add;
  if (r->offset >= cap) {
    *err = j.loc.str() + ": job '" + j.opts.name + "': offset_increment: clone " +
           std::to_string(clone) + " starts at " + std::to_string(r->offset) +
           ", beyond the end of " + job_dev_[job]->name() + " (" +
           num2str(cap, 4, 1, true, N2S::kByte) + ")";
    return false;
  }
  // fio trims what runs past the end of a device.
  r->size = std::min(r->size, cap - r->offset);
  return true;
}

std::vector<dev::BlockDevice*> Targets::devices() const {
  std::vector<dev::BlockDevice*> v;
  for (const auto& d : devs_) v.push_back(d.get());
  return v;
}

}  // namespace iostack::job
