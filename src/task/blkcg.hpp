// struct blkcg (block/blk-cgroup.h) with bfq's part of it (struct
// bfq_group_data, block/bfq-cgroup.c): a cgroup of the io controller as a
// model, without cgroupfs. Tasks belong to one (cgroup.procs); bios carry
// their submitter's (bio->bi_blkg); bfq schedules a group per cgroup.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.hpp"

namespace iostack::task {

struct Task;

// BFQ_MIN_WEIGHT, BFQ_MAX_WEIGHT, CGROUP_WEIGHT_DFL.
constexpr unsigned kBfqCgWeightMin = 1;
constexpr unsigned kBfqCgWeightMax = 1000;
constexpr unsigned kBfqCgWeightDefault = 100;

// struct blkcg. The root cgroup is nullptr; the others live as long as the
// process (a removed cgroup's groups would have to be re-parented, which
// nothing here needs), so a bio or a scheduler may keep a pointer.
struct Blkcg {
  std::string path;      // "a/b", below the root
  Blkcg* parent;         // nullptr: a child of the root
  std::uint64_t serial;  // css.serial_nr: never reused
  // io.bfq.weight: the default weight, and per-device ones ("MAJ:MIN W").
  std::atomic<unsigned> bfq_weight{kBfqCgWeightDefault};
  // Bumped after each write of io.bfq.weight, so that a scheduler notices.
  std::atomic<std::uint64_t> bfq_weight_gen{0};
  mutable core::Mutex lock;
  struct DevWeight {
    unsigned major, minor, weight;
  };
  std::vector<DevWeight> dev_weights GUARDED_BY(lock);
};

// The cgroup at `path` ("a/b"; "" or "/" is the root: *out = nullptr),
// created with its parents if missing (mkdir -p). -EINVAL for an empty
// component or "." / "..".
int blkcg_lookup_create(std::string_view path, Blkcg** out);

// Writes io.bfq.weight as bfq_io_set_weight parses it: "W" or "default W"
// sets the default weight, "MAJ:MIN W" a device's, "MAJ:MIN default"
// removes it. -ERANGE for a weight outside 1..1000 (or 0 for a device),
// -EINVAL for anything else. The root has no such file (-EINVAL).
int blkcg_write_bfq_weight(Blkcg* cg, std::string_view text);
// Reads it back: "default W\n" then a line "MAJ:MIN W" per device.
std::string blkcg_show_bfq_weight(const Blkcg* cg);
// The weight bfq gives the cgroup's group on device major:minor.
unsigned blkcg_bfq_weight(const Blkcg* cg, unsigned major, unsigned minor);

// Writing a pid to cgroup.procs: the task's I/O from now on is the cgroup's
// (nullptr: the root's). A child made by task_clone starts in its parent's.
void blkcg_attach(Task* t, Blkcg* cg);
// The cgroup of the calling thread's task (nullptr: the root).
Blkcg* current_blkcg();

}  // namespace iostack::task
