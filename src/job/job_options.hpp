// One job's settings after parsing: fio's options with fio's defaults
// (HOWTO "Job parameters"), plus the device options iostack adds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "job/rand_dist.hpp"
#include "job/replay_log.hpp"
#include "job/types.hpp"

namespace iostack::job {

struct BsSplitEntry {
  std::uint32_t bs = 0;
  std::uint32_t perc = 0;  // weight in percent; all entries sum to 100
};

// One cmdprio_bssplit entry (fio's struct split_prio): I/Os of this size
// get a priority this percent of the time; ioprio -1 means the one
// cmdprio_class/cmdprio give, else the entry's own class/level.
struct CmdprioSplitEntry {
  std::uint32_t bs = 0;
  std::uint32_t perc = 0;
  int ioprio = -1;
};

// One zoned / zoned_abs entry: access_perc of the I/O goes to size_perc
// percent (or `size` bytes) of the range, zones in the order given.
struct ZoneSplit {
  unsigned access_perc = 0;
  unsigned size_perc = 0;
  std::uint64_t size = 0;
};

// verify= methods; kPatternHdr is fio's VERIFY_PATTERN (verify_pattern
// without verify=: a header, then the pattern), kPattern its
// VERIFY_PATTERN_NO_HDR (verify=pattern), kMeta its VERIFY_HDR_ONLY.
enum class VerifyType { kNone, kCrc32c, kMd5, kPattern, kPatternHdr, kMeta };

enum class RandGen { kTausworthe, kLfsr, kTausworthe64 };

// A device queue attribute to store (/sys/block/<dev>/queue/<attr>), in the
// order given, with the place it was given for error messages.
struct QueueSetting {
  std::string attr;  // "scheduler", "nr_requests", "iosched/read_expire", ...
  std::string value;
  std::string option;  // the option as written, for messages
  SrcLoc loc;
};

struct JobOptions {
  std::string name;
  std::string description;

  // rw=: which directions and whether offsets are random.
  std::string rw = "read";
  bool dir_read = true, dir_write = false, random = false;
  bool dir_trim = false;  // trim, randtrim, trimwrite, randtrimwrite
  unsigned rwmixread = 50;
  // rw=<mode>:<n>: a random job takes a new random offset every n I/Os
  // (fio's ddir_seq_nr); a sequential one skips n bytes after each I/O
  // (ddir_seq_add, negative goes backwards). rw_sequencer says what the
  // I/Os in between do: 0 sequential, 1 identical (the same offset again).
  unsigned seq_nr = 1;
  std::int64_t seq_add = 0;
  int rw_seq = 0;
  unsigned perc_rand[kRwDirs] = {100, 100, 100};  // percentage_random
  RandDist random_distribution = RandDist::kRandom;
  double dist_param = 0;    // zipf theta, pareto h, normal deviation (%)
  double dist_center = -1;  // :center, -1 when not given
  std::vector<ZoneSplit> zone_split[kRwDirs];
  RandGen random_generator = RandGen::kTausworthe;

  // Block sizes per direction (read, write, trim). bs=min=max unless a
  // range or split is given.
  std::uint32_t min_bs[kRwDirs] = {4096, 4096, 4096};
  std::uint32_t max_bs[kRwDirs] = {4096, 4096, 4096};
  std::vector<BsSplitEntry> bssplit[kRwDirs];
  std::uint32_t ba[kRwDirs] = {0, 0, 0};  // blockalign (0: the minimum block size)

  std::uint64_t size = 0;  // bytes per job; 0 means the whole device
  std::string size_str;    // as written, for messages
  double size_percent = 0;
  std::uint64_t offset = 0;
  double offset_percent = 0;
  std::uint64_t io_size = 0;  // io_size/io_limit: bytes to transfer (0: size)
  std::uint64_t number_ios = 0;
  unsigned loops = 1;
  // offset_increment: clone n starts n increments further (percent of the
  // device when given as N%).
  std::uint64_t offset_increment = 0;
  double offset_increment_percent = 0;
  bool fill_device = false;  // fill_device / fill_fs: the rest of the device
  // zonemode=strided: zonesize bytes in each zonerange, then zoneskip.
  bool zone_strided = false;
  std::uint64_t zone_size = 0, zone_range = 0, zone_skip = 0;

  std::string filename;
  std::string ioengine = "psync";  // fio's default on Linux
  unsigned iodepth = 1;
  bool iodepth_set = false;    // given: a blktrace replay does not probe its own
  unsigned iodepth_batch = 1;  // iodepth_batch_submit (0 = iodepth)
  unsigned iodepth_batch_complete_min = 1;
  unsigned iodepth_low = 0;  // 0: same as iodepth
  unsigned numjobs = 1;

  std::uint64_t runtime_ns = 0;
  bool time_based = false;
  std::uint64_t ramp_time_ns = 0;
  std::uint64_t startdelay_ns = 0;

