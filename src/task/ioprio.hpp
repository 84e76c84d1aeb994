// The I/O priority value: encoding (include/uapi/linux/ioprio.h) and the
// kernel-internal helpers around it (include/linux/ioprio.h). Written as
// constexpr functions so C++ code never depends on which uapi header is
// installed.
#pragma once

#include <cstdint>

namespace iostack::task {

enum IoprioClass : int {
  kClassNone = 0,
  kClassRt = 1,
  kClassBe = 2,
  kClassIdle = 3,
  kClassInvalid = 7,
};

enum IoprioWho : int {
  kWhoProcess = 1,
  kWhoPgrp = 2,
  kWhoUser = 3,
};

constexpr int kClassShift = 13;
constexpr int kNrClasses = 8;
constexpr int kLevelBits = 3;
constexpr int kNrLevels = 1 << kLevelBits;
constexpr int kHintShift = kLevelBits;
constexpr int kHintBits = 10;
constexpr int kNrHints = 1 << kHintBits;
constexpr int kNorm = 4;  // IOPRIO_NORM: the BE level of an unset priority

// IOPRIO_DEFAULT since 5.19: class NONE, meaning "derive it from the task".
constexpr std::uint16_t kIoprioDefault = 0;

// The accessors take int like the kernel's macros, so out-of-range bits of a
// syscall argument are masked off exactly as the kernel masks them.
constexpr int prio_class(int ioprio) { return (ioprio >> kClassShift) & (kNrClasses - 1); }
constexpr int prio_level(int ioprio) { return ioprio & (kNrLevels - 1); }
constexpr int prio_hint(int ioprio) { return (ioprio >> kHintShift) & (kNrHints - 1); }
constexpr int prio_data(int ioprio) { return ioprio & ((1 << kClassShift) - 1); }

// ioprio_value(): an out-of-range field yields the INVALID class, so a bad
// value built in code is refused by ioprio_check_cap rather than wrapped.
constexpr std::uint16_t prio_value(int cls, int level, int hint = 0) {
  if (cls < 0 || cls >= kNrClasses || level < 0 || level >= kNrLevels || hint < 0 ||
      hint >= kNrHints)
    return static_cast<std::uint16_t>(kClassInvalid << kClassShift);
  return static_cast<std::uint16_t>((cls << kClassShift) | (hint << kHintShift) | level);
}

// ioprio_valid() (include/linux/ioprio.h): RT, BE or IDLE.
constexpr bool ioprio_valid(std::uint16_t ioprio) {
  const int cls = prio_class(ioprio);
  return cls > kClassNone && cls <= kClassIdle;
}

// ioprio_best(): since 5.19 a plain minimum of two effective priorities
// (lower class number first, then lower level).
constexpr std::uint16_t ioprio_best(std::uint16_t a, std::uint16_t b) { return a < b ? a : b; }

}  // namespace iostack::task
