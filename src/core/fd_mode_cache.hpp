// What iostack remembers of a program's OS descriptor between requests:
// whether it names a regular file opened with O_DIRECT, or a buffered one on
// a file system that cannot write without blocking. Learning that costs
// a few system calls, too many to pay per request; a stale answer only sends a
// request down the slower of two correct paths (see uring/rw.cpp), so the
// cache is dropped on the descriptor calls iostack sees and never trusted for
// anything but that choice.
#pragma once

namespace iostack::core {

// Whether `fd` names a regular file opened with O_DIRECT, as first learned.
bool fd_is_direct_file(int fd);

// Whether `fd` names a regular file (or could not be looked at), as first
// learned.
bool fd_is_regular_file(int fd);

// Whether `fd` names a regular file of tmpfs or ramfs opened without
// O_DIRECT, as first learned (such files have no RWF_NOWAIT and never wait
// for a device).
bool fd_is_memory_file(int fd);
// The same, answered only from what was learned already (false if nothing was).
bool fd_is_memory_file_cached(int fd);

// Whether `fd` names a regular file opened for writing without O_DIRECT whose file system
// has no non-blocking buffered writes; tmpfs and ramfs, which never wait for
// a device, do not count.
bool fd_buffered_writes_block(int fd);

// Whether the file system of `fd` can do a buffered write without blocking
// (FOP_BUFFER_WASYNC: XFS and btrfs). Not cached.
bool fs_buffered_wasync(int fd);

// Drops what is remembered of `fd` (closed, replaced by dup2, flags changed)
// or of every descriptor in [first, last].
void fd_mode_forget(int fd);
void fd_mode_forget_range(unsigned first, unsigned last);

}  // namespace iostack::core
