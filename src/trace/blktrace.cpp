// The blktrace writer: per-CPU files and records.
#include "trace/blktrace.hpp"

#include <endian.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/process.hpp"
#include "trace/task_comm.hpp"

namespace iostack::trace {
namespace {

// Per-cpu buffer size; a record is at most 48 + 65535 bytes, larger ones
// bypass the buffer.
constexpr std::size_t kCpuBufBytes = 64 * 1024;

std::string errno_text(const std::string& what, const std::string& path, int e) {
  return what + " " + path + ": " + std::strerror(e);
}

bool write_all(int fd, const char* p, std::size_t n, int* e) {
  while (n > 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      *e = errno;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

std::unique_ptr<BlkTrace> BlkTrace::open(const std::string& dir, const std::string& devname,
                                         std::uint32_t dev, core::Nanos start_time,
                                         std::string* err, bool simulated) {
  auto fail = [&](std::string msg) -> std::unique_ptr<BlkTrace> {
    if (err != nullptr) *err = std::move(msg);
    return nullptr;
  };
  if (devname.empty()) return fail("blktrace: empty device name");
  const std::string d = dir.empty() ? "." : dir;
  struct stat st {};
  if (::stat(d.c_str(), &st) != 0) return fail(errno_text("blktrace: cannot use", d, errno));
  if (!S_ISDIR(st.st_mode)) return fail("blktrace: " + d + " is not a directory");

  std::string name = devname;
  std::replace(name.begin(), name.end(), '/', '_');
  const long conf = ::sysconf(_SC_NPROCESSORS_CONF);
  const int ncpus = simulated ? 1 : conf > 0 ? static_cast<int>(conf) : 1;

  std::unique_ptr<BlkTrace> bt(new BlkTrace(d + "/" + name + ".blktrace.", dev, start_time, ncpus));
  // Create every cpu's file up front: blkparse scans cpu 0, 1, ... and stops
  // at the first missing file, and truncating drops a previous run's data.
  for (auto& b : bt->cpus_) {
    b->fd = ::open(b->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (b->fd < 0) return fail(errno_text("blktrace: cannot create", b->path, errno));
  }
  // Stale files of a run on a machine with more cpus would be read too.
  for (int cpu = ncpus;; ++cpu) {
    if (::unlink((bt->prefix_ + std::to_string(cpu)).c_str()) != 0) break;
  }
  timespec ts{};
  if (!simulated) ::clock_gettime(CLOCK_REALTIME, &ts);
  bt->wall_sec_ = static_cast<std::uint32_t>(ts.tv_sec);
  bt->wall_nsec_ = static_cast<std::uint32_t>(ts.tv_nsec);
  return bt;
}

BlkTrace::BlkTrace(std::string prefix, std::uint32_t dev, core::Nanos start_time, int ncpus)
    : prefix_(std::move(prefix)), dev_(dev), start_time_(start_time) {
  cpus_.reserve(static_cast<std::size_t>(ncpus));
  for (int i = 0; i < ncpus; ++i) {
    auto b = std::make_unique<CpuBuf>();
    b->cpu = static_cast<std::uint32_t>(i);
    b->path = prefix_ + std::to_string(i);
    cpus_.push_back(std::move(b));
  }
}

BlkTrace::~BlkTrace() {
  flush();
  int last_used = 0;  // cpu 0's file always stays, so an empty trace still parses
  for (auto& b : cpus_) {
    if (b->started) last_used = static_cast<int>(b->cpu);
  }
  for (auto& b : cpus_) {
    if (b->fd >= 0) ::close(b->fd);
    if (static_cast<int>(b->cpu) > last_used) ::unlink(b->path.c_str());
  }
}

BlkTrace::CpuBuf& BlkTrace::this_cpu() {
  const int cpu = ::sched_getcpu();
  const std::size_t n = cpus_.size();
  return *cpus_[cpu < 0 ? 0 : static_cast<std::size_t>(cpu) % n];
}

void BlkTrace::add(core::Nanos now, std::uint64_t sector, std::uint32_t bytes, std::uint32_t cats,
                   std::uint32_t action, std::uint16_t error, const void* pdu,
                   std::uint16_t pdu_len, std::int32_t pid) {
  const std::int32_t who = pid < 0 ? thread_trace_pid() : pid;
  const std::uint64_t time = now > start_time_ ? now - start_time_ : 0;
  CpuBuf& b = this_cpu();
  core::LockGuard lock(b.mu);
  if (!b.started) {
    b.started = true;
    b.buf.resize(kCpuBufBytes);
    // Like trace_note_time(): the wall clock matching relative time 0.
    const std::uint32_t words[2] = {wall_sec_, wall_nsec_};
    note(b, 0, 0, kBlkTnTimestamp, words, sizeof(words));
  }
  // Like trace_note_tsk(), but once per pid per cpu file: blkparse reads each
  // file's notes as it reaches them, so a name must precede its events there.
  auto it = std::lower_bound(b.pids.begin(), b.pids.end(), who);
  if (it == b.pids.end() || *it != who) {
    b.pids.insert(it, who);
    const Comm comm = task_comm(who);
    note(b, time, static_cast<std::uint32_t>(who), kBlkTnProcess, comm.data(),
         static_cast<std::uint16_t>(comm.size()));
  }
  BlkIoTrace t{};
  t.magic = kBlkIoTraceMagic | kBlkIoTraceVersion;
  t.sequence = ++b.sequence;
  t.time = time;
  t.sector = sector;
  t.bytes = bytes;
  t.action = action | cats;
  t.pid = static_cast<std::uint32_t>(who);
  t.device = dev_;
  t.cpu = b.cpu;
  t.error = error;
  t.pdu_len = pdu == nullptr ? 0 : pdu_len;
  append(b, &t, sizeof(t));
  if (t.pdu_len != 0) append(b, pdu, t.pdu_len);
  ++b.pending;
}

void BlkTrace::note(CpuBuf& b, std::uint64_t time, std::uint32_t pid, std::uint32_t action,
                    const void* data, std::uint16_t len) {
  // Notes take no sequence number: the kernel's trace_note() leaves it unset
  // and blkparse skips notes when checking sequences.
  BlkIoTrace t{};
  t.magic = kBlkIoTraceMagic | kBlkIoTraceVersion;
  t.time = time;
  t.action = action;
  t.pid = pid;
  t.device = dev_;
  t.cpu = b.cpu;
  t.pdu_len = len;
  append(b, &t, sizeof(t));
  append(b, data, len);
  ++b.pending;
}

void BlkTrace::append(CpuBuf& b, const void* data, std::size_t len) {
  if (b.used + len > b.buf.size()) write_out(b);
  if (len > b.buf.size()) {
    int e = 0;
    if (!write_all(b.fd, static_cast<const char*>(data), len, &e)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (b.error.empty()) b.error = errno_text("blktrace: cannot write", b.path, e);
    }
    return;
  }
  std::memcpy(b.buf.data() + b.used, data, len);
  b.used += len;
}

bool BlkTrace::write_out(CpuBuf& b) {
  if (b.used == 0) return b.error.empty();
  int e = 0;
  const bool ok = write_all(b.fd, b.buf.data(), b.used, &e);
  if (!ok) {
    dropped_.fetch_add(b.pending, std::memory_order_relaxed);
    if (b.error.empty()) b.error = errno_text("blktrace: cannot write", b.path, e);
  }
  b.used = 0;
  b.pending = 0;
  return ok && b.error.empty();
}

bool BlkTrace::flush(std::string* err) {
  bool ok = true;
  for (auto& b : cpus_) {
    core::LockGuard lock(b->mu);
    if (!write_out(*b) && ok) {
      ok = false;
      if (err != nullptr) *err = b->error;
    }
  }
  return ok;
}

std::uint32_t BlkTrace::categories(bool write, bool sync, bool rahead, bool meta, bool preflush,
                                   bool fua, bool discard, bool flush_op) {
  std::uint32_t tc = (write || discard) ? kTcWrite : kTcRead;
  if (sync) tc |= kTcSync;
  if (rahead) tc |= kTcAhead;
  if (meta) tc |= kTcMeta;
  if (preflush) tc |= kTcFlush;
  if (fua) tc |= kTcFua;
  if (discard) tc |= kTcDiscard;
  if (flush_op) tc |= kTcFlush;
  return tc_act(tc);
}

void BlkTrace::add_plug(core::Nanos now, std::int32_t pid) {
  add(now, 0, 0, tc_act(kTcRead), kBlkTaPlug, 0, nullptr, 0, pid);
}

void BlkTrace::add_unplug(core::Nanos now, std::uint32_t depth, bool explicit_unplug,
                          std::int32_t pid) {
  const std::uint64_t pdu = htobe64(depth);
  add(now, 0, 0, tc_act(kTcRead), explicit_unplug ? kBlkTaUnplugIo : kBlkTaUnplugTimer, 0, &pdu,
      sizeof(pdu), pid);
}

void BlkTrace::add_split(core::Nanos now, std::uint64_t sector, std::uint32_t bytes,
                         std::uint32_t cats, std::uint64_t new_sector, std::uint16_t error,
                         std::int32_t pid) {
  const std::uint64_t pdu = htobe64(new_sector);
  add(now, sector, bytes, cats, kBlkTaSplit, error, &pdu, sizeof(pdu), pid);
}

void BlkTrace::add_remap(core::Nanos now, std::uint64_t sector, std::uint32_t bytes,
                         std::uint32_t cats, std::uint32_t dev_from, std::uint64_t sector_from,
                         std::int32_t pid) {
  BlkIoTraceRemap r{};
  r.device_from_be = htobe32(dev_from);
  r.device_to_be = htobe32(dev_);
  r.sector_from_be = htobe64(sector_from);
  add(now, sector, bytes, cats, kBlkTaRemap, 0, &r, sizeof(r), pid);
}

}  // namespace iostack::trace
