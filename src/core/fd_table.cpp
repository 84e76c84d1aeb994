// The descriptor table: a two-level radix array of slots, each a File
// pointer whose low bit is a per-slot lock (held for a handful of
// instructions while a reference is taken or the slot changes).
#include "core/fd_table.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace iostack::core {

FdTable::FdTable() {
  // A large calloc is zero-filled pages on demand: only the touched part of
  // the chunk pointers costs memory (and leak checkers see the chunks).
  void* p = std::calloc(kChunks, sizeof(std::atomic<Slot*>));
  if (!p) throw std::bad_alloc();
  top_ = static_cast<std::atomic<Slot*>*>(p);
}

FdTable::~FdTable() {
  const std::uint32_t chunks = chunks_used_.load(std::memory_order_acquire);
  for (std::uint32_t c = 0; c < chunks; ++c) {
    Slot* chunk = top_[c].load(std::memory_order_acquire);
    if (!chunk) continue;
    for (std::uint32_t i = 0; i < kChunkSlots; ++i)
      if (auto v = chunk[i].load(std::memory_order_acquire)) reinterpret_cast<File*>(v)->put();
    std::free(chunk);
  }
  std::free(top_);
}

FdTable::Slot* FdTable::slot(int fd, bool create) const {
  if (fd < 0) return nullptr;
  const auto n = static_cast<std::uint32_t>(fd);
  const std::uint32_t c = n >> kChunkShift;
  Slot* chunk = top_[c].load(std::memory_order_acquire);
  if (!chunk) {
    if (!create) return nullptr;
    auto* fresh = static_cast<Slot*>(std::calloc(kChunkSlots, sizeof(Slot)));
    if (!fresh) throw std::bad_alloc();
    if (top_[c].compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
      std::uint32_t used = chunks_used_.load(std::memory_order_relaxed);
      while (used < c + 1 &&
             !chunks_used_.compare_exchange_weak(used, c + 1, std::memory_order_release)) {
      }
    } else {
      std::free(fresh);
    }
  }
  return &chunk[n & (kChunkSlots - 1)];
}

std::uintptr_t FdTable::lock(Slot* s) {
  std::uintptr_t v = s->load(std::memory_order_relaxed);
  for (;;) {
    if (v & kLocked) {
      __builtin_ia32_pause();
      v = s->load(std::memory_order_relaxed);
      continue;
    }
    if (s->compare_exchange_weak(v, v | kLocked, std::memory_order_acquire)) return v;
  }
}

FileRef FdTable::get(int fd) const {
  Slot* s = slot(fd, false);
  if (!s || s->load(std::memory_order_acquire) == 0) return {};
  const std::uintptr_t v = lock(s);
  auto* f = reinterpret_cast<File*>(v);
  if (f) f->get();
  unlock(s, v);
  return FileRef(f);
}

bool FdTable::contains(int fd) const {
  Slot* s = slot(fd, false);
  return s && s->load(std::memory_order_acquire) != 0;
}

FileRef FdTable::install(int fd, File* file) {
  Slot* s = slot(fd, true);
  if (!s) {
    file->put();
    return {};
  }
  const std::uintptr_t old = lock(s);
  unlock(s, reinterpret_cast<std::uintptr_t>(file));
  return FileRef(reinterpret_cast<File*>(old));
}

FileRef FdTable::remove(int fd) {
  Slot* s = slot(fd, false);
  if (!s || s->load(std::memory_order_acquire) == 0) return {};
  const std::uintptr_t old = lock(s);
  unlock(s, 0);
  return FileRef(reinterpret_cast<File*>(old));
}

FileRef FdTable::remove_if(int fd, const File* file) {
  Slot* s = slot(fd, false);
  if (!s || s->load(std::memory_order_acquire) == 0) return {};
  const std::uintptr_t old = lock(s);
  if (old != reinterpret_cast<std::uintptr_t>(file)) {
    unlock(s, old);
    return {};
  }
  unlock(s, 0);
  return FileRef(reinterpret_cast<File*>(old));
}

void FdTable::inherit(const FdTable& parent) {
  const std::uint32_t chunks = parent.chunks_used_.load(std::memory_order_relaxed);
  for (std::uint32_t c = 0; c < chunks; ++c) {
    Slot* chunk = parent.top_[c].load(std::memory_order_relaxed);
    if (!chunk) continue;
    for (std::uint32_t i = 0; i < kChunkSlots; ++i) {
      auto* f = reinterpret_cast<File*>(chunk[i].load(std::memory_order_relaxed) & ~kLocked);
      if (!f || !f->ops()->fork_child) continue;
      if (File* child = f->ops()->fork_child(f))
        install(static_cast<int>(c * kChunkSlots + i), child);
    }
  }
}

}  // namespace iostack::core
