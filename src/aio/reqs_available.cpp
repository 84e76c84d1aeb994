// The request budget of a context, with per-CPU-like batching.
#include "aio/reqs_available.hpp"

#include <sched.h>
#include <sys/sysinfo.h>

#include <cstdio>

#include "core/mutex.hpp"

namespace iostack::aio {

void ReqsAvailable::init(unsigned ring_nr_events, unsigned possible) {
  core::LockGuard g(lock_);
  ncpus_ = possible == 0 ? 1 : possible;
  global_ = ring_nr_events - 1;
  batch_ = (ring_nr_events - 1) / (ncpus_ * 4);
  if (batch_ < 1) batch_ = 1;
  percpu_ = std::make_unique<unsigned[]>(ncpus_);
  for (unsigned i = 0; i < ncpus_; ++i) percpu_[i] = 0;
}

bool ReqsAvailable::get(unsigned cpu) {
  core::LockGuard g(lock_);
  unsigned& mine = percpu_[cpu];
  if (mine == 0) {
    if (global_ < batch_) return false;
    global_ -= batch_;
    mine += batch_;
  }
  --mine;
  return true;
}

void ReqsAvailable::put(unsigned cpu, unsigned nr) {
  core::LockGuard g(lock_);
  unsigned& mine = percpu_[cpu];
  mine += nr;
  while (mine >= batch_ * 2) {
    mine -= batch_;
    global_ += batch_;
  }
}

unsigned current_cpu(unsigned ncpus) {
  const int c = ::sched_getcpu();
  if (c < 0) return 0;
  return static_cast<unsigned>(c) % ncpus;
}

unsigned possible_cpus() {
  static const unsigned n = [] {
    unsigned count = 0;
    if (FILE* f = std::fopen("/sys/devices/system/cpu/possible", "re")) {
      unsigned a = 0, b = 0;
      int c;
      // A list like "0-3,8-11" or "0".
      while (std::fscanf(f, "%u", &a) == 1) {
        b = a;
        c = std::fgetc(f);
        if (c == '-') {
          if (std::fscanf(f, "%u", &b) != 1) break;
          c = std::fgetc(f);
        }
        count += b - a + 1;
        if (c != ',') break;
      }
      std::fclose(f);
    }
    if (count == 0) count = static_cast<unsigned>(::get_nprocs_conf());
    return count == 0 ? 1u : count;
  }();
  return n;
}

}  // namespace iostack::aio
