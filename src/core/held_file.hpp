// get_file() of a program's OS descriptor: a request that outlives its system
// call holds the open file, not the descriptor number, as the kernel's
// struct file reference does. User space can hold an open file only through
// a descriptor of its own, and closing any descriptor of a file drops every
// POSIX (fcntl) lock the process holds on it (fs/locks.c locks_remove_posix,
// whose owner is the files_struct). So a regular file's private descriptor
// is kept per program descriptor and closed when the program closes that one
// (which drops the locks at that moment on the kernel too), not per request.
// That needs every close of the process reported (iostack_fd_closed() and
// friends, which the preload shim calls); until a caller says it reports them
// (held_files_track), each hold is a descriptor of its own, closed when the
// hold ends.
#pragma once

#include "core/file.hpp"

namespace iostack::core {

// The open file behind program descriptor `fd`, held: *out is a reference
// whose held_fd() names the same open file description. 0, or -EBADF (not
// open), -EMFILE (no descriptor to spare).
int file_hold(int fd, FileRef* out);

// fget() through what is kept: when the table of held files has `fd` and
// kcmp() confirms it still names that file, *out holds it, *flags are the
// file's open flags (learned again after any reported F_SETFL) and the
// answer is true: one system call instead of F_GETFL and a hold. False
// (nothing learned) otherwise.
bool held_file_lookup(int fd, FileRef* out, int* flags);

// A descriptor's open flags changed (F_SETFL, through any descriptor of
// the file): flags remembered by held_file_lookup are learned again.
void held_files_flags_changed();

// A reference owning `private_fd`, a descriptor iostack opened for itself
// (closed when the last reference goes). Empty for a negative `private_fd`.
FileRef held_file_adopt(int private_fd);

// In a forked child (while FileOps::fork_child runs): the child's hold of
// what `parent_held` held in the parent (the same descriptor number, which
// fork() copied; held in the child's table of held files when the parent's was).
FileRef held_file_after_fork(const FileRef& parent_held);

// The private descriptor of a reference from file_hold/held_file_adopt.
int held_fd(const FileRef& held);

// The caller reports every close, dup2 and close_range of the process from
// now on (true), or stops reporting (false: what is kept is let go).
void held_files_track(bool on);

// The program's descriptor `fd` was closed or replaced (after the call), or
// every one in [first, last]: what iostack kept of it is let go.
void held_files_closed(int fd);
void held_files_closed_range(unsigned first, unsigned last);

// Checks a descriptor against what is kept with fstat() and F_GETFL, as
// where a container refuses kcmp() (true), or kcmp() again (false).
void held_files_without_kcmp(bool on);

}  // namespace iostack::core
