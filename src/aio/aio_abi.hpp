// Constants of the Linux AIO ABI that <linux/aio_abi.h> leaves to fs/aio.c;
// struct aio_ring itself is the C API's (iostack/aio_abi.h).
#pragma once

#include <linux/aio_abi.h>

#include "iostack/aio_abi.h"

#include <cstddef>
#include <cstdint>

namespace iostack::aio {

constexpr unsigned kAioRingMagic = IOSTACK_AIO_RING_MAGIC;
constexpr unsigned kAioRingCompatFeatures = IOSTACK_AIO_RING_COMPAT_FEATURES;
constexpr unsigned kAioRingIncompatFeatures = IOSTACK_AIO_RING_INCOMPAT_FEATURES;
constexpr long kAioPlugThreshold = 2;  // AIO_PLUG_THRESHOLD
constexpr unsigned kKiocbKey = 0;      // KIOCB_KEY, written to iocb->aio_key
constexpr unsigned long kDefaultAioMaxNr = 0x10000;
constexpr std::size_t kPageSize = 4096;
constexpr int kUioFastIov = 8;  // UIO_FASTIOV (UIO_MAXIOV, MAX_RW_COUNT: core/import_iovec.hpp)

// RWF_* (include/uapi/linux/fs.h), spelled out because Debian 12's header
// stops at RWF_APPEND.
constexpr std::uint32_t kRwfHipri = 0x01;
constexpr std::uint32_t kRwfDsync = 0x02;
constexpr std::uint32_t kRwfSync = 0x04;
constexpr std::uint32_t kRwfNowait = 0x08;
constexpr std::uint32_t kRwfAppend = 0x10;
constexpr std::uint32_t kRwfNoappend = 0x20;
constexpr std::uint32_t kRwfAtomic = 0x40;
constexpr std::uint32_t kRwfDontcache = 0x80;
constexpr std::uint32_t kRwfNosignal = 0x100;
// RWF_SUPPORTED of the 6.x kernels this mirrors.
constexpr std::uint32_t kRwfSupported = 0x1ff;

// struct aio_ring (fs/aio.c): 32 bytes, then io_events[nr].
using AioRing = iostack_aio_ring;

inline struct io_event* ring_events(AioRing* ring) {
  return reinterpret_cast<struct io_event*>(ring + 1);
}
static_assert(sizeof(AioRing) == 32);
static_assert(sizeof(struct io_event) == 32);
static_assert(sizeof(struct iocb) == 64);

}  // namespace iostack::aio
