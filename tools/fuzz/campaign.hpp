// A differential campaign over a range of seeds, for either interface:
// each seed runs twice on the kernel (seeds where the kernel disagrees with
// itself are skipped) and once on iostack; a difference is classified by
// its first differing line, and the first seed of each class is minimised
// to the smallest program that still shows it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "log.hpp"

namespace fuzz {

// What a campaign needs of an interface; Prog is its program type.
template <typename Prog>
struct Target {
  const char* name;
  Prog (*generate)(std::uint64_t seed);
  std::string (*print)(const Prog&);
  std::string (*execute)(const Prog&, bool kernel, const std::string& dir, int quiet_ms);
  std::size_t (*items)(const Prog&);
  Prog (*without)(const Prog&, std::size_t item);
  // A class name for a difference at `key` ("cqe 5#0", "enter 1", ...).
  // Both logs are there to name the request involved.
  std::string (*classify)(const Prog&, const Log& kernel, const Log& iostack,
                          const std::string& key, const std::string& kval, const std::string& ival);
};

struct Options {
  std::uint64_t start = 1;
  std::uint64_t seeds = 100;
  bool minimize = true;
  int quiet_ms = 10;
  int timeout_ms = 5000;
  int time_limit_s = 0;   // stop starting seeds after this long (0: no limit)
  unsigned examples = 1;  // minimised examples printed per class (per slice with jobs > 1)
  unsigned jobs = 1;      // slices of the range run side by side (slices.hpp)
  std::string tmpdir = "/tmp";
  bool verbose = false;
  // Fail only when iostack crashes or hangs (sanitizer builds, whose timing
  // is not the kernel's: differences are still printed).
  bool crashes_only = false;
  std::vector<std::string> allowed;  // class prefixes that are documented exceptions
};

struct Outcome {
  enum Kind { kIdentical, kUnstable, kDivergent, kAllowed } kind = kIdentical;
  std::string cls;
  std::vector<std::string> diff;  // "key: kernel=... iostack=..."
};

struct Summary {
  std::uint64_t seeds = 0, identical = 0, unstable = 0, divergent = 0, allowed = 0;
  std::map<std::string, std::uint64_t> by_class;
  std::map<std::string, std::vector<std::uint64_t>> class_seeds;
};

// The value of `key` in a log, "none" if absent.
std::string log_value(const Log& l, const std::string& key);

// Compares two logs: the differing lines, in the order of the kernel's log
// (lines only iostack has come after).
std::vector<std::pair<std::string, std::pair<std::string, std::string>>> log_diff(
    const std::string& kernel, const std::string& iostack);

}  // namespace fuzz
