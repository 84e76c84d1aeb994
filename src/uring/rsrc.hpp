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
  int fd = -1;             // our dup
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

// The register operations; all run with ctx->uring_lock held. `tags`: a
// user array of nr u64 resource tags, or null.
int register_files(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags = nullptr);
int unregister_files(IoRingCtx* ctx);
int register_files_update(IoRingCtx* ctx, void* arg, unsigned nr);
int register_buffers(IoRingCtx* ctx, const void* arg, unsigned nr, const void* tags = nullptr);
int unregister_buffers(IoRingCtx* ctx);
// IORING_REGISTER_FILES2 / BUFFERS2: struct io_uring_rsrc_register.
int register_rsrc(IoRingCtx* ctx, void* arg, unsigned size, bool files);
// IORING_REGISTER_FILES_UPDATE2 / BUFFERS_UPDATE: struct io_uring_rsrc_update2.
int register_rsrc_update(IoRingCtx* ctx, void* arg, unsigned size, bool files);
// IORING_REGISTER_CLONE_BUFFERS (clone_buffers.cpp): struct
// io_uring_clone_buffers; takes the two rings' uring_locks itself.
int register_clone_buffers(IoRingCtx* ctx, void* arg);
// At ring teardown: nobody reads the CQ any more, tags post nothing.
void rsrc_drop_tags(IoRingCtx* ctx);

// Fixed-file lookup for issue: a referenced node or null (-EBADF).
FileNode* fixed_file_get(IoRingCtx* ctx, unsigned index, bool locked);
// Whether registered buffer `index` exists (io_find_buf_node).
bool fixed_buf_exists(IoRingCtx* ctx, unsigned index, bool locked);
// Fixed-buffer import: -EFAULT when [addr, addr+len) leaves buffer `index`.
// The request keeps a reference to the buffer checked first (*node, when
// null), and later checks use that one, as io_find_buf_node imports once.
int fixed_buf_check(IoRingCtx* ctx, unsigned index, std::uint64_t addr, std::uint64_t len,
                    bool locked, BufNode** node = nullptr);
// io_import_reg_vec for READV_FIXED / WRITEV_FIXED: every segment must lie
// in buffer `index` and be non-empty (-EFAULT), the sum must not overflow
// (-EOVERFLOW) nor exceed MAX_RW_COUNT (-EINVAL). The sum goes to `*total`.
int fixed_buf_check_vec(IoRingCtx* ctx, unsigned index, const struct iovec* iov, int nr,
                        std::int64_t* total, bool locked, BufNode** node = nullptr);

}  // namespace iostack::uring
