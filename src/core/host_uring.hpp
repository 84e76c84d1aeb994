// The kernel's own io_uring as the asynchronous back end of O_DIRECT file
// I/O that iostack's Linux AIO takes on, where this process may use it (a
// sandbox that refuses AIO but not io_uring): the kernel queues the I/O to
// the device and iostack needs no thread, nor a descriptor of its own, per
// request in flight. The counterpart of host_aio.hpp.
#pragma once

#include <atomic>
#include <cstdint>

namespace iostack::core {

// One read or write (the SQE fields it needs); done(owner, res) runs on the
// completion thread with the CQE's result.
struct HostUringReq {
  std::uint8_t opcode;  // IORING_OP_READV, WRITEV, READ, WRITE
  int fd;
  std::uint64_t addr;
  std::uint32_t len;
  std::uint64_t off;
  std::uint32_t rw_flags;
  std::uint16_t ioprio;
  void (*done)(void* owner, long res);
  void* owner;
  // Released at submission, acquired before done(): the kernel orders the
  // two threads, this says so to the language (and to ThreadSanitizer).
  std::atomic<bool> handed{false};
};

// Hands `req` to the kernel: true when it was submitted and done() will run;
// false when this process cannot use the kernel's io_uring or has too many
// requests in flight on it (the caller then does the I/O its own way).
bool host_uring_submit(HostUringReq* req);

// Hands reqs[0..n) to the kernel with one io_uring_enter. Returns how many
// it took, from the front; the rest did not happen and are the caller's.
unsigned host_uring_submit_batch(HostUringReq* const* reqs, unsigned n);

// Whether host_uring_submit can be tried at all in this process.
bool host_uring_usable();

// The most requests an AIO submission gathers for one batch.
constexpr unsigned kHostUringBatchMax = 32;

// Whether host_uring_submit may use the kernel's io_uring (yes at first).
// No where it is not the kernel's in this process (iostack serves it to the
// program), in forked children too.
void host_uring_allow(bool allowed);

}  // namespace iostack::core
