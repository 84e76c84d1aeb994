// The counters `iostack exec --stats` prints: requests per opcode, bytes,
// and the internal threads started.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "iostack/stats.h"
#include "ring_harness.hpp"

namespace uring_test {
namespace {

std::string printed() {
  int fds[2];
  EXPECT_EQ(0, pipe(fds));
  iostack_stats_print(fds[1]);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  return out;
}

TEST(ExecStats, CountsRequestsBytesAndWorkers) {
  iostack_stats_enable();
  const std::string before = printed();
  IostackBackend b;
  Ring r(&b);
  ASSERT_GE(r.init(8), 0);
  char path[] = "/tmp/iostack-stats-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  static char buf[8192];
  ASSERT_EQ(static_cast<ssize_t>(sizeof(buf)), pwrite(fd, buf, sizeof(buf), 0));
  for (int i = 0; i < 3; ++i) add(r, IORING_OP_NOP, -1, nullptr, 0, 0, 1, 0);
  add(r, IORING_OP_READ, fd, buf, 4096, 0, 2, 0);
  add(r, IORING_OP_WRITE, fd, buf, 1000, 0, 3, IOSQE_ASYNC);  // done by an io-wq worker
  ASSERT_EQ(5, r.submit(5));
  close(fd);
  const std::string after = printed();
  EXPECT_NE(std::string::npos, before.find("io_uring: none")) << before;
  EXPECT_NE(std::string::npos, after.find("io_uring: NOP=3 READ=1 WRITE=1\n")) << after;
  EXPECT_NE(std::string::npos, after.find("bytes: read=4096 written=1000\n")) << after;
  EXPECT_EQ(std::string::npos, after.find(" io-wq=0(")) << after;
}

// The names follow the opcode numbers of the kernel's uapi header.
TEST(ExecStats, OpcodeNamesFollowTheKernelsNumbers) {
  EXPECT_STREQ("NOP", iostack_io_uring_op_name(IORING_OP_NOP));
  EXPECT_STREQ("READV", iostack_io_uring_op_name(IORING_OP_READV));
  EXPECT_STREQ("SEND_ZC", iostack_io_uring_op_name(IORING_OP_SEND_ZC));
  EXPECT_STREQ("WRITEV_FIXED", iostack_io_uring_op_name(61));
  EXPECT_STREQ("PIPE", iostack_io_uring_op_name(62));
  EXPECT_EQ(nullptr, iostack_io_uring_op_name(63));
  EXPECT_EQ(nullptr, iostack_io_uring_op_name(~0u));
}

}  // namespace
}  // namespace uring_test
