// Direct descriptors (io_uring/filetable.c): installing a new file into a
// slot of the registered file table (open, accept, socket into a slot,
// FIXED_FD_INSTALL's reverse) and the allocation range for
// IORING_FILE_INDEX_ALLOC.
#pragma once

#include <cstdint>

#include "uring/ctx.hpp"

namespace iostack::uring {

// __io_fixed_fd_install: `held` (a hold of a file, core/held_file.hpp)
// takes slot `file_slot` - 1, or a free slot of the allocation range for
// IORING_FILE_INDEX_ALLOC. Returns 0 or the allocated index, or -errno.
int fixed_fd_install(IoRingCtx* ctx, unsigned issue_flags, core::FileRef held,
                     std::uint32_t file_slot);
// The same for `fd`, a descriptor iostack opened (ours now, closed on failure).
int fixed_fd_install(IoRingCtx* ctx, unsigned issue_flags, int fd, std::uint32_t file_slot);
// Slot `slot` takes `n` (null: emptied), its old file let go; the
// allocation hint moves as io_file_bitmap_clear / _set move it.
void file_slot_replace(IoRingCtx* ctx, unsigned slot, FileNode* n) REQUIRES(ctx->uring_lock);
// IORING_REGISTER_FILE_ALLOC_RANGE.
int register_file_alloc_range(IoRingCtx* ctx, void* arg) REQUIRES(ctx->uring_lock);

}  // namespace iostack::uring
