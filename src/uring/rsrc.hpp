// Registered resources (io_uring/rsrc.c, filetable.c): fixed files and fixed
// buffers. A fixed file is a private dup of the descriptor, reference counted
// so an unregister or update never closes it under a request still using it.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "block/bdev_file.hpp"

namespace iostack::uring {

struct IoRingCtx;

// struct io_rsrc_node for a file (io_uring/rsrc.h)
struct FileNode {
  int fd = -1;             // held's private descriptor
  core::FileRef held;      // the registered open file
  core::FileRef bdev_ref;  // an iostack block device: held while registered
  block::BdevFile* bdev = nullptr;
  std::atomic<int> refs{1};
  // Resource tag (FEAT_RSRC_TAGS): a CQE with this user_data is posted to
  // `ctx` when the last reference goes (io_free_rsrc_node).
  std::uint64_t tag = 0;
  IoRingCtx* ctx = nullptr;
};
void file_node_put(FileNode* n);

// struct io_rsrc_node of a buffer with its io_mapped_ubuf (io_uring/rsrc.h).
// A request that imported it holds a reference, so the tag's CQE comes when
// both the table and the last such request have let it go.
struct BufNode {
  std::uint64_t ubuf = 0;
  std::uint64_t len = 0;
  std::uint64_t tag = 0;
  std::atomic<int> refs{1};
  IoRingCtx* ctx = nullptr;
};
void buf_node_put(BufNode* n);

// pin.cpp: whether [base, base+len) may be registered as a fixed buffer
// (a shared mapping of a file on a disk filesystem may not: -EFAULT).
bool longterm_pin_allowed(const void* base, std::size_t len);

// IORING_MAX_FIXED_FILES, IORING_MAX_REG_BUFFERS.
constexpr unsigned kMaxFixedFiles = 1u << 20;
constexpr unsigned kMaxRegBuffers = 1u << 14;

}  // namespace iostack::uring
