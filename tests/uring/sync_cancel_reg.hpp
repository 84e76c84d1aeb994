// The argument of IORING_REGISTER_SYNC_CANCEL, filled as liburing fills it
// (no timeout unless one is set afterwards).
#pragma once

#include <cstdint>

#include "uring/uapi.hpp"

namespace uring_test {

inline iostack::uring::uapi::SyncCancelReg sync_cancel_of(std::uint64_t user_data,
                                                          unsigned flags = 0, int fd = -1) {
  iostack::uring::uapi::SyncCancelReg sc{};
  sc.addr = user_data;
  sc.flags = flags;
  sc.fd = fd;
  sc.timeout.tv_sec = -1;
  sc.timeout.tv_nsec = -1;
  return sc;
}

}  // namespace uring_test
