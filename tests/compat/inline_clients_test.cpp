// Programs whose io_uring work is inline `syscall` instructions, under a
// seccomp filter that refuses the kernel's io_uring, with the preload shim:
// a liburing.a client and a client that also plays with signal masks,
// SIGSYS handlers and exec. Each prints what it prints on the kernel, and
// with call-site rewriting on it traps a handful of times, not per call.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "run.hpp"

namespace {

#if defined(IOSTACK_COMPAT_PRELOAD) && defined(IOSTACK_COMPAT_TRAP_CLIENT)

std::string scratch(const char* tag) {
  return std::string(IOSTACK_COMPAT_SCRATCH_DIR) + "/inline_client." + tag + "." +
         std::to_string(getpid());
}

const std::string kShim = std::string("LD_PRELOAD=") + IOSTACK_COMPAT_PRELOAD;

// The shim's "traps N" from IOSTACK_PRELOAD_STATS=1 (the first process to
// exit prints first: take the last line, the top process's), -1 if absent.
long traps(const std::string& output) {
  const std::string key = "iostack_preload: traps ";
  const auto at = output.rfind(key);
  if (at == std::string::npos) return -1;
  return std::stol(output.substr(at + key.size()));
}

// The output without the shim's statistics lines.
std::string program_lines(const std::string& output) {
  std::string out;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size() - 1;
    const std::string line = output.substr(start, end - start + 1);
    if (line.rfind("iostack_preload:", 0) != 0) out += line;
    start = end + 1;
  }
  return out;
}

struct Runs {
  compat::RunResult kernel, shim, trap_only;
};

Runs run_three(const std::string& program, const std::string& tag,
               const std::vector<std::string>& extra_args) {
  auto argv = [&](const char* which) {
    std::vector<std::string> a = {program, scratch((tag + which).c_str())};
    a.insert(a.end(), extra_args.begin(), extra_args.end());
    return a;
  };
  Runs r;
  r.kernel = compat::run(argv("k"));
  auto filtered = argv("s");
  filtered.insert(filtered.begin(), IOSTACK_COMPAT_SECCOMP_EXEC);
  r.shim = compat::run(filtered, {kShim, "IOSTACK_PRELOAD_STATS=1"});
  filtered = argv("t");
  filtered.insert(filtered.begin(), IOSTACK_COMPAT_SECCOMP_EXEC);
  r.trap_only =
      compat::run(filtered, {kShim, "IOSTACK_PRELOAD_STATS=1", "IOSTACK_PRELOAD_REWRITE=0"});
  return r;
}

#if defined(IOSTACK_COMPAT_STATIC_URING_CLIENT)
TEST(StaticLiburing, RefusedUnderTheFilterWithoutTheShim) {
  SKIP_IF_SANITIZED();
  const auto r =
      compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_STATIC_URING_CLIENT, scratch("no")});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output, "queue_init -1\n");
}

TEST(StaticLiburing, RunsOnTheShimAsOnTheKernelTrappingOnlyAtFirstCalls) {
  SKIP_IF_SANITIZED();
  constexpr int kNops = 300;
  const auto r = run_three(IOSTACK_COMPAT_STATIC_URING_CLIENT, "static", {std::to_string(kNops)});
  ASSERT_EQ(r.shim.status, 0) << r.shim.output;
  EXPECT_NE(r.shim.output.find("nops 300 bad 0\n"), std::string::npos) << r.shim.output;
  EXPECT_NE(r.shim.output.find("read res 8192 same 1\n"), std::string::npos) << r.shim.output;
  EXPECT_NE(r.shim.output.find("failures 0\n"), std::string::npos) << r.shim.output;
  ASSERT_EQ(r.trap_only.status, 0) << r.trap_only.output;
  EXPECT_EQ(program_lines(r.trap_only.output), program_lines(r.shim.output));
  // Rewritten: a trap per call site, not per call.
  EXPECT_GE(traps(r.shim.output), 1) << r.shim.output;
  EXPECT_LT(traps(r.shim.output), 30) << r.shim.output;
  EXPECT_GT(traps(r.trap_only.output), kNops) << r.trap_only.output;
  if (r.kernel.output.rfind("queue_init 0\n", 0) != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << r.kernel.output;
  EXPECT_EQ(r.kernel.status, 0) << r.kernel.output;
  EXPECT_EQ(program_lines(r.shim.output), r.kernel.output);
}
#endif

TEST(InlineClient, RefusedUnderTheFilterWithoutTheShim) {
  SKIP_IF_SANITIZED();
  const auto r =
      compat::run({IOSTACK_COMPAT_SECCOMP_EXEC, IOSTACK_COMPAT_TRAP_CLIENT, scratch("no")});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.output.rfind("ring -1\n", 0), 0u) << r.output;  // -EPERM
}

// Ring mmaps and a shared file mmap by inline syscall, io_uring with every
// signal blocked, in a thread born blocked, in a handler with a full mask,
// the program's own SIGSYS handler, and an exec'd child under the filter.
TEST(InlineClient, SignalsMasksAndExecOnTheShimAsOnTheKernel) {
  SKIP_IF_SANITIZED();
  const auto r = run_three(IOSTACK_COMPAT_TRAP_CLIENT, "trap", {});
  ASSERT_EQ(r.shim.status, 0) << r.shim.output;
  EXPECT_NE(r.shim.output.find("child status 0\n"), std::string::npos) << r.shim.output;
  EXPECT_NE(r.shim.output.find("own SIGSYS handler calls 1\n"), std::string::npos) << r.shim.output;
  EXPECT_NE(r.shim.output.find("failures 0\n"), std::string::npos) << r.shim.output;
  ASSERT_EQ(r.trap_only.status, 0) << r.trap_only.output;
  EXPECT_EQ(program_lines(r.trap_only.output), program_lines(r.shim.output));
  EXPECT_LT(traps(r.shim.output), traps(r.trap_only.output)) << r.shim.output;
  if (r.kernel.output.rfind("ring 0\n", 0) != 0)
    GTEST_SKIP() << "the kernel's io_uring is unavailable here, no reference: " << r.kernel.output;
  EXPECT_EQ(r.kernel.status, 0) << r.kernel.output;
  EXPECT_EQ(program_lines(r.shim.output), r.kernel.output);
}

#else

TEST(InlineClient, Skipped) { GTEST_SKIP() << "the preload shim or its clients were not built"; }

#endif

}  // namespace
