// How the kernel runs O_DIRECT reads and writes of an OS file: whether it
// queues bios and returns (so a worker must wait for them) and what
// alignment of buffers, offsets and lengths it demands (statx
// STATX_DIOALIGN). File systems that report no alignment get the file
// system type asked: tmpfs serves O_DIRECT from the page cache, inside
// io_submit.
#pragma once

#include <cstdint>

#include "aio/kiocb.hpp"

namespace iostack::aio {

struct DioInfo {
  bool async = false;              // bios are queued: io_submit returns first
  std::uint32_t mem_align = 1;     // stx_dio_mem_align: buffer addresses
  std::uint32_t offset_align = 1;  // stx_dio_offset_align: offsets and lengths
};

// The answer remembered for descriptor `fd` open with `flags` on this
// thread, or null. Answers are kept per descriptor number, so one can
// outlive the file (closed, the number reused): trust it only to send a
// request to a worker, where the kernel still produces the right result,
// and query afresh before completing anything inline on its word. Each
// answer serves a bounded number of requests before it is asked again.
const DioInfo* dio_info_cached(int fd, int flags);

// Asks the kernel (statx, maybe fstatfs) and remembers the answer. 0, or
// -errno.
int dio_info_query(int fd, int flags, DioInfo* out);

// A request sent to a worker on a remembered answer failed with -EINVAL:
// the descriptor may name another file now; forget all answers.
void dio_info_stale();

// Whether the request's buffers, offset and lengths meet `info`.
bool dio_aligned(const DioInfo& info, const AioKiocb* req);

}  // namespace iostack::aio
