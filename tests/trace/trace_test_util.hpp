// Helpers shared by the trace tests: temporary directories, cpu pinning and
// a synthetic block-layer event sequence with what blkparse should print for it.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "trace/blktrace.hpp"
#include "trace/blktrace_api.hpp"

namespace iostack::trace::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "iostack-trace-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The cpus this process may run on, in ascending order.
inline std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  }
  return cpus;
}

// Pins the calling thread to `cpu`; false when not allowed.
inline bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// One event of the synthetic sequence and what blkparse prints for it.
struct SynthEvent {
  std::string act;       // blkparse's action column
  std::uint32_t action;  // kBlkTa* (rq_action() for request events)
  std::uint32_t cats;    // tc_act() categories
  std::uint64_t sector;
  std::uint32_t bytes;
  std::uint16_t error;
  std::uint64_t extra;   // U/UT depth, X new sector, A source sector
  core::Nanos rel_time;  // ns after the trace's start_time
  std::string rwbs;      // expected RWBS column
};

// Not major 9, 253 or 254: btt files those under device-mapper ("Q2Cdm").
constexpr std::uint32_t kTestDev = kernel_mkdev(259, 7);
constexpr std::uint32_t kRemapFromDev = kernel_mkdev(8, 1);

inline std::uint32_t cats_of(bool write, bool sync = false, bool rahead = false,
                             bool preflush = false, bool fua = false, bool discard = false,
                             bool flush_op = false) {
  return BlkTrace::categories(write, sync, rahead, false, preflush, fua, discard, flush_op);
}

// Thread A: plugged writes with back and front merges, a preflush+FUA write,
// an empty flush request, a discard and a timer unplug.
inline std::vector<SynthEvent> writer_events(core::Nanos t0) {
  const std::uint32_t ws = cats_of(true, true);
  const std::uint32_t fwfs = cats_of(true, true, false, true, true);
  const std::uint32_t fn = cats_of(false, false, false, false, false, false, true);
  const std::uint32_t d = cats_of(true, false, false, false, false, true);
  std::vector<SynthEvent> v = {
      {"Q", kBlkTaQueue, ws, 100, 4096, 0, 0, 0, "WS"},
      {"G", kBlkTaGetrq, ws, 100, 4096, 0, 0, 0, "WS"},
      {"P", kBlkTaPlug, tc_act(kTcRead), 0, 0, 0, 0, 0, "N"},
      {"Q", kBlkTaQueue, ws, 108, 4096, 0, 0, 0, "WS"},
      {"M", kBlkTaBackmerge, ws, 108, 4096, 0, 0, 0, "WS"},
      {"Q", kBlkTaQueue, ws, 92, 4096, 0, 0, 0, "WS"},
      {"F", kBlkTaFrontmerge, ws, 92, 4096, 0, 0, 0, "WS"},
      {"U", kBlkTaUnplugIo, tc_act(kTcRead), 0, 0, 0, 1, 0, "N"},
      {"I", rq_action(kBlkTaInsert), ws, 92, 12288, 0, 0, 0, "WS"},
      {"D", rq_action(kBlkTaIssue), ws, 92, 12288, 0, 0, 0, "WS"},
      {"C", rq_action(kBlkTaComplete), ws, 92, 12288, 0, 0, 0, "WS"},
      {"Q", kBlkTaQueue, fwfs, 300, 4096, 0, 0, 0, "FWFS"},
      {"G", kBlkTaGetrq, fwfs, 300, 4096, 0, 0, 0, "FWFS"},
      {"I", rq_action(kBlkTaInsert), fwfs, 300, 4096, 0, 0, 0, "FWFS"},
      {"D", rq_action(kBlkTaIssue), fwfs, 300, 4096, 0, 0, 0, "FWFS"},
      {"C", rq_action(kBlkTaComplete), fwfs, 300, 4096, 0, 0, 0, "FWFS"},
      {"D", rq_action(kBlkTaIssue), fn, 0, 0, 0, 0, 0, "FN"},
      {"C", rq_action(kBlkTaComplete), fn, 0, 0, 0, 0, 0, "FN"},
      {"Q", kBlkTaQueue, d, 5000, 1 << 20, 0, 0, 0, "D"},
      {"G", kBlkTaGetrq, d, 5000, 1 << 20, 0, 0, 0, "D"},
      {"I", rq_action(kBlkTaInsert), d, 5000, 1 << 20, 0, 0, 0, "D"},
      {"D", rq_action(kBlkTaIssue), d, 5000, 1 << 20, 0, 0, 0, "D"},
      {"C", rq_action(kBlkTaComplete), d, 5000, 1 << 20, 0, 0, 0, "D"},
      {"UT", kBlkTaUnplugTimer, tc_act(kTcRead), 0, 0, 0, 3, 0, "N"},
  };
  for (std::size_t i = 0; i < v.size(); ++i) v[i].rel_time = t0 + i * 10000;
  return v;
}

