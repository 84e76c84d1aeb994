// Descriptors iostack holds for itself (the poll service's epoll instance,
// the dups armed polls watch, a registered eventfd). The kernel's io_uring
// holds files, not descriptors: taken from the bottom of the table, ours
// would take the number a program's next open() or dup() expects after it
// closed one. They are placed high in the table instead.
#pragma once

namespace iostack::core {

// fcntl(fd, F_DUPFD_CLOEXEC) at a number well above those a program uses
// (half the RLIMIT_NOFILE soft limit, at most 4096), or anywhere when that
// range is full. -errno on failure.
int dup_high(int fd);
// The same made with the system call itself: an interposed fcntl() would
// report the copy as one of the program's (iostack_fd_dup).
int dup_high_raw(int fd);
// Moves `fd` (which it closes) up the same way; `fd` itself on failure.
int move_high(int fd);
// The same with system calls only (a descriptor made behind the program's
// back, whose number an interposed close() must not see); -errno passes.
int move_high_raw(int fd);

}  // namespace iostack::core
