// RLIMIT_FSIZE checks for writes to OS files made by iostack's threads.
#include "core/write_limit.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace iostack::core {

int write_limit_check(int fd, off_t pos, std::size_t* count) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;  // the limit is for regular files
  if (pos < 0) {
    // O_APPEND writes at the end; otherwise at the file position.
    const int fl = fcntl(fd, F_GETFL);
    pos = (fl >= 0 && (fl & O_APPEND)) ? st.st_size : lseek(fd, 0, SEEK_CUR);
    if (pos < 0) return 0;
  }
  const auto limit = static_cast<unsigned long long>(rl.rlim_cur);
  const auto at = static_cast<unsigned long long>(pos);
  if (at >= limit) return *count ? -EFBIG : 0;
  if (*count > limit - at) *count = static_cast<std::size_t>(limit - at);
  return 0;
}

int size_limit_check(int fd, off_t new_size) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || new_size <= st.st_size) return 0;
  return static_cast<unsigned long long>(new_size) > rl.rlim_cur ? -EFBIG : 0;
}

}  // namespace iostack::core
