// Finding a trace's files, telling its format, and merging several traces.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "job/trace_io.hpp"
#include "trace/blktrace_api.hpp"

namespace iostack::job {
namespace {

bool exists(const std::string& p, bool* is_dir = nullptr) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return false;
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  return true;
}

bool read_text(const std::string& path, std::string* text, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *err = path + ": read error";
    return false;
  }
  return true;
}

// NAME.blktrace.0, .1, ... up to the first missing one (blkparse's rule).
std::vector<std::string> cpu_files(const std::string& base) {
  std::vector<std::string> v;
  for (int cpu = 0;; ++cpu) {
    std::string p = base + ".blktrace." + std::to_string(cpu);
    if (!exists(p)) break;
    v.push_back(std::move(p));
  }
  return v;
}

// A text trace into *out; a blktrace file only joins *blk_files, since the
// files of one capture share a clock and are merged as one set.
bool read_one(const std::string& path, Trace* out, std::vector<std::string>* blk_files,
              bool* is_blk, std::string* err) {
  std::string text;
  if (!read_text(path, &text, err)) return false;
  TraceFormat f;
  if (!detect_trace_format(path, text.substr(0, 256), &f, err)) return false;
  *is_blk = f == TraceFormat::kBlktrace;
  switch (f) {
    case TraceFormat::kBlktrace:
      blk_files->push_back(path);
      return true;
    case TraceFormat::kIologV2:
    case TraceFormat::kIologV3:
      return parse_iolog(text, path, out, err);
    case TraceFormat::kMsrCsv:
      return parse_msr_csv(text, path, out, err);
  }
  return false;
}

bool read_dir(const std::string& dir, std::vector<std::string>* blk_files, std::string* err) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    *err = dir + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::map<std::string, bool> bases;  // capture base names, sorted
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    const auto p = n.rfind(".blktrace.");
    if (p != std::string::npos && p > 0) bases[dir + "/" + n.substr(0, p)] = true;
  }
  ::closedir(d);
  if (bases.empty()) {
    *err = dir + ": no blktrace files (NAME.blktrace.CPU) in this directory";
    return false;
  }
  for (const auto& [base, _] : bases) {
    const auto files = cpu_files(base);
    if (files.empty()) {
      *err = base + ".blktrace.0: missing (blkparse reads cpu files from 0 up)";
      return false;
    }
    blk_files->insert(blk_files->end(), files.begin(), files.end());
  }
  return true;
}

}  // namespace

std::uint32_t Trace::proc_index(std::int64_t pid, const std::string& comm) {
  for (std::size_t i = 0; i < procs.size(); ++i)
    if (procs[i].pid == pid && (pid >= 0 || procs[i].comm == comm))
      return static_cast<std::uint32_t>(i);
  procs.push_back({pid, comm});
  return static_cast<std::uint32_t>(procs.size() - 1);
}

const char* trace_format_name(TraceFormat f) {
  switch (f) {
    case TraceFormat::kBlktrace:
      return "blktrace";
    case TraceFormat::kIologV2:
      return "fio iolog v2";
    case TraceFormat::kIologV3:
      return "fio iolog v3";
    case TraceFormat::kMsrCsv:
      return "MSR Cambridge CSV";
  }
  return "?";
}

bool detect_trace_format(const std::string& name, const std::string& head, TraceFormat* f,
                         std::string* err) {
  if (head.size() >= 4) {
    std::uint32_t m;
    std::memcpy(&m, head.data(), sizeof(m));
    const auto is_magic = [](std::uint32_t v) {
      return (v & 0xffffff00u) == trace::kBlkIoTraceMagic;
    };
    if (is_magic(m) || is_magic(__builtin_bswap32(m))) {
      *f = TraceFormat::kBlktrace;
      return true;
    }
  }
  if (head.rfind("fio version", 0) == 0) {
    // parse_iolog says which versions it takes.
    *f = head.rfind("fio version 2 iolog", 0) == 0 ? TraceFormat::kIologV2 : TraceFormat::kIologV3;
    return true;
  }
  const std::string first = head.substr(0, head.find('\n'));
  if (std::count(first.begin(), first.end(), ',') == 6) {
    *f = TraceFormat::kMsrCsv;
    return true;
  }
  *err = name +
         ": not a trace iostack reads (blktrace binary, fio iolog version 2/3, or MSR "
         "Cambridge CSV)";
  return false;
}

bool read_traces(const std::vector<std::string>& paths, Trace* out, std::string* err) {
  if (paths.empty()) {
    *err = "no trace given";
    return false;
  }
  // blktrace files all go into one set: one capture's cpu files (or
  // devices) share its clock, so their times are compared as recorded.
  std::vector<Trace> traces;
  std::vector<std::string> blk_files;
  for (const std::string& p : paths) {
    bool dir = false;
    if (exists(p, &dir)) {
      if (dir) {
        if (!read_dir(p, &blk_files, err)) return false;
        continue;
      }
      Trace t;
      bool is_blk = false;
      if (!read_one(p, &t, &blk_files, &is_blk, err)) return false;
      if (!is_blk) traces.push_back(std::move(t));
      continue;
    }
    const auto files = cpu_files(p);
    if (files.empty()) {
      *err = p + ": no such file (nor " + p + ".blktrace.0)";
      return false;
    }
    blk_files.insert(blk_files.end(), files.begin(), files.end());
  }
  if (!blk_files.empty()) {
    Trace t;
    if (!read_blktrace_set(blk_files, &t, err)) return false;
    traces.push_back(std::move(t));
  }
  if (traces.size() == 1) {
    *out = std::move(traces.front());
  } else {
    // Each trace's times start at its own first I/O; merge them by time.
    Trace m;
    m.blktrace = true;
    for (const Trace& t : traces) {
      m.blktrace = m.blktrace && t.blktrace;
      m.probed_depth = std::max(m.probed_depth, t.probed_depth);
      for (TraceIo io : t.ios) {
        const TraceProc& pr = t.procs[io.proc];
        io.proc = m.proc_index(pr.pid, pr.comm);
        m.ios.push_back(io);
      }
    }
    std::stable_sort(m.ios.begin(), m.ios.end(),
                     [](const TraceIo& a, const TraceIo& b) { return a.time_ns < b.time_ns; });
    *out = std::move(m);
  }
  if (out->ios.empty()) {
    *err = paths.front() + ": no I/O in the trace";
    return false;
  }
  return true;
}

}  // namespace iostack::job
