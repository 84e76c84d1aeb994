// IORING_REGISTER_QUERY (io_uring/query.c, 6.18): a chain of headers, each
// answered in place; needs no ring (fd -1) and ignores one given.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kMaxEntries = 1000;  // IO_MAX_QUERY_ENTRIES: a cycle ends here
constexpr std::size_t kMaxSize = sizeof(uapi::QueryOpcode);

// io_query_ops: what this engine implements, as the kernel's masks spell it.
std::size_t query_ops(void* data) {
  uapi::QueryOpcode e{};
  e.nr_request_opcodes = kOpLast;
  e.nr_register_opcodes = uapi::kRegisterLast;
  e.feature_flags = supported_features();
  e.ring_setup_flags = supported_setup_flags();
  e.enter_flags = supported_enter_flags();
  e.sqe_flags = supported_sqe_flags();
  e.nr_query_opcodes = uapi::kQueryMax;
  std::memcpy(data, &e, sizeof(e));
  return sizeof(e);
}

// copy_struct_to_user: `ksize` bytes out, the rest of the program's `usize`
// zeroed first.
int copy_struct_out(char* dst, std::size_t usize, const void* src, std::size_t ksize) {
  static const char kZeros[256] = {};
  for (std::size_t at = ksize; at < usize;) {
    const std::size_t n = std::min(usize - at, sizeof(kZeros));
    if (core::copy_to_user(dst + at, kZeros, n)) return -EFAULT;
    at += n;
  }
  return core::copy_to_user(dst, src, ksize) ? -EFAULT : 0;
}

// io_handle_query_entry: an unknown query and a malformed header are answered
// in `result`; only faults fail the call.
int query_entry(void* data, void* uhdr, std::uint64_t* next) {
  uapi::QueryHdr hdr;
  if (core::copy_from_user(&hdr, uhdr, sizeof(hdr))) return -EFAULT;
  const std::size_t usize = hdr.size;
  const std::size_t size = std::min<std::size_t>(hdr.size, kMaxSize);
  char* udata = reinterpret_cast<char*>(static_cast<std::uintptr_t>(hdr.query_data));
  int ret = -EINVAL;
  std::size_t res_size = 0;
  const bool resv = hdr.resv[0] || hdr.resv[1] || hdr.resv[2];
  if (hdr.query_op >= uapi::kQueryMax) {
    ret = -EOPNOTSUPP;
  } else if (!resv && !hdr.result && size) {
    if (core::copy_from_user(data, udata, size)) return -EFAULT;
    res_size = query_ops(data);
    ret = 0;
  }
  hdr.result = ret;
  hdr.size = static_cast<std::uint32_t>(std::min(usize, res_size));
  if (copy_struct_out(udata, usize, data, hdr.size)) return -EFAULT;
  if (core::copy_to_user(uhdr, &hdr, sizeof(hdr))) return -EFAULT;
  *next = hdr.next_entry;
  return 0;
}

}  // namespace

int register_query(void* arg, unsigned nr_args) {
  if (nr_args) return -EINVAL;
  alignas(8) char entry[kMaxSize] = {};
  unsigned nr = 0;
  for (void* uhdr = arg; uhdr;) {
    std::uint64_t next = 0;
    if (const int ret = query_entry(entry, uhdr, &next)) return ret;
    uhdr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(next));
    if (++nr >= kMaxEntries) return -ERANGE;
  }
  return 0;
}

}  // namespace iostack::uring
