// The C API of include/iostack/fd.h over the process's descriptor table.
#include "iostack/fd.h"

#include <vector>

#include "core/fd_mode_cache.hpp"
#include "core/held_file.hpp"
#include "core/process.hpp"

using iostack::core::FileRef;
using iostack::core::Process;

extern "C" {

int iostack_fd_is_iostack(int fd) { return Process::current().files().contains(fd) ? 1 : 0; }

int iostack_fd_close(int fd) { return iostack::core::close_fd(fd); }

void iostack_fd_changed(int fd) {
  iostack::core::fd_mode_forget(fd);
  iostack::core::held_files_flags_changed();
}

void iostack_fd_closed(int fd) { iostack::core::held_files_closed(fd); }

void iostack_fd_track_closes(void) { iostack::core::held_files_track(true); }

void iostack_fd_dup(int oldfd, int newfd) {
  if (oldfd == newfd) return;
  iostack::core::fd_mode_forget(newfd);
  iostack::core::held_files_closed(newfd);
  auto& files = Process::current().files();
  FileRef f = files.get(oldfd);
  if (!f) {
    files.remove(newfd);  // dup2 over one of ours closed it
    return;
  }
  files.install(newfd, f.release());
}

void iostack_fd_close_range(unsigned first, unsigned last) {
  iostack::core::fd_mode_forget_range(first, last);
  iostack::core::held_files_closed_range(first, last);
  auto& files = Process::current().files();
  std::vector<int> gone;
  files.for_each([&](int fd, iostack::core::File*) {
    if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last) gone.push_back(fd);
  });
  for (int fd : gone) files.remove(fd);
}

}  // extern "C"
