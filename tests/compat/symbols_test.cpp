// The drop-in liburing has the system liburing's ABI surface: soname
// liburing.so.2 and the same versioned dynamic symbols, plus functions of
// later liburing versions under their own version nodes.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_LIBURING) && defined(IOSTACK_SYSTEM_LIBURING) && defined(IOSTACK_OBJDUMP)

// "VERSION name" for every symbol a library defines (objdump -T).
std::set<std::string> defined_symbols(const std::string& lib) {
  const auto r = compat::run({IOSTACK_OBJDUMP, "-T", lib});
  EXPECT_EQ(r.status, 0) << r.output;
  std::set<std::string> out;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" g ") == std::string::npos || line.find("*UND*") != std::string::npos) continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() < 2) continue;
    const std::string& version = f[f.size() - 2];
    const std::string& name = f.back();
    if (version == name) continue;  // the version definitions themselves
    out.insert(version + " " + name);
  }
  return out;
}

std::string dynamic_section(const std::string& lib) {
  return compat::run({IOSTACK_OBJDUMP, "-p", lib}).output;
}

TEST(DropInSymbols, ExportsExactlyTheSystemLiburingSymbols) {
  const auto system = defined_symbols(IOSTACK_SYSTEM_LIBURING);
  const auto ours = defined_symbols(IOSTACK_COMPAT_LIBURING);
  ASSERT_GT(system.size(), 50u);
  for (const auto& s : system) EXPECT_TRUE(ours.count(s)) << "missing: " << s;
  // Beyond them, only functions of later liburing versions (nodes the
  // system's library does not have, e.g. LIBURING_2.4 on Debian 12).
  std::set<std::string> system_nodes;
  for (const auto& s : system) system_nodes.insert(s.substr(0, s.find(' ')));
  for (const auto& s : ours)
    EXPECT_TRUE(system.count(s) || !system_nodes.count(s.substr(0, s.find(' '))))
        << "extra export: " << s;
}

// Every function liburing 2.4 to 2.9 added, under its node (liburing 2.9's
// liburing.map), so that programs built against those versions load.
TEST(DropInSymbols, ExportsTheFunctionsOfLiburing24To29) {
  const auto ours = defined_symbols(IOSTACK_COMPAT_LIBURING);
  for (const char* s : {"LIBURING_2.4 io_uring_major_version",
                        "LIBURING_2.4 io_uring_minor_version",
                        "LIBURING_2.4 io_uring_check_version",
                        "LIBURING_2.4 io_uring_close_ring_fd",
                        "LIBURING_2.4 io_uring_enable_rings",
                        "LIBURING_2.4 io_uring_register_restrictions",
                        "LIBURING_2.4 io_uring_setup_buf_ring",
                        "LIBURING_2.4 io_uring_free_buf_ring",
                        "LIBURING_2.5 io_uring_queue_init_mem",
                        "LIBURING_2.6 io_uring_buf_ring_head",
                        "LIBURING_2.6 io_uring_register_napi",
                        "LIBURING_2.6 io_uring_unregister_napi",
                        "LIBURING_2.8 io_uring_register_clock",
                        "LIBURING_2.8 io_uring_submit_and_wait_min_timeout",
                        "LIBURING_2.8 io_uring_wait_cqes_min_timeout",
                        "LIBURING_2.8 io_uring_clone_buffers",
                        "LIBURING_2.9 io_uring_resize_rings",
                        "LIBURING_2.9 io_uring_register_wait_reg",
                        "LIBURING_2.9 io_uring_submit_and_wait_reg",
                        "LIBURING_2.9 io_uring_clone_buffers_offset",
                        "LIBURING_2.9 io_uring_register_region"})
    EXPECT_TRUE(ours.count(s)) << "missing: " << s;
}

TEST(DropInSymbols, SonameIsLiburingSo2AndItDoesNotNeedTheRealOne) {
  const std::string dyn = dynamic_section(IOSTACK_COMPAT_LIBURING);
  EXPECT_NE(dyn.find("SONAME               liburing.so.2\n"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("NEEDED               liburing"), std::string::npos) << dyn;
}

#if defined(IOSTACK_COMPAT_PRELOAD)
TEST(PreloadShim, ExportsOnlyTheInterposedCalls) {
  const auto ours = defined_symbols(IOSTACK_COMPAT_PRELOAD);
  std::set<std::string> want;
  for (const char* f :
       {"__poll_chk", "__ppoll_chk", "close", "close_range", "closefrom", "dup", "dup2", "dup3",
        "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "fcntl", "fcntl64", "mmap",
        "mmap64", "munmap", "poll", "ppoll", "pselect", "select", "sendmsg", "sendmmsg", "syscall",
        "sigaction", "signal", "sigprocmask", "pthread_sigmask", "_exit", "_Exit",
        "iostack_preload_add_fixup",
        // exec.c: an exec cancels this process's requests on shared rings
        "execl", "execle", "execlp", "execv", "execve", "execveat", "execvp", "execvpe", "fexecve",
        // mapped.c: the plain file calls of `iostack exec --map`
        "open", "open64", "openat", "openat64", "__open_2", "__open64_2", "__openat_2",
        "__openat64_2", "creat", "creat64", "unlink", "unlinkat", "read", "write", "pread",
        "pread64", "pwrite", "pwrite64", "readv", "writev", "preadv", "preadv64", "pwritev",
        "pwritev64", "lseek", "lseek64", "fsync", "fdatasync", "sync_file_range", "fallocate",
        "fallocate64", "posix_fallocate", "posix_fallocate64", "ftruncate", "ftruncate64", "fstat",
        "fstat64", "__fxstat", "__fxstat64", "rename", "renameat", "renameat2", "copy_file_range",
        "stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64", "statx", "mkdir", "mkdirat",
        "rmdir", "msync"})
    want.insert(std::string("Base ") + f);
  EXPECT_EQ(ours, want);
}
#endif

#else

TEST(DropInSymbols, Skipped) {
  GTEST_SKIP() << "the drop-in liburing, the system liburing.so.2 or objdump is missing";
}

#endif

}  // namespace
