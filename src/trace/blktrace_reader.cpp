// Reading blktrace files back.
#include "trace/blktrace_reader.hpp"

#include <endian.h>
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace iostack::trace {
namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08" PRIx32, v);
  return buf;
}

void swap_record(BlkIoTrace* t) {
  t->magic = __builtin_bswap32(t->magic);
  t->sequence = __builtin_bswap32(t->sequence);
  t->time = __builtin_bswap64(t->time);
  t->sector = __builtin_bswap64(t->sector);
  t->bytes = __builtin_bswap32(t->bytes);
  t->action = __builtin_bswap32(t->action);
  t->pid = __builtin_bswap32(t->pid);
  t->device = __builtin_bswap32(t->device);
  t->cpu = __builtin_bswap32(t->cpu);
  t->error = __builtin_bswap16(t->error);
  t->pdu_len = __builtin_bswap16(t->pdu_len);
}

bool magic_ok(std::uint32_t magic) { return (magic & 0xffffff00u) == kBlkIoTraceMagic; }

}  // namespace

std::uint64_t TraceRecord::pdu_be64() const {
  if (pdu.size() < sizeof(std::uint64_t)) return 0;
  std::uint64_t v;
  std::memcpy(&v, pdu.data(), sizeof(v));
  return be64toh(v);
}

std::string TraceRecord::comm() const {
  const char* p = reinterpret_cast<const char*>(pdu.data());
  return std::string(p, strnlen(p, pdu.size()));
}

bool parse_blktrace(const void* data, std::size_t len, const std::string& name,
                    std::vector<TraceRecord>* out, std::string* err) {
  const auto* base = static_cast<const std::uint8_t*>(data);
  bool swapped = false;
  std::size_t off = 0;
  for (std::size_t index = 0; off < len; ++index) {
    auto fail = [&](const std::string& what) {
      if (err != nullptr) {
        *err = name + ": record " + std::to_string(index) + " at offset " + std::to_string(off) +
               ": " + what;
      }
      return false;
    };
    if (len - off < sizeof(BlkIoTrace)) {
      return fail("truncated header (" + std::to_string(len - off) + " of " +
                  std::to_string(sizeof(BlkIoTrace)) + " bytes)");
    }
    TraceRecord r;
    std::memcpy(&r.t, base + off, sizeof(r.t));
    if (index == 0) swapped = !magic_ok(r.t.magic) && magic_ok(__builtin_bswap32(r.t.magic));
    if (swapped) swap_record(&r.t);
    if (!magic_ok(r.t.magic)) {
      return fail("bad magic " + hex32(r.t.magic) + ", expected " +
                  hex32(kBlkIoTraceMagic | kBlkIoTraceVersion));
    }
    if ((r.t.magic & 0xff) != kBlkIoTraceVersion) {
      return fail("unsupported version " + std::to_string(r.t.magic & 0xff) + ", expected " +
                  std::to_string(kBlkIoTraceVersion));
    }
    const std::size_t body = off + sizeof(BlkIoTrace);
    if (len - body < r.t.pdu_len) {
      return fail("truncated payload (" + std::to_string(r.t.pdu_len) + " bytes announced, " +
                  std::to_string(len - body) + " present)");
    }
    r.pdu.assign(base + body, base + body + r.t.pdu_len);
    off = body + r.t.pdu_len;
    out->push_back(std::move(r));
  }
  return true;
}

bool read_blktrace_file(const std::string& path, std::vector<TraceRecord>* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (err != nullptr) *err = path + ": cannot open";
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (in.bad()) {
    if (err != nullptr) *err = path + ": read error";
    return false;
  }
  return parse_blktrace(bytes.data(), bytes.size(), path, out, err);
}

bool read_blktrace(const std::string& dir, const std::string& devname,
                   std::vector<std::vector<TraceRecord>>* per_cpu, std::string* err) {
  per_cpu->clear();
  const std::string prefix = (dir.empty() ? "." : dir) + "/" + devname + ".blktrace.";
  for (std::uint32_t cpu = 0;; ++cpu) {
    const std::string path = prefix + std::to_string(cpu);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) break;
    std::vector<TraceRecord> records;
    if (!read_blktrace_file(path, &records, err)) return false;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (records[i].t.cpu != cpu) {
        if (err != nullptr) {
          *err = path + ": record " + std::to_string(i) + " says cpu " +
                 std::to_string(records[i].t.cpu) + ", expected " + std::to_string(cpu);
        }
        return false;
      }
    }
    per_cpu->push_back(std::move(records));
  }
  if (per_cpu->empty()) {
    if (err != nullptr) *err = prefix + "0: no such file";
    return false;
  }
  return true;
}

}  // namespace iostack::trace
