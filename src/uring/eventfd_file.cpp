// An eventfd as a file that requests read and write (fs/eventfd.c): how
// iostack tells one, and its blocking write on an io-wq worker.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "core/eventfd_info.hpp"
#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/io_wq.hpp"

namespace iostack::uring {

namespace {

// How often a write waiting for room looks at the counter again: a read,
// which makes the room, wakes nothing a poll could see.
constexpr int kRoomPollMs = 1;

}  // namespace

bool is_blocking_eventfd(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && !(fl & O_NONBLOCK) && core::is_eventfd(fd);
}

ssize_t eventfd_write_on_worker(int fd, const struct iovec* iov, int nr) {
  std::size_t total = 0;
  for (int i = 0; i < nr; ++i) total += iov[i].iov_len;
  ssize_t done = 0;
  int err = 0;
  // Nothing to write: loop_rw_iter never calls ->write.
  for (int i = 0; i < nr && total && !err; ++i) {
    // Stepping past a segment skips the empty ones behind it; the first
    // one is written as it is.
    if (iov[i].iov_len == 0 && i > 0) continue;
    std::uint64_t v;
    // eventfd_write takes exactly the 8 bytes of a value.
    if (iov[i].iov_len != sizeof(v)) {
      err = EINVAL;
      break;
    }
    if (core::copy_from_user(&v, iov[i].iov_base, sizeof(v))) {
      err = EFAULT;
      break;
    }
    if (v == UINT64_MAX) {
      err = EINVAL;
      break;
    }
    // eventfd_write sleeps until the counter has room for v.
    for (;;) {
      unsigned long long count;
      if (!core::eventfd_fdinfo(fd, "eventfd-count: %llx", &count) || UINT64_MAX - count > v) break;
      if (IoWq::wait_ready(-1, 0, kRoomPollMs) == -kErestartsys) {
        err = EINTR;
        break;
      }
    }
    if (err) break;
    const ssize_t n = write(fd, &v, sizeof(v));
    if (n < 0) {
      err = errno;
      break;
    }
    done += n;
  }
  if (done > 0 || !err) return done;
  errno = err;
  return -1;
}

}  // namespace iostack::uring
