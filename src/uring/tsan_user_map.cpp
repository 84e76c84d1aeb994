// ThreadSanitizer's view of the program's mappings of a ring. The program
// reads the CQ tail and writes the SQ tail through its own mapping (an alias
// made by mremap), which ThreadSanitizer cannot relate to the engine's view
// of the same pages. A release on the alias's CQ tail pairs the program's
// acquire with all a completing thread did before posting; an acquire there
// on the SQ tail pairs an SQ thread's read of the tail with all the program
// did (its SQEs, the buffers they name) before its store-release. The alias
// may be unmapped by the program while another thread posts:
// ThreadSanitizer's munmap unmaps and remaps the range's metadata for a
// moment, and an annotation on it then would fault. So the aliases unmapped
// through iostack_io_uring_munmap are forgotten first, and annotations and
// forgets exclude each other. Other builds compile to nothing.
#include <cstddef>
#include <vector>

#include "core/mutex.hpp"
#include "uring/engine.hpp"

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_release(void* addr);
extern "C" void __tsan_acquire(void* addr);
#endif

namespace iostack::uring {

#if defined(__SANITIZE_THREAD__)
namespace {

struct UserMaps {
  core::Mutex mu;
  std::vector<std::pair<char*, std::size_t>> live GUARDED_BY(mu);

  bool covers(const char* p) REQUIRES(mu) {
    for (const auto& [base, len] : live)
      if (p >= base && p < base + len) return true;
    return false;
  }
};

UserMaps& user_maps() {
  static UserMaps* m = new UserMaps;  // used by threads that outlive statics
  return *m;
}

}  // namespace

void user_map_note(char* addr, std::size_t len) {
  UserMaps& m = user_maps();
  core::LockGuard lock(m.mu);
  m.live.emplace_back(addr, len);
}

void user_map_forget(void* addr, std::size_t len) {
  UserMaps& m = user_maps();
  char* const lo = static_cast<char*>(addr);
  core::LockGuard lock(m.mu);
  std::erase_if(m.live,
                [&](const auto& e) { return e.first < lo + len && lo < e.first + e.second; });
}

namespace {

// `sync` on the word at `offset` of the program's latest mapping of the
// rings, while that mapping is known to be there.
template <typename Sync>
void on_user_word(IoRingCtx* ctx, std::size_t offset, Sync sync) {
  char* u = ctx->user_rings.load(std::memory_order_relaxed);
  if (!u) return;
  UserMaps& m = user_maps();
  core::LockGuard lock(m.mu);
  if (m.covers(u + offset)) sync(u + offset);
}

}  // namespace

void user_map_release_cq_tail(IoRingCtx* ctx) {
  on_user_word(ctx, offsetof(IoRings, cq.tail), [](char* w) { __tsan_release(w); });
}

void user_map_acquire_sq_tail(IoRingCtx* ctx) {
  on_user_word(ctx, offsetof(IoRings, sq.tail), [](char* w) { __tsan_acquire(w); });
}
#else
void user_map_note(char*, std::size_t) {}
void user_map_forget(void*, std::size_t) {}
void user_map_release_cq_tail(IoRingCtx*) {}
void user_map_acquire_sq_tail(IoRingCtx*) {}
#endif

}  // namespace iostack::uring
