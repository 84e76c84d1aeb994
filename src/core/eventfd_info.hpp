// What /proc tells of an eventfd (fs/eventfd.c's anon inode and fdinfo):
// both io_uring and AIO treat a request on one apart.
#pragma once

namespace iostack::core {

// Whether `fd` is an eventfd.
bool is_eventfd(int fd);
// A field of an eventfd's fdinfo (`format` names it, as "eventfd-id: %llu").
bool eventfd_fdinfo(int fd, const char* format, unsigned long long* value);

}  // namespace iostack::core