// Thread B: a readahead read split in two, one half requeued once, a plain
// read that fails with EIO, and a read remapped from another device.
inline std::vector<SynthEvent> reader_events(core::Nanos t0) {
  const std::uint32_t ra = cats_of(false, false, true);
  const std::uint32_t r = cats_of(false);
  const std::uint16_t eio = static_cast<std::uint16_t>(-5);
  std::vector<SynthEvent> v = {
      {"Q", kBlkTaQueue, ra, 2048, 131072, 0, 0, 0, "RA"},
      {"X", kBlkTaSplit, ra, 2048, 65536, 0, 2176, 0, "RA"},
      {"G", kBlkTaGetrq, ra, 2048, 65536, 0, 0, 0, "RA"},
      {"I", rq_action(kBlkTaInsert), ra, 2048, 65536, 0, 0, 0, "RA"},
      {"D", rq_action(kBlkTaIssue), ra, 2048, 65536, 0, 0, 0, "RA"},
      {"Q", kBlkTaQueue, ra, 2176, 65536, 0, 0, 0, "RA"},
      {"G", kBlkTaGetrq, ra, 2176, 65536, 0, 0, 0, "RA"},
      {"I", rq_action(kBlkTaInsert), ra, 2176, 65536, 0, 0, 0, "RA"},
      {"D", rq_action(kBlkTaIssue), ra, 2176, 65536, 0, 0, 0, "RA"},
      {"R", rq_action(kBlkTaRequeue), ra, 2176, 65536, 0, 0, 0, "RA"},
      {"C", rq_action(kBlkTaComplete), ra, 2048, 65536, 0, 0, 0, "RA"},
      {"D", rq_action(kBlkTaIssue), ra, 2176, 65536, 0, 0, 0, "RA"},
      {"C", rq_action(kBlkTaComplete), ra, 2176, 65536, 0, 0, 0, "RA"},
      {"Q", kBlkTaQueue, r, 4096, 4096, 0, 0, 0, "R"},
      {"G", kBlkTaGetrq, r, 4096, 4096, 0, 0, 0, "R"},
      {"I", rq_action(kBlkTaInsert), r, 4096, 4096, 0, 0, 0, "R"},
      {"D", rq_action(kBlkTaIssue), r, 4096, 4096, 0, 0, 0, "R"},
      {"C", rq_action(kBlkTaComplete), r, 4096, 4096, eio, 0, 0, "R"},
      {"A", kBlkTaRemap, r, 8192, 4096, 0, 6144, 0, "R"},
  };
  for (std::size_t i = 0; i < v.size(); ++i) v[i].rel_time = t0 + i * 10000;
  return v;
}

inline void emit(BlkTrace& bt, core::Nanos start, const SynthEvent& e) {
  const core::Nanos now = start + e.rel_time;
  if (e.act == "P") {
    bt.add_plug(now);
  } else if (e.act == "U" || e.act == "UT") {
    bt.add_unplug(now, static_cast<std::uint32_t>(e.extra), e.act == "U");
  } else if (e.act == "X") {
    bt.add_split(now, e.sector, e.bytes, e.cats, e.extra, e.error);
  } else if (e.act == "A") {
    bt.add_remap(now, e.sector, e.bytes, e.cats, kRemapFromDev, e.extra);
  } else {
    bt.add(now, e.sector, e.bytes, e.cats, e.action, e.error);
  }
}

// What blkparse's default format prints after the RWBS column.
inline std::string blkparse_tail(const SynthEvent& e, const std::string& comm) {
  const std::string s = std::to_string(e.sector);
  const std::string n = std::to_string(e.bytes >> 9);
  const std::string where = e.bytes != 0 ? s + " + " + n : s;
  if (e.act == "C" || e.act == "R") return where + " [" + std::to_string(e.error) + "]";
  if (e.act == "P") return "[" + comm + "]";
  if (e.act == "U" || e.act == "UT") return "[" + comm + "] " + std::to_string(e.extra);
  if (e.act == "X") return s + " / " + std::to_string(e.extra) + " [" + comm + "]";
  if (e.act == "A") {
    return s + " + " + n + " <- (" + std::to_string(kernel_major(kRemapFromDev)) + "," +
           std::to_string(kernel_minor(kRemapFromDev)) + ") " + std::to_string(e.extra);
  }
  if (e.bytes == 0) return "[" + comm + "]";
  return where + " [" + comm + "]";
}

constexpr const char* kWriterComm = "trace-writer";
constexpr const char* kReaderComm = "trace-reader";

struct TwoThreadRun {
  std::vector<SynthEvent> a, b;  // writer and reader events
  std::int32_t tid_a = 0, tid_b = 0;
  int cpu_a = -1, cpu_b = -1;  // where each thread was pinned; -1 if not
};

// Runs the writer and reader sequences concurrently on two named threads,
// pinned to two different cpus when the affinity mask allows it.
inline TwoThreadRun write_two_thread_trace(BlkTrace& bt, core::Nanos start) {
  TwoThreadRun run;
  run.a = writer_events(1000);
  run.b = reader_events(6000);
  const std::vector<int> cpus = allowed_cpus();
  auto body = [&](const char* name, const std::vector<SynthEvent>* events, std::int32_t* tid,
                  int* cpu, std::size_t cpu_index) {
    pthread_setname_np(pthread_self(), name);
    *tid = static_cast<std::int32_t>(gettid());
    if (cpu_index < cpus.size() && pin_to_cpu(cpus[cpu_index])) *cpu = cpus[cpu_index];
    for (const SynthEvent& e : *events) emit(bt, start, e);
  };
  std::thread ta(body, kWriterComm, &run.a, &run.tid_a, &run.cpu_a, 0);
  std::thread tb(body, kReaderComm, &run.b, &run.tid_b, &run.cpu_b, 1);
  ta.join();
  tb.join();
  return run;
}

}  // namespace iostack::trace::testing
