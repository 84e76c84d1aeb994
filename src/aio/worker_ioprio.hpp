// The I/O priority of the calling AIO worker. The kernel's block layer
// gives a bio without a priority of its own that of the thread submitting
// it; a worker doing a request's I/O therefore takes the request's priority
// first, with ioprio_set(2) on itself, only when it differs from the one it
// already has.
#pragma once

#include <cstdint>

namespace iostack::aio {

void worker_set_ioprio(std::uint16_t ioprio);

}  // namespace iostack::aio
