// struct fdtable (include/linux/fdtable.h) for iostack's own files: which
// descriptor numbers of the process are iostack objects (rings, block
// devices), each holding a reference to its File. Any descriptor number the
// process can have works (up to INT_MAX).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/file.hpp"

namespace iostack::core {

class FdTable {
 public:
  FdTable();
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  // fget(): a new reference to the file at `fd`, or an empty ref when `fd`
  // is not iostack's. A file removed concurrently is either found with its
  // reference taken, or not found: it is never freed under a lookup.
  FileRef get(int fd) const;
  // True when `fd` holds an iostack file now (one load; no reference).
  bool contains(int fd) const;
  // fd_install(): `file` takes the slot with the reference the caller
  // passes; whatever held the slot before (a file whose descriptor was
  // closed behind iostack's back) comes back to the caller.
  FileRef install(int fd, File* file);
  // The table's reference to the file at `fd`, which leaves the table.
  FileRef remove(int fd);
  // The same, only if the file at `fd` is still `file`.
  FileRef remove_if(int fd, const File* file);
  // In a forked child: fills this (empty) table with what the parent's
  // files leave behind (FileOps::fork_child). The parent's slots are read
  // without their locks, which threads that no longer exist may hold.
  void inherit(const FdTable& parent);
  // Calls fn(fd, file) for every file, with a reference held during the call.
  template <class Fn>
  void for_each(Fn&& fn) const {
    const std::uint32_t chunks = chunks_used_.load(std::memory_order_acquire);
    for (std::uint32_t c = 0; c < chunks; ++c) {
      if (!top_[c].load(std::memory_order_acquire)) continue;
      for (std::uint32_t i = 0; i < kChunkSlots; ++i) {
        const int fd = static_cast<int>(c * kChunkSlots + i);
        if (FileRef f = get(fd)) fn(fd, f.get());
      }
    }
  }

 private:
  static constexpr std::uint32_t kChunkShift = 12;
  static constexpr std::uint32_t kChunkSlots = 1u << kChunkShift;
  static constexpr std::uint32_t kChunks = (1u << 31) >> kChunkShift;
  static constexpr std::uintptr_t kLocked = 1;  // low bit of a slot: being read or changed

  using Slot = std::atomic<std::uintptr_t>;
  Slot* slot(int fd, bool create) const;
  static std::uintptr_t lock(Slot* s);  // returns the unlocked value
  static void unlock(Slot* s, std::uintptr_t v) { s->store(v, std::memory_order_release); }

  std::atomic<Slot*>* top_;  // kChunks chunk pointers, zero pages until used
  mutable std::atomic<std::uint32_t> chunks_used_{0};
};

}  // namespace iostack::core
