// aio_setup_ring (fs/aio.c): sizes the completion ring and maps it where
// user space can read it; the mapping's address is the context id.
#pragma once

#include <cstddef>

#include "aio/aio_abi.hpp"

namespace iostack::aio {

struct RingGeometry {
  unsigned nr_events = 0;  // events the ring really holds (ring->nr)
  std::size_t nr_pages = 0;
  std::size_t mmap_size = 0;
};

// `nr_events` is ioctx_alloc's doubled request; two slots are added for the
// head/tail overlap and the pages are filled up with as many events as fit.
RingGeometry aio_ring_geometry(unsigned nr_events);

struct MappedRing {
  AioRing* ring = nullptr;
  RingGeometry geo;
};

// Maps the ring (shared, zeroed) and writes its header with id ~0U; 0 or
// -ENOMEM.
int aio_setup_ring(unsigned nr_events, MappedRing* out);
void aio_free_ring(MappedRing* r);

}  // namespace iostack::aio