  bool direct = false;
  unsigned fsync_blocks = 0;
  unsigned fdatasync_blocks = 0;
  bool end_fsync = false;
  int prio = -1;       // unset
  int prioclass = -1;  // unset
  // cgroup=: the io cgroup the job runs in ("": stays where it is);
  // cgroup_weight=: its io.bfq.weight (0: left as it is).
  std::string cgroup;
  unsigned cgroup_weight = 0;
  bool cgroup_nodelete = false;
  std::uint64_t rate_iops[kRwDirs] = {0, 0, 0};
  std::uint64_t rate_bps[kRwDirs] = {0, 0, 0};  // rate=: bytes per second
  // thinktime: after thinktime_blocks I/Os (completed, or issued), wait for
  // what is in flight, spin thinktime_spin, then sleep the rest.
  std::uint64_t thinktime_ns = 0;
  std::uint64_t thinktime_spin_ns = 0;
  unsigned thinktime_blocks = 1;
  bool thinktime_blocks_issue = false;
  // clock=virtual: the whole run on a virtual clock (virtual_time.hpp).
  bool virtual_clock = false;
  // fio's clocksource= for real-time timestamps (now.hpp): "cpu",
  // "clock_gettime" or "gettimeofday"; empty: cpu where the TSC is invariant.
  std::string clocksource;
  std::uint64_t randseed = 0x89;  // fio's default; randrepeat=1 repeats runs
  bool randseed_set = false;
  bool randrepeat = true;
  bool norandommap = false;

  VerifyType verify = VerifyType::kNone;
  std::string verify_name;
  std::vector<std::uint8_t> verify_pattern;
  bool do_verify = true;
  bool verify_fatal = false;
  bool verify_only = false;           // check what the job would have written
  std::uint32_t verify_interval = 0;  // a header every this many bytes (0: each block)

  // io_uring engine options (engines/io_uring.c).
  bool fixedbufs = false;      // IORING_REGISTER_BUFFERS, READ_FIXED/WRITE_FIXED
  bool registerfiles = false;  // IORING_REGISTER_FILES, IOSQE_FIXED_FILE
  bool sqthread_poll = false;  // IORING_SETUP_SQPOLL (implies registerfiles)
  int sqthread_poll_cpu = -1;  // IORING_SETUP_SQ_AFF when >= 0
  bool hipri = false;          // accepted; iostack has no polled completion
  // libaio engine option (engines/libaio.c).
  bool userspace_reap = false;
  // cmdprio (engines/cmdprio.c), for io_uring and libaio; [0] reads, [1] writes.
  unsigned cmdprio_percentage[2] = {0, 0};
  unsigned cmdprio_class[2] = {0, 0};  // 0: unset, the highest class (RT)
  unsigned cmdprio_level[2] = {0, 0};  // cmdprio=
  std::vector<CmdprioSplitEntry> cmdprio_bssplit[2];
  bool has_cmdprio_bssplit = false;
  // Engine options as given, to check them against ioengine once all are read.
  std::vector<std::pair<std::string, SrcLoc>> engine_options;

  // Replay (fio's read_iolog and replay_* options). `replay` holds the I/O
  // to replay once read_iolog is loaded, or as iostack replay sets it.
  std::string read_iolog;
  bool replay_no_stall = false;
  unsigned replay_time_scale = 100;  // percent of the trace's rate
  std::string replay_redirect;       // the device every logged I/O goes to
  std::uint64_t replay_align = 0;
  std::uint64_t replay_scale = 0;
  unsigned replay_skip = 0;  // 1 << ddir
  std::shared_ptr<const std::vector<ReplayIo>> replay;
  // write_iolog: the job's I/O as fio's iolog (appended, as fio does).
  std::string write_iolog;
  SrcLoc write_iolog_loc;

  // fio's log files (write_*_log=prefix; an empty prefix is the job name).
  bool write_lat_log = false, write_bw_log = false, write_iops_log = false;
  bool write_hist_log = false;
  std::string lat_log_file, bw_log_file, iops_log_file, hist_log_file;
  unsigned log_avg_msec = 0;  // 0: every I/O
  unsigned log_hist_msec = 0, log_hist_coarseness = 0;
  bool log_offset = false, log_prio = false, log_max_value = false;
  bool per_job_logs = true;

  bool group_reporting = false;
  bool stonewall = false;
  bool new_group = false;

  // Devices: options folded into the device spec when it is created, and
  // queue attributes stored before the job starts.
  unsigned queue_depth = 0;  // 0: the driver's default
  std::vector<QueueSetting> queue_settings;

  // Every option as written, in order, for the JSON "job options" object.
  std::vector<std::pair<std::string, std::string>> given;
  // Where filename= came from (for device errors) and size= (for the size check).
  SrcLoc filename_loc, size_loc, offset_loc, engine_loc, bs_loc, read_iolog_loc, clock_loc,
      clocksource_loc;
};

}  // namespace iostack::job
