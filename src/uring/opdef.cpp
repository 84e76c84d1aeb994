// The op table (io_uring/opdef.c): what each implemented opcode needs and
// where its prep and issue live. Opcodes absent here complete with -EINVAL
// and REGISTER_PROBE does not report them.
#include <array>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

constexpr IoOpDef rw_def(int (*prep)(IoKiocb*, const io_uring_sqe*),
                         int (*issue)(IoKiocb*, unsigned), bool in) {
  IoOpDef d;
  d.prep = prep;
  d.issue = issue;
  d.needs_file = true;
  d.unbound_nonreg_file = true;
  d.pollin = in;
  d.pollout = !in;
  d.plug = true;
  d.ioprio = true;
  d.iopoll = true;
  return d;
}

constexpr IoOpDef simple_def(int (*prep)(IoKiocb*, const io_uring_sqe*),
                             int (*issue)(IoKiocb*, unsigned), bool needs_file,
                             bool force_async = false) {
  IoOpDef d;
  d.prep = prep;
  d.issue = issue;
  d.needs_file = needs_file;
  d.force_async = force_async;
  return d;
}

std::array<IoOpDef, kOpLast> build_table() {
  std::array<IoOpDef, kOpLast> t{};
  t[IORING_OP_NOP] = simple_def(nop_prep, nop_issue, false);
  t[IORING_OP_NOP].iopoll = true;
  t[IORING_OP_READV] = rw_def(rw_prep_readv, rw_read, true);
  t[IORING_OP_WRITEV] = rw_def(rw_prep_writev, rw_write, false);
  t[IORING_OP_READ_FIXED] = rw_def(rw_prep_read_fixed, rw_read, true);
  t[IORING_OP_WRITE_FIXED] = rw_def(rw_prep_write_fixed, rw_write, false);
  t[IORING_OP_READ] = rw_def(rw_prep_read, rw_read, true);
  t[IORING_OP_WRITE] = rw_def(rw_prep_write, rw_write, false);
  t[IORING_OP_FSYNC] = simple_def(fsync_prep, fsync_issue, true, true);
  t[IORING_OP_SYNC_FILE_RANGE] = simple_def(sfr_prep, sfr_issue, true, true);
  t[IORING_OP_FALLOCATE] = simple_def(fallocate_prep, fallocate_issue, true, true);
  t[IORING_OP_FADVISE] = simple_def(fadvise_prep, fadvise_issue, true);
  t[IORING_OP_OPENAT] = simple_def(openat_prep, openat_issue, false);
  t[IORING_OP_CLOSE] = simple_def(close_prep, close_issue, false);
  t[IORING_OP_STATX] = simple_def(statx_prep, statx_issue, false);
  t[IORING_OP_TIMEOUT] = simple_def(timeout_prep, timeout_issue, false);
  t[IORING_OP_TIMEOUT_REMOVE] = simple_def(timeout_remove_prep, timeout_remove_issue, false);
  t[IORING_OP_LINK_TIMEOUT] = simple_def(link_timeout_prep, link_timeout_issue, false);
  t[IORING_OP_ASYNC_CANCEL] = simple_def(async_cancel_prep, async_cancel_issue, false);
  t[IORING_OP_POLL_ADD] = simple_def(poll_add_prep, poll_add_issue, true);
  t[IORING_OP_POLL_ADD].unbound_nonreg_file = true;
  t[IORING_OP_POLL_REMOVE] = simple_def(poll_remove_prep, poll_remove_issue, false);
  return t;
}

const std::array<IoOpDef, kOpLast> g_defs = build_table();

}  // namespace

const IoOpDef* op_def(unsigned opcode) {
  if (opcode >= kOpLast || !g_defs[opcode].prep) return nullptr;
  return &g_defs[opcode];
}

}  // namespace iostack::uring
