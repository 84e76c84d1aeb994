// An eventfd as a file that requests read and write (fs/eventfd.c): how
// iostack tells one, and its blocking write on an io-wq worker.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"
#include "uring/io_wq.hpp"

namespace iostack::uring {

namespace {

// How often a write waiting for room looks at the counter again: a read,
// which makes the room, wakes nothing a poll could see.
constexpr int kRoomPollMs = 1;

}  // namespace

bool eventfd_fdinfo(int fd, const char* format, unsigned long long* value) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  bool found = false;
  char line[128];
  while (!found && std::fgets(line, sizeof(line), f)) found = std::sscanf(line, format, value) == 1;
  std::fclose(f);
  return found;
}

bool is_eventfd(int fd) {
  char path[64], target[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n < 0) return false;
  target[n] = '\0';
  return std::strcmp(target, "anon_inode:[eventfd]") == 0;
}

bool is_blocking_eventfd(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && !(fl & O_NONBLOCK) && is_eventfd(fd);
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
      if (!eventfd_fdinfo(fd, "eventfd-count: %llx", &count) || UINT64_MAX - count > v) break;
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
