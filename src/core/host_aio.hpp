// The kernel's own AIO as the asynchronous back end of O_DIRECT file I/O
// that iostack's io_uring takes on. A container that refuses io_uring
// usually allows AIO (Docker's default seccomp profile does); a request the
// kernel queues to the device then needs no thread of iostack's to wait for
// it, and many are in flight at once as on the kernel's io_uring.
#pragma once

#include <linux/aio_abi.h>

#include <atomic>

namespace iostack::core {

// One request: `cb` filled by the caller (aio_data is set here); done(owner,
// res) runs on the completion thread with the kernel's result (bytes or
// -errno).
struct HostAioReq {
  struct iocb cb;
  void (*done)(void* owner, long res);
  void* owner;
  // Released at submission, acquired before done(): the kernel orders the
  // two threads, this says so to the language (and to ThreadSanitizer).
  std::atomic<bool> handed{false};
};

// Hands `req` to the kernel. true: it was taken and done() will run; false:
// this process cannot use the kernel's AIO, or the kernel refused the
// request at submission (a descriptor without non-blocking support, a full
// queue): nothing happened and the caller does the I/O its own way.
bool host_aio_submit(HostAioReq* req);

// Hands reqs[0..n) to the kernel in one io_submit: the kernel plugs a batch
// of more than two, so the device is told once, as when its io_uring
// submits a batch. Returns how many it took, from the front; the rest did
// not happen and are the caller's again.
unsigned host_aio_submit_batch(HostAioReq* const* reqs, unsigned n);

// Whether host_aio_submit can be tried at all in this process (it may still
// refuse a request).
bool host_aio_usable();

// The most one io_submit of host_aio_submit_batch carries.
constexpr unsigned kHostAioBatchMax = 32;

// Whether host_aio_submit may use the kernel's AIO (yes at first). No where
// it is not the kernel's in this process (iostack serves it to the
// program), in forked children too.
void host_aio_allow(bool allowed);

}  // namespace iostack::core
