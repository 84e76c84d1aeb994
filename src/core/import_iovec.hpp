// Importing a read/write buffer description from user memory (lib/iov_iter.c:
// import_ubuf, __import_iovec, iovec_from_user): the checks io_uring's
// READ/READV prep and io_submit's PREAD/PREADV make, with their errors in
// the kernel's order. The buffers themselves are not touched.
#pragma once

#include <sys/uio.h>

#include <cstddef>

namespace iostack::core {

constexpr std::size_t kMaxRwCount = 0x7ffff000;  // MAX_RW_COUNT: INT_MAX & PAGE_MASK
constexpr unsigned kUioMaxIov = 1024;            // UIO_MAXIOV

// import_ubuf(): one buffer of `len` bytes (clamped to MAX_RW_COUNT) into
// iov[0]. Returns the length, or -EFAULT when it does not lie in user space.
long import_ubuf(void* buf, std::size_t len, struct iovec* iov);

// __import_iovec(): copies `nr` iovecs from `uvec` into `iov` (room for `nr`
// entries, the caller's), then checks each. Returns the total length, with
// segments clamped so it stays within MAX_RW_COUNT, or:
//   -EINVAL  nr > UIO_MAXIOV, or a length negative as ssize_t (found while
//            copying, so only before a fault in the array);
//   -EFAULT  the array cannot be read, or a segment leaves user space.
// One segment is imported as import_ubuf() does.
long import_iovec(const struct iovec* uvec, unsigned nr, struct iovec* iov);

// iovec_from_user(): only the copy of the array, with the length checks made
// while copying (-EINVAL above UIO_MAXIOV or for a negative length, -EFAULT);
// the segments' addresses are not looked at. 0 on success.
int iovec_from_user(const struct iovec* uvec, unsigned nr, struct iovec* iov);

}  // namespace iostack::core
