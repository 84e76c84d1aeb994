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

// A version 8 record in version 7's layout, its action split in two.
void from_v8(const BlkIoTrace2& v, bool swapped, TraceRecord* r) {
  auto s32 = [&](std::uint32_t x) { return swapped ? __builtin_bswap32(x) : x; };
  auto s64 = [&](std::uint64_t x) { return swapped ? __builtin_bswap64(x) : x; };
  auto s16 = [&](std::uint16_t x) { return swapped ? __builtin_bswap16(x) : x; };
  r->t.magic = s32(v.magic);
  r->t.sequence = s32(v.sequence);
  r->t.time = s64(v.time);
  r->t.sector = s64(v.sector);
  r->t.bytes = s32(v.bytes);
  r->t.pid = s32(v.pid);
  const std::uint64_t action = s64(v.action);
  r->t.action = static_cast<std::uint32_t>(action);
  r->action_hi = static_cast<std::uint32_t>(action >> 32);
  r->t.device = s32(v.device);
  r->t.cpu = s32(v.cpu);
  r->t.error = s16(v.error);
  r->t.pdu_len = s16(v.pdu_len);
  r->version = kBlkIoTrace2Version;
}

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
    if (len - off < sizeof(std::uint32_t)) {
      return fail("truncated header (" + std::to_string(len - off) + " of " +
                  std::to_string(sizeof(BlkIoTrace)) + " bytes)");
    }
    std::uint32_t magic;
    std::memcpy(&magic, base + off, sizeof(magic));
    if (index == 0) swapped = !magic_ok(magic) && magic_ok(__builtin_bswap32(magic));
    if (swapped) magic = __builtin_bswap32(magic);
    if (!magic_ok(magic)) {
      return fail("bad magic " + hex32(magic) + ", expected " +
                  hex32(kBlkIoTraceMagic | kBlkIoTraceVersion) + " or " +
                  hex32(kBlkIoTraceMagic | kBlkIoTrace2Version));
    }
    const std::uint32_t version = magic & 0xff;
    if (version != kBlkIoTraceVersion && version != kBlkIoTrace2Version) {
      return fail("unsupported version " + std::to_string(version) + ", expected " +
                  std::to_string(kBlkIoTraceVersion) + " or " +
                  std::to_string(kBlkIoTrace2Version));
    }
    const std::size_t hdr =
        version == kBlkIoTraceVersion ? sizeof(BlkIoTrace) : sizeof(BlkIoTrace2);
    if (len - off < hdr) {
      return fail("truncated header (" + std::to_string(len - off) + " of " + std::to_string(hdr) +
                  " bytes)");
    }
    TraceRecord r;
    if (version == kBlkIoTraceVersion) {
      std::memcpy(&r.t, base + off, sizeof(r.t));
      if (swapped) swap_record(&r.t);
    } else {
      BlkIoTrace2 v;
      std::memcpy(&v, base + off, sizeof(v));
      from_v8(v, swapped, &r);
    }
    const std::size_t body = off + hdr;
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
