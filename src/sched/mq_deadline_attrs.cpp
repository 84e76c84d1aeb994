// The iosched/ files of mq-deadline (deadline_attrs in block/mq-deadline.c):
// kstrtoint with base 0, then out-of-range values are clamped, not refused.
#include <cerrno>
#include <climits>

#include "core/kstrtox.hpp"
#include "core/mutex.hpp"
#include "sched/mq_deadline.hpp"

namespace iostack::sched {

std::vector<std::string> MqDeadline::attr_names() const {
  return {"read_expire", "write_expire", "writes_starved",   "front_merges",
          "async_depth", "fifo_batch",   "prio_aging_expire"};
}

int MqDeadline::attr_show(const std::string& name, std::string* out) const {
  Hold g(*this, Hold::kInspect);
  long long v;
  if (name == "read_expire")
    v = fifo_expire_ms_[DD_READ];
  else if (name == "write_expire")
    v = fifo_expire_ms_[DD_WRITE];
  else if (name == "writes_starved")
    v = writes_starved_;
  else if (name == "front_merges")
    v = front_merges_;
  else if (name == "async_depth")
    v = static_cast<int>(async_depth_.load(std::memory_order_relaxed));  // printed with %d
  else if (name == "fifo_batch")
    v = fifo_batch_;
  else if (name == "prio_aging_expire")
    v = prio_aging_expire_ms_;
  else
    return -ENOENT;
  *out = std::to_string(v);
  return 0;
}

int MqDeadline::attr_store(const std::string& name, const std::string& value) {
  int* field = nullptr;
  int min = 0, max = INT_MAX;
  if (name == "read_expire") {
    field = &fifo_expire_ms_[DD_READ];
  } else if (name == "write_expire") {
    field = &fifo_expire_ms_[DD_WRITE];
  } else if (name == "prio_aging_expire") {
    field = &prio_aging_expire_ms_;
  } else if (name == "writes_starved") {
    field = &writes_starved_;
    min = INT_MIN;
  } else if (name == "front_merges") {
    field = &front_merges_;
    max = 1;
  } else if (name == "fifo_batch") {
    field = &fifo_batch_;
  } else if (name != "async_depth") {
    return -ENOENT;
  }
  if (name == "async_depth") min = 1;

  int v;
  if (int err = core::kstrtoint(value.c_str(), 0, &v); err < 0) return err;
  if (v < min) v = min;
  if (v > max) v = max;

  Hold g(*this, Hold::kInspect);
  if (name == "read_expire")
    set_expire(DD_READ, v);
  else if (name == "write_expire")
    set_expire(DD_WRITE, v);
  else if (field)
    *field = v;
  else
    async_depth_.store(static_cast<unsigned>(v), std::memory_order_relaxed);
  return 0;
}

}  // namespace iostack::sched
