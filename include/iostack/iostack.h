/* iostack C API: calls shaped like the Linux system calls they stand in for,
 * using the kernel's uapi structs. Every call returns a non-negative result or
 * -errno; none sets errno or throws. */
#ifndef IOSTACK_IOSTACK_H
#define IOSTACK_IOSTACK_H

#include "iostack/aio.h"
#include "iostack/fd.h"
#include "iostack/ioprio.h"
#include "iostack/stats.h"
#include "iostack/uring.h"

#endif
