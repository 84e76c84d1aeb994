// libiostack.so.0 holds the engine and exports exactly the C API; the
// drop-ins hold none of it: they import iostack_* from libiostack.so.0,
// which they need by soname and find through RUNPATH $ORIGIN/.. .
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_NM) && defined(IOSTACK_READELF)

struct Symbol {
  char type;         // nm's letter: U undefined, T text, ...
  std::string name;  // with @VERSION for dynamic symbols
};

// nm's list: dynamic (-D) or the full symbol table.
std::vector<Symbol> symbols(const std::string& lib, bool dynamic) {
  std::vector<std::string> argv = {IOSTACK_NM};
  if (dynamic) argv.push_back("-D");
  argv.push_back(lib);
  const auto r = compat::run(argv);
  EXPECT_EQ(r.status, 0) << r.output;
  std::vector<Symbol> out;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    if (w.size() == 2) out.push_back({w[0][0], w[1]});  // undefined: no address
    if (w.size() == 3) out.push_back({w[1][0], w[2]});
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string dynamic_section(const std::string& lib) {
  return compat::run({IOSTACK_READELF, "-d", lib}).output;
}

// The C API of include/iostack/*.h.
const std::set<std::string> kCApi = {
    "iostack_aio_max_nr", "iostack_aio_nr", "iostack_aio_set_max_nr", "iostack_io_cancel",
    "iostack_io_destroy", "iostack_io_getevents", "iostack_io_pgetevents", "iostack_io_setup",
    "iostack_io_submit", "iostack_aio_served_here", "iostack_io_uring_close",
    "iostack_io_uring_enter", "iostack_io_uring_is_ring", "iostack_io_uring_mmap",
    "iostack_io_uring_mmap2", "iostack_io_uring_munmap", "iostack_io_uring_register",
    "iostack_io_uring_setup", "iostack_ioprio_get", "iostack_ioprio_set", "iostack_fd_is_iostack",
    "iostack_fd_close", "iostack_fd_dup", "iostack_fd_changed", "iostack_fd_close_range",
    "iostack_fd_closed", "iostack_fd_track_closes", "iostack_stats_enable", "iostack_stats_print",
    "iostack_io_uring_op_name", "iostack_io_uring_poll_mask", "iostack_io_uring_served_here",
    "iostack_io_uring_scm_check", "iostack_io_uring_run_wakeups", "iostack_epoll_ctl_done",
    "iostack_epoll_forget_fd", "iostack_epoll_holds_ring", "iostack_epoll_pwait2",
    "iostack_io_uring_before_exec",
    // iostack/map.h: the files of `iostack exec --map`.
    "iostack_map_init", "iostack_map_exit", "iostack_map_open", "iostack_map_unlink",
    "iostack_map_fd", "iostack_map_rw", "iostack_map_lseek", "iostack_map_fsync",
    "iostack_map_sync_file_range", "iostack_map_fallocate", "iostack_map_ftruncate",
    "iostack_map_size", "iostack_map_dup", "iostack_map_close", "iostack_map_rename",
    "iostack_map_ident", "iostack_map_path_size", "iostack_map_mkdir", "iostack_map_rmdir",
    "iostack_map_mmap", "iostack_map_msync",
    // iostack/ring.h: liburing's library half, which the drop-in re-exports.
    "iostack_ring_queue_init_params", "iostack_ring_queue_init", "iostack_ring_queue_init_mem",
    "iostack_ring_queue_mmap", "iostack_ring_resize_rings", "iostack_ring_queue_exit",
    "iostack_ring_dontfork", "iostack_ring_register_ring_fd", "iostack_ring_unregister_ring_fd",
    "iostack_ring_submit", "iostack_ring_submit_and_wait", "iostack_ring_submit_and_get_events",
    "iostack_ring_get_sqe", "iostack_ring_get_cqe", "iostack_ring_get_events",
    "iostack_ring_peek_batch_cqe", "iostack_ring_wait_cqes", "iostack_ring_submit_and_wait_timeout",
    "iostack_ring_wait_cqe_timeout", "iostack_ring_sqring_wait", "iostack_ring_thread_counters",
    "iostack_ring_close_ring_fd", "iostack_ring_register", "iostack_ring_wait_min_timeout",
    // core/uaccess_hook.h, for the shim's SIGSEGV/SIGBUS dispatcher.
    "iostack_uaccess_init", "iostack_uaccess_deliver"};

TEST(Libiostack, ExportsExactlyTheCApiUnderIostack0) {
  std::set<std::string> exported;
  for (const auto& s : symbols(IOSTACK_LIBIOSTACK, true)) {
    if (s.type == 'U' || s.type == 'w' || s.type == 'v') continue;
    if (s.type == 'A') continue;  // the version node itself
    exported.insert(s.name);
  }
  std::set<std::string> want;
  for (const auto& f : kCApi) want.insert(f + "@@IOSTACK_0");
  EXPECT_EQ(exported, want);
}

TEST(Libiostack, SonameAndNoSystemLiburing) {
  const std::string dyn = dynamic_section(IOSTACK_LIBIOSTACK);
  EXPECT_NE(dyn.find("Library soname: [libiostack.so.0]"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("liburing"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("libaio"), std::string::npos) << dyn;
}

class ThinDropIn : public ::testing::TestWithParam<const char*> {};

TEST_P(ThinDropIn, ImportsTheEngineFromLibiostack) {
  const std::string lib = GetParam();
  std::set<std::string> imported;
  // The shim's own registry of fault fixups, which engines look up by name.
  auto own = [](const std::string& name) { return starts_with(name, "iostack_preload_"); };
  for (const auto& s : symbols(lib, true)) {
    if (!starts_with(s.name, "iostack_") || own(s.name)) continue;
    EXPECT_EQ(s.type, 'U') << s.name << " is defined in " << lib;
    imported.insert(s.name.substr(0, s.name.find('@')));
  }
  EXPECT_FALSE(imported.empty());
  for (const auto& name : imported) EXPECT_TRUE(kCApi.count(name)) << name;
  // No engine object inside: none of its C++ symbols, none of its C API.
  for (const auto& s : symbols(lib, false)) {
    if (s.type == 'U' || s.type == 'w') continue;
    EXPECT_FALSE(starts_with(s.name, "_ZN7iostack")) << s.name;
    EXPECT_FALSE(starts_with(s.name, "iostack_") && !own(s.name)) << s.name;
  }
}

TEST_P(ThinDropIn, NeedsLibiostackThroughRunpathOneUp) {
  const std::string dyn = dynamic_section(GetParam());
  EXPECT_NE(dyn.find("Shared library: [libiostack.so.0]"), std::string::npos) << dyn;
  EXPECT_NE(dyn.find("Library runpath: [$ORIGIN/..]"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("(RPATH)"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("Shared library: [liburing"), std::string::npos) << dyn;
}

const char* const kDropIns[] = {
#if defined(IOSTACK_COMPAT_LIBURING)
    IOSTACK_COMPAT_LIBURING,
#endif
#if defined(IOSTACK_COMPAT_LIBAIO)
    IOSTACK_COMPAT_LIBAIO,
#endif
#if defined(IOSTACK_COMPAT_PRELOAD)
    IOSTACK_COMPAT_PRELOAD,
#endif
};

INSTANTIATE_TEST_SUITE_P(All, ThinDropIn, ::testing::ValuesIn(kDropIns), [](const auto& info) {
  const std::string path = info.param;
  if (path.find("liburing") != std::string::npos) return std::string("Liburing");
  if (path.find("libaio") != std::string::npos) return std::string("Libaio");
  return std::string("Preload");
});

TEST(ThinDropIns, LiveInTheBuildTreesPrivateLibDirBelowLibiostack) {
  const std::string lib = IOSTACK_LIBIOSTACK;
  EXPECT_EQ(lib.substr(0, lib.rfind('/')) + "/iostack", IOSTACK_COMPAT_DROPIN_DIR);
  for (const char* d : kDropIns) {
    const std::string p = d;
    EXPECT_EQ(p.substr(0, p.rfind('/')), IOSTACK_COMPAT_DROPIN_DIR);
  }
}

#else

TEST(ThinDropIns, Skipped) { GTEST_SKIP() << "nm or readelf is missing"; }

#endif

}  // namespace
