// blkparse's action letters and RWBS strings.
#include "trace/blktrace_text.hpp"

#include <iterator>

namespace iostack::trace {

std::string action_name(std::uint32_t action) {
  if ((action & tc_act(kTcNotify)) != 0) {
    return (action & kActMask) == kTnMessageCode ? "m" : "";
  }
  // Indexed by the __BLK_TA_* code, kActQueue (1) through kActRemap (15).
  static constexpr const char* kNames[] = {"",  "Q", "M", "F",  "G", "S", "R", "D",
                                           "C", "P", "U", "UT", "I", "X", "B", "A"};
  const std::uint32_t code = action & kActMask;
  return code < std::size(kNames) ? kNames[code] : "";
}

std::string rwbs(const BlkIoTrace& t) {
  const std::uint32_t tc = t.action >> kTcShift;
  std::string s;
  if (tc & kTcFlush) s += 'F';
  if (tc & kTcDiscard) {
    s += 'D';
  } else if (tc & kTcWrite) {
    s += 'W';
  } else if (t.bytes != 0) {
    s += 'R';
  } else {
    s += 'N';
  }
  if (tc & kTcFua) s += 'F';
  if (tc & kTcAhead) s += 'A';
  if (tc & kTcSync) s += 'S';
  if (tc & kTcMeta) s += 'M';
  return s;
}

}  // namespace iostack::trace
