// generic_write_check_limits (mm/filemap.c) for writes iostack makes on a
// program's behalf: past RLIMIT_FSIZE the kernel's io_uring fails the
// request with -EFBIG (or writes short up to the limit) and raises no
// SIGXFSZ, which a plain write(2) by iostack would send to the whole process.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace iostack::core {

// For a write of *count bytes at `pos` (-1: the file position) to `fd`:
// 0 with *count cut to what the limit allows, or -EFBIG when nothing may
// be written. Costs one getrlimit while the limit is infinite.
int write_limit_check(int fd, off_t pos, std::size_t* count);

// inode_newsize_ok's limit check for a file growing to `new_size`
// (fallocate, truncate): 0 or -EFBIG.
int size_limit_check(int fd, off_t new_size);

}  // namespace iostack::core
