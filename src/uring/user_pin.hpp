// Program memory the kernel pins for as long as a ring lives (io_pin_pages
// with FOLL_LONGTERM): a NO_MMAP ring's rings and SQEs. The kernel reaches
// pinned pages through a mapping of its own, so they outlive the program's
// mapping: liburing's io_uring_queue_exit unmaps them before it unregisters
// the ring, while an SQPOLL thread may still be reading them.
#pragma once

#include <cstddef>

namespace iostack::uring {

// A second mapping of the `size` bytes at `uaddr`, for the engine: shared
// memory is mapped again; private anonymous memory is first moved, with
// what it holds, onto shared memory at the same address. Null where that
// cannot be done: the engine then uses the program's range itself.
char* pin_user_view(char* uaddr, std::size_t size);

// For a ring letting go of the pages: a range moved onto shared memory that
// the program still maps becomes private anonymous memory again, what it
// holds kept (recycled later, as a heap's, it must not be shared with the
// program's forked children). The view stays.
void give_back_user_range(char* uaddr, const char* view, std::size_t size);

// give_back_user_range, then the view is unmapped.
void unpin_user_view(char* uaddr, char* view, std::size_t size);

}  // namespace iostack::uring
