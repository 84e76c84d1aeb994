// fio's cmdprio options: which I/Os get which priority.
#include "job/cmdprio.hpp"

#include "job/types.hpp"
#include "task/ioprio.hpp"

namespace iostack::job {

void CmdPrio::init(const JobOptions& o, std::uint64_t seed) {
  rand_.seed(seed, false);  // fio's prio_state: taus88
  const bool perc = o.cmdprio_percentage[kRead] || o.cmdprio_percentage[kWrite];
  mode_ = o.has_cmdprio_bssplit ? Mode::kBssplit : perc ? Mode::kPerc : Mode::kNone;
  if (mode_ == Mode::kNone) return;
  const bool on[2] = {o.dir_read, o.dir_write};
  for (int d = kRead; d <= kWrite; ++d) {
    // An unset class is the highest one (fio_cmdprio_parse_and_gen).
    const int cls = o.cmdprio_class[d] ? static_cast<int>(o.cmdprio_class[d]) : task::kClassRt;
    prio_[d] = task::prio_value(cls, static_cast<int>(o.cmdprio_level[d]));
    perc_[d] = 0;
    split_[d].clear();
    if (!on[d]) continue;
    if (mode_ == Mode::kPerc) {
      perc_[d] = o.cmdprio_percentage[d];
    } else {
      for (const CmdprioSplitEntry& e : o.cmdprio_bssplit[d])
        split_[d].push_back(
            Entry{e.bs, e.perc, e.ioprio < 0 ? prio_[d] : static_cast<std::uint16_t>(e.ioprio)});
    }
  }
}

bool CmdPrio::pick(int ddir, std::uint32_t len, std::uint16_t* ioprio) {
  if (mode_ == Mode::kNone || (ddir != kRead && ddir != kWrite)) return false;
  // fio_cmdprio_percentage: the share for this direction, or this size.
  unsigned p = 0;
  std::size_t first = 0, end = 0;
  if (mode_ == Mode::kPerc) {
    p = perc_[ddir];
  } else {
    const auto& list = split_[ddir];
    while (first < list.size() && list[first].bs != len) ++first;
    for (end = first; end < list.size() && list[end].bs == len; ++end) p += list[end].perc;
  }
  if (!p) return false;
  const auto r = static_cast<unsigned>(rand_.between(0, 99));
  if (r >= p) return false;
  if (mode_ == Mode::kPerc) {
    *ioprio = prio_[ddir];
    return true;
  }
  unsigned acc = 0;
  for (std::size_t i = first; i < end; ++i) {
    acc += split_[ddir][i].perc;
    if (r < acc) {
      *ioprio = split_[ddir][i].ioprio;
      return true;
    }
  }
  return false;
}

}  // namespace iostack::job
