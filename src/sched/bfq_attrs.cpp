// The iosched/ files of bfq (bfq_attrs in block/bfq-iosched.c): kstrtoul in
// base 10, then clamping to each file's range; shown with %u.
#include <cerrno>
#include <climits>

#include "core/kstrtox.hpp"
#include "sched/bfq_internal.hpp"

namespace iostack::sched {

namespace {

std::uint64_t msecs_to_jiffies(std::uint64_t ms) { return (ms * kBfqHz + 999) / 1000; }
std::uint64_t jiffies_to_msecs(std::uint64_t j) { return j * 1000 / kBfqHz; }

}  // namespace

std::vector<std::string> Bfq::attr_names() const {
  return {"fifo_expire_sync",  "fifo_expire_async", "back_seek_max", "back_seek_penalty",
          "slice_idle",        "slice_idle_us",     "max_budget",    "timeout_sync",
          "strict_guarantees", "low_latency"};
}

int Bfq::attr_show(const std::string& name, std::string* out) const {
  core::LockGuard g(d_.lock);
  std::uint64_t v;
  if (name == "fifo_expire_sync")
    v = d_.fifo_expire[1] / core::kNsPerMs;
  else if (name == "fifo_expire_async")
    v = d_.fifo_expire[0] / core::kNsPerMs;
  else if (name == "back_seek_max")
    v = d_.back_max;
  else if (name == "back_seek_penalty")
    v = d_.back_penalty;
  else if (name == "slice_idle")
    v = d_.slice_idle / core::kNsPerMs;
  else if (name == "slice_idle_us")
    v = d_.slice_idle / core::kNsPerUs;
  else if (name == "max_budget")
    v = d_.user_max_budget;
  else if (name == "timeout_sync")
    v = jiffies_to_msecs(d_.timeout);
  else if (name == "strict_guarantees")
    v = d_.strict_guarantees;
  else if (name == "low_latency")
    v = d_.low_latency;
  else
    return -ENOENT;
  *out = std::to_string(static_cast<unsigned>(v));  // bfq_var_show: %u of an unsigned int
  return 0;
}

int Bfq::attr_store(const std::string& name, const std::string& value) {
  const std::vector<std::string> names = attr_names();
  bool known = false;
  for (const std::string& n : names) known |= n == name;
  if (!known) return -ENOENT;

  std::uint64_t v;
  if (int err = core::kstrtoull(value.c_str(), 10, &v); err < 0) return err;
  auto clamp = [&v](std::uint64_t lo, std::uint64_t hi) {
    if (v < lo) v = lo;
    if (v > hi) v = hi;
  };

  core::LockGuard g(d_.lock);
  if (name == "fifo_expire_sync" || name == "fifo_expire_async") {
    clamp(1, INT_MAX);
    d_.fifo_expire[name == "fifo_expire_sync"] = v * core::kNsPerMs;
  } else if (name == "back_seek_max") {
    clamp(0, INT_MAX);
    d_.back_max = v;
  } else if (name == "back_seek_penalty") {
    clamp(1, INT_MAX);
    d_.back_penalty = v;
  } else if (name == "slice_idle") {
    clamp(0, INT_MAX);
    d_.slice_idle = static_cast<std::uint32_t>(v * core::kNsPerMs);  // a u32 in bfq_data
  } else if (name == "slice_idle_us") {
    clamp(0, UINT_MAX);
    d_.slice_idle = static_cast<std::uint32_t>(v * core::kNsPerUs);
  } else if (name == "max_budget") {
    // 0 means auto-tuning from the peak rate.
    if (v > INT_MAX) v = INT_MAX;
    d_.bfq_max_budget = v == 0 ? bfq::bfq_calc_max_budget(&d_) : static_cast<int>(v);
    d_.user_max_budget = v;
  } else if (name == "timeout_sync") {
    clamp(1, INT_MAX);
    d_.timeout = msecs_to_jiffies(v);
    if (d_.user_max_budget == 0) d_.bfq_max_budget = bfq::bfq_calc_max_budget(&d_);
  } else if (name == "strict_guarantees") {
    if (v > 1) v = 1;
    // Strict guarantees need idling long enough to matter.
    if (!d_.strict_guarantees && v == 1 && d_.slice_idle < 8 * core::kNsPerMs)
      d_.slice_idle = 8 * core::kNsPerMs;
    d_.strict_guarantees = v;
  } else {  // low_latency
    if (v > 1) v = 1;
    if (v == 0 && d_.low_latency) bfq::bfq_end_wr(&d_);
    d_.low_latency = v;
  }
  return 0;
}

}  // namespace iostack::sched
