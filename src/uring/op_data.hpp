// Per-request data of the ops added after the storage subset: networking
// (io_uring/net.c), provided buffers (kbuf.c) and path operations (fs.c).
// Each is one member of IoKiocb's union; nothing here is allocated per I/O
// except an iovec array longer than one segment for SENDMSG/RECVMSG.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "core/list.hpp"

namespace iostack::uring {

struct IoKiocb;

// struct io_buffer (io_uring/kbuf.h): one legacy provided buffer.
struct KBuffer {
  core::ListHead list;
  std::uint64_t addr = 0;
  std::uint32_t len = 0;
  std::uint16_t bid = 0;
  std::uint16_t bgid = 0;
};

// struct io_buffer_list (io_uring/kbuf.h): a buffer group, either a list of
// legacy buffers or a ring in user memory.
struct BufferList {
  core::ListHead buf_list;      // legacy buffers, oldest first
  std::uint64_t ring_addr = 0;  // struct io_uring_buf_ring in user memory
  std::uint32_t nr_entries = 0;
  std::uint16_t mask = 0;
  std::uint16_t head = 0;  // kernel-private consumer index
  std::uint16_t bgid = 0;
  bool is_ring = false;
  bool inc = false;  // IOU_PBUF_RING_INC: buffers consumed piecewise
  // An incremental buffer with no more than this left is done (min_left - 1).
  std::uint32_t min_left_sub_one = 0;
  // IOU_PBUF_RING_MMAP: the ring is memory the engine allocated (shared, so
  // the program's mapping at IORING_OFF_PBUF_RING sees the same pages).
  void* mmap_base = nullptr;
  std::size_t mmap_bytes = 0;
};

// struct io_sr_msg + struct io_async_msghdr (io_uring/net.c, net.h):
// SEND, RECV, SENDMSG, RECVMSG, SEND_ZC.
struct SrMsgData {
  std::uint64_t buf;  // SEND/RECV: the buffer; SENDMSG/RECVMSG: the user msghdr
  std::uint32_t len;
  unsigned flags;  // IORING_RECVSEND_*
  int msg_flags;
  std::int32_t done_io;
  unsigned nr_multishot_loops;
  std::uint16_t buf_group;
  int sock_type;  // SO_TYPE, learnt at first issue (0: not yet)
  // The header copied at prep (FEAT_SUBMIT_STABLE): msg_iov points into
  // fast_iov or iov_alloc, msg_name at addr.
  struct msghdr msg;
  struct iovec fast_iov;
  struct iovec* iov_alloc;
  std::uint64_t uname;     // RECVMSG: the user's msg_name
  std::uint64_t ucontrol;  // SENDMSG/RECVMSG: the user's msg_control
  std::size_t controllen;  // RECVMSG: the user's msg_controllen
  int namelen;             // RECVMSG: the user's msg_namelen (0 without msg_name)
  int mshot_namelen;       // RECVMSG: msg_namelen as given
  struct sockaddr_storage addr;
  bool zc_report;  // SEND_ZC: IORING_SEND_ZC_REPORT_USAGE
  bool zc_notif;   // SEND_ZC: prep got as far as the notification, still to post
  // SEND_ZC: the cached request the notification took (io_alloc_notif), or
  // null when none could be had (then counted in IoRingCtx::nr_notifs).
  IoKiocb* notif;
  // Bundles (IORING_RECVSEND_BUNDLE):
  int inq;                        // the last receive's msg_inq (-1: not known)
  int vec_nr;                     // iovecs a peek may fill without growing (0: one)
  int nr_saved;                   // SEND: mapped buffers kept in iov_alloc while it waits
  std::uint32_t bundle_cflags;    // RECV: the first part's CQE flags (IORING_RECV_RETRY)
  std::uint32_t mshot_len;        // multishot RECV: the cap of each receive (sqe->len)
  std::uint32_t mshot_total_len;  // and of all of them (sqe->optlen), 0: none
};

// struct io_accept (io_uring/net.c)
struct AcceptData {
  std::uint64_t addr;
  std::uint64_t addr_len;
  int flags;
  unsigned iou_flags;
  std::uint32_t file_slot;
  int family;  // SO_DOMAIN of the listener, learnt at first issue (-1: not yet)
};

// struct io_socket, io_bind, io_listen, io_shutdown (io_uring/net.c)
struct SocketData {
  int domain;
  int type;
  int protocol;
  int flags;
  std::uint32_t file_slot;
  int backlog;  // LISTEN
  int how;      // SHUTDOWN
};

// struct io_connect / io_bind (io_uring/net.c): the address copied at prep.
struct ConnectData {
  int addr_len;
  bool in_progress;
  bool seen_econnaborted;
  struct sockaddr_storage addr;
};

// struct io_provide_buf (io_uring/kbuf.c)
struct ProvideBufData {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint32_t bgid;
  std::uint32_t nbufs;
  std::uint32_t bid;
};

// struct io_rename, io_unlink, io_mkdir, io_link (io_uring/fs.c): paths
// copied at prep, freed by the op's cleanup.
struct FsPathData {
  int old_dfd;
  int new_dfd;
  int flags;
  unsigned mode;
  char* oldpath;
  char* newpath;
};

// struct io_epoll (io_uring/epoll.c)
struct EpollCtlData {
  int epfd;
  int op;
  int fd;
  struct epoll_event event;
};

// struct io_splice (io_uring/splice.c): SPLICE and TEE.
struct SpliceData {
  std::int64_t off_in;
  std::int64_t off_out;
  std::uint32_t len;
  unsigned flags;
  int fd_in;
};

// struct io_msg (io_uring/msg_ring.c)
struct MsgRingData {
  std::uint64_t user_data;
  std::uint32_t len;
  std::uint64_t cmd;
  std::uint32_t src_fd;
  std::uint32_t dst_fd;
  unsigned flags;
};

// struct io_xattr (io_uring/xattr.c): name, path and SET's value are ours.
struct XattrData {
  char* name;
  char* path;
  void* kvalue;
  std::uint64_t value;  // GET: the user's buffer
  std::size_t size;
  int flags;
};

// struct io_madvise (io_uring/advise.c)
struct MadviseData {
  std::uint64_t addr;
  std::uint64_t len;
  int advice;
};

// struct io_rsrc_update (io_uring/rsrc.c): FILES_UPDATE.
struct RsrcUpdateData {
  std::uint64_t arg;
  std::uint32_t nr;
  std::uint32_t offset;
};

// struct io_epoll_wait (io_uring/epoll.c)
struct EpollWaitData {
  int maxevents;
  std::uint64_t events;
};

// struct io_pipe (io_uring/openclose.c)
struct PipeData {
  std::uint64_t fds;
  int flags;
  std::uint32_t file_slot;
};

// struct io_uring_cmd (io_uring/uring_cmd.c) and the socket commands' SQE
// fields (io_uring/cmd_net.c).
struct UringCmdData {
  std::uint32_t cmd_op;
  unsigned flags;
  // io_uring_cmd returned the error itself (no ->uring_cmd, or no
  // ->uring_cmd_iopoll): on io-wq it fails from task work.
  bool refused;
  int level;
  int optname;
  int optlen;
  std::uint64_t optval;
};

// struct io_futex (io_uring/futex.c): FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAITV.
// `waiters` (futex.cpp's entries, kReqCleanup) are what the table links.
struct FutexData {
  std::uint64_t uaddr;
  std::uint64_t val;
  std::uint64_t mask;
  unsigned flags;  // FUTEX2_*
  unsigned nr_waiters;
  void* waiters;
  bool queued;
};

// struct io_waitid (io_uring/waitid.c)
struct WaitidData {
  int which;
  int upid;
  int options;
  std::uint64_t infop;
  int pidfd;                 // P_PID: the pidfd waited on (ours)
  struct ChildWatch* watch;  // P_ALL, P_PGID: what wakes the wait (waitid.cpp)
};

// struct io_fixed_install (io_uring/openclose.c)
struct FixedInstallData {
  int o_flags;
};

}  // namespace iostack::uring
