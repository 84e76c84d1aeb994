// io_getevents about to sleep for events of work that its own thread
// queued in the worker pool runs one such work itself instead: the read
// the disk was going to do anyway, in place of a futex sleep and the
// wake-up that ends it (a context switch on each side).
#pragma once

#include <ctime>

namespace iostack::aio {

struct Kioctx;

// Whether `ctx` has few enough requests in flight for this thread to run
// one (a cheap test, before aio_caller_run).
bool aio_caller_may_run(const Kioctx* ctx);

// Takes one quick work that the calling thread queued for `ctx` and runs
// it (its event goes to the ring as a worker's would), unless `deadline`
// (absolute CLOCK_MONOTONIC; null: none) is too near for a quick work's
// measured duration. Asynchronous signals are held off during the work,
// as a worker holds them; one left pending for a handler of the program
// sets *interrupted, as it would have cut the sleep short. False when
// nothing ran.
bool aio_caller_run(Kioctx* ctx, const struct timespec* deadline, bool* interrupted);

}  // namespace iostack::aio
