// struct aio_kiocb (fs/aio.c): one submitted iocb, from io_submit until its
// io_event is in the ring. Slots come from the context's pool, so nothing is
// allocated per I/O once the pool has grown to the queue depth in use.
#pragma once

#include <linux/aio_abi.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>

#include "aio/aio_abi.hpp"
#include "aio/aio_wq.hpp"
#include "block/bdev_file.hpp"
#include "core/host_uring.hpp"
#include "core/list.hpp"

namespace iostack::aio {

struct Kioctx;
struct AioKiocb;

using KiocbCancelFn = int (*)(AioKiocb*);

enum class PollState : std::uint32_t { kIdle, kArmed, kDone, kCancelling };

struct AioKiocb {
  Kioctx* ctx = nullptr;
  KiocbCancelFn cancel = nullptr;  // ki_cancel: set only while cancellable
  struct io_event res {};          // ki_res
  core::ListHead ki_list;          // on ctx->active_reqs while cancellable
  std::atomic<int> refcnt{0};      // ki_refcnt: submission + completion
  int resfd = -1;                  // eventfd to signal, or -1
  AioKiocb* next_free = nullptr;

  // The operation.
  int fd = -1;
  std::uint16_t opcode = 0;
  std::uint16_t ioprio = 0;
  std::uint32_t rw_flags = 0;
  bool write = false;
  bool stream = false;     // a pipe or socket: the offset is ignored
  bool finishing = false;  // counted in ctx->finishing until its event is posted
  std::int64_t pos = 0;
  struct iovec* iov = nullptr;
  int nr_segs = 0;
  struct iovec inline_vecs[kUioFastIov];
  struct iovec* heap_vecs = nullptr;  // when more than UIO_FASTIOV segments

  // Where the work goes.
  block::BdevFile* bdev = nullptr;
  core::FileRef bdev_ref;   // the kernel's file reference, for `bdev` and fsync of a device
  core::FileRef held_file;  // an OS file held for a worker (fd is its private descriptor)
  block::BdevIo bdev_io;
  AioWork work;
  core::HostUringReq host;  // O_DIRECT file I/O handed to the kernel's io_uring

  // IOCB_CMD_POLL.
  std::atomic<PollState> poll_state{PollState::kIdle};
  int poll_fd = -1;  // private dup registered with the poller
  std::uint32_t poll_events = 0;
};

}  // namespace iostack::aio
