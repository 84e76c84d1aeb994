// SPLICE and TEE (io_uring/splice.c): splice(2) and tee(2) through the ring,
// always on io-wq (they may wait on a pipe). The input may be a fixed file
// (SPLICE_F_FD_IN_FIXED); the output is the request's file.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <cerrno>

#include "uring/engine.hpp"
#include "uring/io_wq.hpp"
#include "uring/ops.hpp"
#include "uring/pipe_mutex.hpp"

namespace iostack::uring {

namespace {

constexpr unsigned kSpliceFAll = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

int splice_prep_common(IoKiocb* req, const io_uring_sqe* sqe) {
  SpliceData& sp = req->splice;
  sp.len = sqe->len;
  sp.flags = sqe->splice_flags;
  if (sp.flags & ~(kSpliceFAll | SPLICE_F_FD_IN_FIXED)) return -EINVAL;
  sp.fd_in = sqe->splice_fd_in;
  req->flags |= kReqForceAsync;
  return 0;
}

// The input descriptor, referenced while in use: -EBADF when missing.
int input_fd(IoKiocb* req, unsigned issue_flags, FileNode** node) {
  SpliceData& sp = req->splice;
  *node = nullptr;
  if (sp.flags & SPLICE_F_FD_IN_FIXED) {
    *node = fixed_file_get(req->ctx, static_cast<unsigned>(sp.fd_in), issue_flags & kIssueLocked);
    return *node ? (*node)->fd : -EBADF;
  }
  // io_file_get_normal: a descriptor that is not open is -EBADF, also for
  // a splice of nothing, which makes no host call (fuzz seed 54699).
  if (sp.fd_in < 0 || (!sp.len && fd_refused(sp.fd_in))) return -EBADF;
  return sp.fd_in;
}

int finish(IoKiocb* req, long ret, FileNode* node) {
  if (node) file_node_put(node);
  if (ret != static_cast<long>(req->splice.len)) req_set_fail(req);
  req_set_res(req, static_cast<int>(ret), 0);
  return kIouOk;
}

}  // namespace

int splice_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  req->splice.off_in = static_cast<std::int64_t>(sqe->splice_off_in);
  req->splice.off_out = static_cast<std::int64_t>(sqe->off);
  return splice_prep_common(req, sqe);
}

namespace {

// The output descriptor is io_assign_file's, looked up before the input
// and before the length: a zero-length SPLICE or TEE to a descriptor that
// is not open is -EBADF (fuzz seed 1477 of the extended generator). Other
// lengths find it in the host call.
bool out_unopened(IoKiocb* req) { return !req->splice.len && file_refused(req); }

// do_splice looks at the access modes before the offsets, where splice(2)
// refuses an offset on a pipe first: its -ESPIPE is -EBADF for an input not
// open for reading or an output not open for writing (fuzz seed 3540 of the
// extended generator).
long splice_error(int in, int out, long ret) {
  if (ret != -ESPIPE) return ret;
  const int fin = fcntl(in, F_GETFL), fout = fcntl(out, F_GETFL);
  if ((fin & O_ACCMODE) == O_WRONLY || (fout & O_ACCMODE) == O_RDONLY) return -EBADF;
  return ret;
}

// What the mutex model needs of one end of a splice.
struct SpliceEnd {
  PipeId pipe;  // valid for a pipe
  bool socket = false;
};

SpliceEnd end_of(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return {};
  if (S_ISFIFO(st.st_mode)) return {PipeId{st.st_dev, st.st_ino}, false};
  return {PipeId{}, S_ISSOCK(st.st_mode)};
}

// The kernel's worker blocks in do_splice/do_tee until there is something
// to move, and io-wq's cancel (of that request, or the ring's exit)
// interrupts it with a signal: -ERESTARTSYS. Here the worker first tries
// without blocking and, where it would have blocked, waits on poll for both
// ends, which a cancel ends (fuzz seed 48028: a SPLICE from an empty socket
// held the ring's exit forever). `move(nonblock)` is the host call, -errno.
// The pipe ends' mutexes are held around the move and, as the kernel's
// socket read or send holds them, across a wait for a socket end; a wait
// for a pipe end sleeps without (fuzz seed 681264: a SPLICE from a pipe
// waited behind a SPLICE into it from an empty socket, and the cancel of
// both made it -ERESTARTSYS).
template <typename Move>
long move_interruptibly(int in, int out, unsigned flags, Move move) {
  const SpliceEnd from = end_of(in), to = end_of(out);
  PipeMutexGuard pipes;
  for (;;) {
    // A cancel while it waited for a mutex: splice_from_pipe_next looks for
    // the signal first, a read into a pipe, a socket's splice_write and a
    // move between pipes only where they would wait (seed 681264).
    if (pipes.lock(from.pipe, to.pipe) && from.pipe.valid() && !to.pipe.valid() && !to.socket)
      return -kErestartsys;
    const long ret = move(SPLICE_F_NONBLOCK);
    if (ret != -EAGAIN || (flags & SPLICE_F_NONBLOCK)) return ret;
    // A descriptor opened O_NONBLOCK answers -EAGAIN in the kernel too.
    if ((fcntl(in, F_GETFL) | fcntl(out, F_GETFL)) & O_NONBLOCK) return move(0);
    if (!from.socket && !to.socket) pipes.unlock();
    int w = IoWq::wait_ready(in, POLLIN);
    if (!w) w = IoWq::wait_ready(out, POLLOUT);
    if (w) return w;
  }
}

}  // namespace

int splice_issue(IoKiocb* req, unsigned issue_flags) {
  SpliceData& sp = req->splice;
  if (out_unopened(req)) return -EBADF;
  FileNode* node;
  const int in = input_fd(req, issue_flags, &node);
  if (in < 0) return finish(req, in, node);
  const unsigned flags = sp.flags & ~SPLICE_F_FD_IN_FIXED;
  loff_t off_in = sp.off_in, off_out = sp.off_out;
  long ret = 0;
  if (sp.len) {
    ret = move_interruptibly(in, req->os_fd, flags, [&](unsigned nonblock) {
      const long r = splice(in, sp.off_in == -1 ? nullptr : &off_in, req->os_fd,
                            sp.off_out == -1 ? nullptr : &off_out, sp.len, flags | nonblock);
      return r < 0 ? splice_error(in, req->os_fd, -errno) : r;
    });
  }
  return finish(req, ret, node);
}

int tee_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->splice_off_in || sqe->off) return -EINVAL;
  return splice_prep_common(req, sqe);
}

int tee_issue(IoKiocb* req, unsigned issue_flags) {
  SpliceData& sp = req->splice;
  if (out_unopened(req)) return -EBADF;
  FileNode* node;
  const int in = input_fd(req, issue_flags, &node);
  if (in < 0) return finish(req, in, node);
  long ret = 0;
  const unsigned flags = sp.flags & ~SPLICE_F_FD_IN_FIXED;
  if (sp.len) {
    auto move = [&](unsigned nonblock) {
      const long r = tee(in, req->os_fd, sp.len, flags | nonblock);
      return r < 0 ? -errno : r;
    };
    // do_tee refuses an end that is no pipe, or the same pipe twice, before
    // it locks either (fuzz seed 973792: a TEE to /dev/null from a pipe a
    // SPLICE from an empty socket holds).
    const PipeId from = end_of(in).pipe, to = end_of(req->os_fd).pipe;
    ret = from.valid() && to.valid() && !(from == to)
              ? move_interruptibly(in, req->os_fd, flags, move)
              : move(SPLICE_F_NONBLOCK);
  }
  return finish(req, ret, node);
}

}  // namespace iostack::uring
