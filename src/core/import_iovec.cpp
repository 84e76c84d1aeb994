// import_ubuf and __import_iovec (lib/iov_iter.c) over core/uaccess.
#include "core/import_iovec.hpp"

#include <cerrno>
#include <cstdint>

#include "core/uaccess.hpp"

namespace iostack::core {

long import_ubuf(void* buf, std::size_t len, struct iovec* iov) {
  if (len > kMaxRwCount) len = kMaxRwCount;
  if (!access_ok(buf, len)) return -EFAULT;
  iov[0].iov_base = buf;
  iov[0].iov_len = len;
  return static_cast<long>(len);
}

int iovec_from_user(const struct iovec* uvec, unsigned nr, struct iovec* iov) {
  if (nr == 0) return 0;
  if (nr > kUioMaxIov) return -EINVAL;
  const std::size_t bytes = sizeof(struct iovec) * nr;
  if (!access_ok(uvec, bytes)) return -EFAULT;
  const std::size_t left = copy_from_user(iov, uvec, bytes);
  // copy_iovec_from_user checks each length as it goes: a negative one
  // before the fault wins over the fault.
  const std::size_t copied = (bytes - left) / sizeof(struct iovec);
  for (std::size_t i = 0; i < copied; ++i)
    if (static_cast<std::int64_t>(iov[i].iov_len) < 0) return -EINVAL;
  return left ? -EFAULT : 0;
}

long import_iovec(const struct iovec* uvec, unsigned nr, struct iovec* iov) {
  if (nr == 0) return 0;
  if (const int err = iovec_from_user(uvec, nr, iov)) return err;
  if (nr == 1) return import_ubuf(iov[0].iov_base, iov[0].iov_len, iov);
  std::size_t total = 0;
  for (unsigned i = 0; i < nr; ++i) {
    if (!access_ok(iov[i].iov_base, iov[i].iov_len)) return -EFAULT;
    if (iov[i].iov_len > kMaxRwCount - total) iov[i].iov_len = kMaxRwCount - total;
    total += iov[i].iov_len;
  }
  return static_cast<long>(total);
}

}  // namespace iostack::core
