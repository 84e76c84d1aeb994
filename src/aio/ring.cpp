// aio_setup_ring: the completion ring's geometry and mapping.
#include "aio/ring.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace iostack::aio {

RingGeometry aio_ring_geometry(unsigned nr_events) {
  RingGeometry g;
  const std::size_t want = static_cast<std::size_t>(nr_events) + 2;
  const std::size_t bytes = sizeof(AioRing) + sizeof(struct io_event) * want;
  g.nr_pages = (bytes + kPageSize - 1) / kPageSize;
  g.mmap_size = g.nr_pages * kPageSize;
  g.nr_events = static_cast<unsigned>((g.mmap_size - sizeof(AioRing)) / sizeof(struct io_event));
  return g;
}

int aio_setup_ring(unsigned nr_events, MappedRing* out) {
  const RingGeometry g = aio_ring_geometry(nr_events);
  void* p = ::mmap(nullptr, g.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -ENOMEM;
  auto* ring = static_cast<AioRing*>(p);
  ring->nr = g.nr_events;
  ring->id = ~0U;
  ring->head = 0;
  ring->tail = 0;
  ring->magic = kAioRingMagic;
  ring->compat_features = kAioRingCompatFeatures;
  ring->incompat_features = kAioRingIncompatFeatures;
  ring->header_length = sizeof(AioRing);
  out->ring = ring;
  out->geo = g;
  return 0;
}

void aio_free_ring(MappedRing* r) {
  if (r->ring != nullptr) ::munmap(r->ring, r->geo.mmap_size);
  r->ring = nullptr;
}

}  // namespace iostack::aio
