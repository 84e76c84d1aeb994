// Prep and issue of the ops added after the storage subset, by file:
// net.cpp (io_uring/net.c), kbuf.cpp (kbuf.c), fs.cpp (fs.c, truncate.c).
#pragma once

#include <linux/io_uring.h>

#include <cstdint>

namespace iostack::uring {

struct IoKiocb;

// net.cpp
int shutdown_prep(IoKiocb*, const io_uring_sqe*);
int shutdown_issue(IoKiocb*, unsigned);
int socket_prep(IoKiocb*, const io_uring_sqe*);
int socket_issue(IoKiocb*, unsigned);
int bind_prep(IoKiocb*, const io_uring_sqe*);
int bind_issue(IoKiocb*, unsigned);
int listen_prep(IoKiocb*, const io_uring_sqe*);
int listen_issue(IoKiocb*, unsigned);
int recv_zc_prep(IoKiocb*, const io_uring_sqe*);
int recv_zc_issue(IoKiocb*, unsigned);
int connect_prep(IoKiocb*, const io_uring_sqe*);
int connect_issue(IoKiocb*, unsigned);
int accept_prep(IoKiocb*, const io_uring_sqe*);
int accept_issue(IoKiocb*, unsigned);
int sendmsg_prep(IoKiocb*, const io_uring_sqe*);  // SEND and SENDMSG
int send_issue(IoKiocb*, unsigned);
int send_zc_prep(IoKiocb*, const io_uring_sqe*);  // SEND_ZC and SENDMSG_ZC
int send_zc_issue(IoKiocb*, unsigned);
int recvmsg_prep(IoKiocb*, const io_uring_sqe*);  // RECV and RECVMSG
int recv_issue(IoKiocb*, unsigned);
void net_cleanup(IoKiocb*);
// io_sendrecv_fail: a failed or cancelled transfer reports what it moved
// already, and a zero-copy send's F_MORE for its pending notification.
void sendrecv_fail(IoKiocb*);

// kbuf.cpp
int provide_buffers_prep(IoKiocb*, const io_uring_sqe*);
int provide_buffers_issue(IoKiocb*, unsigned);
int remove_buffers_prep(IoKiocb*, const io_uring_sqe*);
int remove_buffers_issue(IoKiocb*, unsigned);

// fs.cpp
int renameat_prep(IoKiocb*, const io_uring_sqe*);
int renameat_issue(IoKiocb*, unsigned);
int unlinkat_prep(IoKiocb*, const io_uring_sqe*);
int unlinkat_issue(IoKiocb*, unsigned);
int mkdirat_prep(IoKiocb*, const io_uring_sqe*);
int mkdirat_issue(IoKiocb*, unsigned);
int symlinkat_prep(IoKiocb*, const io_uring_sqe*);
int symlinkat_issue(IoKiocb*, unsigned);
int linkat_prep(IoKiocb*, const io_uring_sqe*);
int linkat_issue(IoKiocb*, unsigned);
int ftruncate_prep(IoKiocb*, const io_uring_sqe*);
int ftruncate_issue(IoKiocb*, unsigned);
void fs_cleanup(IoKiocb*);

// open.cpp: OPENAT and OPENAT2, into a descriptor or a direct slot. Issued
// not to block, the open walks the dentry cache only (LOOKUP_CACHED): a name
// not there is -EAGAIN and the open goes to io-wq.
int openat_prep(IoKiocb*, const io_uring_sqe*);
int openat2_prep(IoKiocb*, const io_uring_sqe*);
int open_issue(IoKiocb*, unsigned);
void open_cleanup(IoKiocb*);

// epoll.cpp, splice.cpp, msg_ring.cpp, filetable.cpp
int epoll_ctl_prep(IoKiocb*, const io_uring_sqe*);
int epoll_ctl_issue(IoKiocb*, unsigned);
int epoll_wait_prep(IoKiocb*, const io_uring_sqe*);
int epoll_wait_issue(IoKiocb*, unsigned);
// pipe.cpp, uring_cmd.cpp
int pipe_prep(IoKiocb*, const io_uring_sqe*);
int pipe_issue(IoKiocb*, unsigned);
int uring_cmd_prep(IoKiocb*, const io_uring_sqe*);
int uring_cmd_issue(IoKiocb*, unsigned);
// futex.cpp
int futex_prep(IoKiocb*, const io_uring_sqe*);  // FUTEX_WAIT and FUTEX_WAKE
int futexv_prep(IoKiocb*, const io_uring_sqe*);
int futex_wait_issue(IoKiocb*, unsigned);
int futexv_wait_issue(IoKiocb*, unsigned);
int futex_wake_issue(IoKiocb*, unsigned);
void futex_cleanup(IoKiocb*);
// waitid.cpp
int waitid_prep(IoKiocb*, const io_uring_sqe*);
int waitid_issue(IoKiocb*, unsigned);
void waitid_cleanup(IoKiocb*);
int splice_prep(IoKiocb*, const io_uring_sqe*);
int splice_issue(IoKiocb*, unsigned);
int tee_prep(IoKiocb*, const io_uring_sqe*);
int tee_issue(IoKiocb*, unsigned);
int msg_ring_prep(IoKiocb*, const io_uring_sqe*);
int msg_ring_issue(IoKiocb*, unsigned);
int fixed_fd_install_prep(IoKiocb*, const io_uring_sqe*);
int fixed_fd_install_issue(IoKiocb*, unsigned);
// rsrc.cpp: FILES_UPDATE
int files_update_prep(IoKiocb*, const io_uring_sqe*);
int files_update_issue(IoKiocb*, unsigned);

// xattr.cpp
int fgetxattr_prep(IoKiocb*, const io_uring_sqe*);
int fsetxattr_prep(IoKiocb*, const io_uring_sqe*);
int getxattr_prep(IoKiocb*, const io_uring_sqe*);
int setxattr_prep(IoKiocb*, const io_uring_sqe*);
int fgetxattr_issue(IoKiocb*, unsigned);
int fsetxattr_issue(IoKiocb*, unsigned);
int getxattr_issue(IoKiocb*, unsigned);
int setxattr_issue(IoKiocb*, unsigned);
void xattr_cleanup(IoKiocb*);
// fs.cpp: MADVISE
int madvise_prep(IoKiocb*, const io_uring_sqe*);
int madvise_issue(IoKiocb*, unsigned);

// fs_ops.cpp: getname_flags (fs/namei.c), a path copied at prep.
int getname(std::uint64_t uaddr, bool empty_ok, char** out);

}  // namespace iostack::uring
