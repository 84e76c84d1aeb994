// fput's deferral (fs/file_table.c): a task that drops the last reference to
// a file releases it by task work, when it returns to user space. So a file
// that an io_uring CLOSE closes stays alive until the submission that closed
// it is over: a write to a pipe whose read end the same batch closed still
// finds its reader (and raises no SIGPIPE).
#pragma once

namespace iostack::core {

// Marks the calling thread's submission of a batch; files closed by
// close_fd_deferred inside it are released when the outermost scope ends.
class DeferredFputScope {
 public:
  DeferredFputScope();
  ~DeferredFputScope();
  DeferredFputScope(const DeferredFputScope&) = delete;
  DeferredFputScope& operator=(const DeferredFputScope&) = delete;
};

// close_fd(fd); inside a scope its file stays open (behind a descriptor of
// iostack's, high in the table) until the scope ends.
int close_fd_deferred(int fd);

}  // namespace iostack::core
