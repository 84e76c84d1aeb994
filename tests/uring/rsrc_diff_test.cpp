// Differential tests of the FILES_UPDATE opcode and of resource tags
// (REGISTER_FILES2/BUFFERS2 with tags, FILES_UPDATE2, BUFFERS_UPDATE, the
// tag CQEs posted when a tagged file or buffer is let go).
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include <cstring>
#include <functional>

#include "ring_harness.hpp"

namespace uring_test {
namespace {

int files2(Ring& r, const int* fds, const std::uint64_t* tags, unsigned nr, unsigned flags = 0) {
  io_uring_rsrc_register rr{};
  rr.nr = nr;
  rr.flags = flags;
  rr.data = reinterpret_cast<std::uintptr_t>(fds);
  rr.tags = reinterpret_cast<std::uintptr_t>(tags);
  return r.reg(IORING_REGISTER_FILES2, &rr, sizeof(rr));
}

int update2(Ring& r, unsigned op, unsigned off, const void* data, const std::uint64_t* tags,
            unsigned nr) {
  io_uring_rsrc_update2 up{};
  up.offset = off;
  up.data = reinterpret_cast<std::uintptr_t>(data);
  up.tags = reinterpret_cast<std::uintptr_t>(tags);
  up.nr = nr;
  return r.reg(op, &up, sizeof(up));
}

TEST(UringRsrcDiff, FilesUpdateOpcode) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    // No table yet.
    int fds[4] = {p[0], p[1], -1, -1};
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 2, 0, 1, 0);
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 1, IORING_FILE_INDEX_ALLOC, 2, 0);
    append(&out, submit_wait(r, 2));
    EXPECT_EQ(0, files2(r, nullptr, nullptr, 4, IORING_RSRC_REGISTER_SPARSE));
    // Slots 1 and 2, then a pipe round trip through them.
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 2, 1, 3, 0);
    append(&out, submit_wait(r, 1));
    add(r, IORING_OP_WRITE, 2, "hello", 5, 0, 4, IOSQE_FIXED_FILE | IOSQE_IO_LINK);
    static char got[8];
    add(r, IORING_OP_READ, 1, got, sizeof(got), 0, 5, IOSQE_FIXED_FILE);
    append(&out, submit_wait(r, 2));
    out.push_back(Cqe{100, std::memcmp(got, "hello", 5) == 0 ? 0 : 1, 0});
    // Prep checks.
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 0, 0, 6, 0);
    add(r, IORING_OP_FILES_UPDATE, 0, fds, 1, 0, 7, IOSQE_FIXED_FILE);
    io_uring_sqe* s = add(r, IORING_OP_FILES_UPDATE, -1, fds, 1, 0, 8, 0);
    s->rw_flags = 1;
    s = add(r, IORING_OP_FILES_UPDATE, -1, fds, 1, 0, 9, 0);
    s->splice_fd_in = 1;
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 1, 0, 10, IOSQE_BUFFER_SELECT);
    // Issue checks: past the table, overflowing, a bad descriptor (slot 3 is
    // emptied first), a ring, an unreadable array.
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 2, 3, 11, 0);
    add(r, IORING_OP_FILES_UPDATE, -1, fds, 0x20, 0xfffffff0u, 12, 0);
    static int bad[2];
    bad[0] = p[0];
    bad[1] = 9999;
    add(r, IORING_OP_FILES_UPDATE, -1, bad, 2, 2, 13, 0);
    static int ring_fd[1];
    ring_fd[0] = r.fd();
    add(r, IORING_OP_FILES_UPDATE, -1, ring_fd, 1, 0, 14, 0);
    add(r, IORING_OP_FILES_UPDATE, -1, nullptr, 1, 0, 15, 0);
    append(&out, submit_wait(r, 10));
    // Slot 3 holds nothing now.
    add(r, IORING_OP_WRITE, 3, "x", 1, 0, 16, IOSQE_FIXED_FILE);
    append(&out, submit_wait(r, 1));
    // IORING_FILE_INDEX_ALLOC: free slots, their indexes written back.
    static int alloc[3];
    alloc[0] = p[1];
    alloc[1] = p[0];
    alloc[2] = p[0];
    add(r, IORING_OP_FILES_UPDATE, -1, alloc, 3, IORING_FILE_INDEX_ALLOC, 17, 0);
    append(&out, submit_wait(r, 1));
    out.push_back(Cqe{200, alloc[0], 0});
    out.push_back(Cqe{201, alloc[1], 0});
    out.push_back(Cqe{202, alloc[2] == p[0] ? 0 : 1, 0});  // not reached: left alone
    static int alloc_bad[2];
    alloc_bad[0] = 9999;
    alloc_bad[1] = p[0];
    add(r, IORING_OP_FILES_UPDATE, -1, alloc_bad, 2, IORING_FILE_INDEX_ALLOC, 18, 0);
    append(&out, submit_wait(r, 1));
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    return out;
  });
}

TEST(UringRsrcDiff, FileTags) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    // A tag on an empty slot is refused; a failed registration posts the
    // tags of what it had registered.
    int fds[4] = {-1, p[0], p[1], -1};
    std::uint64_t bad_tags[4] = {5, 0, 0, 0};
    out.push_back(Cqe{1, files2(r, fds, bad_tags, 4), 0});
    int fds_bad[3] = {p[0], p[1], 9999};
    std::uint64_t tags3[3] = {6, 7, 0};
    out.push_back(Cqe{2, files2(r, fds_bad, tags3, 3), 0});
    append(&out, r.reap());
    std::uint64_t tags[4] = {0, 11, 12, 0};
    out.push_back(Cqe{3, files2(r, fds, tags, 4), 0});
    // Replacing slot 1 lets its file go: tag 11.
    int one[1] = {p[0]};
    std::uint64_t t21[1] = {21};
    out.push_back(Cqe{4, update2(r, IORING_REGISTER_FILES_UPDATE2, 1, one, t21, 1), 0});
    append(&out, r.reap());
    // A tag with SKIP or -1 is refused; nr 0; past the end.
    int skip[1] = {IORING_REGISTER_FILES_SKIP};
    out.push_back(Cqe{5, update2(r, IORING_REGISTER_FILES_UPDATE2, 0, skip, t21, 1), 0});
    int none[1] = {-1};
    out.push_back(Cqe{6, update2(r, IORING_REGISTER_FILES_UPDATE2, 0, none, t21, 1), 0});
    out.push_back(Cqe{7, update2(r, IORING_REGISTER_FILES_UPDATE2, 0, one, t21, 0), 0});
    out.push_back(Cqe{8, update2(r, IORING_REGISTER_FILES_UPDATE2, 4, one, t21, 1), 0});
    // A request using a tagged file keeps it: the tag comes after it ends.
    add(r, IORING_OP_POLL_ADD, 1, nullptr, 0, 0, 9, IOSQE_FIXED_FILE)->poll32_events = POLLIN;
    EXPECT_EQ(1, r.submit(0));
    out.push_back(Cqe{10, update2(r, IORING_REGISTER_FILES_UPDATE2, 1, none, nullptr, 1), 0});
    out.push_back(Cqe{11, static_cast<int>(r.cq_ready()), 0});
    EXPECT_EQ(1, write(p[1], "x", 1));
    append(&out, r.wait(2));
    // Unregistering posts the rest, last slot first.
    out.push_back(Cqe{12, r.reg(IORING_UNREGISTER_FILES, nullptr, 0), 0});
    append(&out, r.wait(1));
    // The legacy update has no tags.
    out.push_back(Cqe{13, files2(r, fds, tags, 4), 0});
    io_uring_files_update fu{};
    fu.offset = 2;
    fu.fds = reinterpret_cast<std::uintptr_t>(none);
    out.push_back(Cqe{14, r.reg(IORING_REGISTER_FILES_UPDATE, &fu, 1), 0});
    append(&out, r.wait(1));
    r.exit();
    ::close(p[0]);
    ::close(p[1]);
    return out;
  });
}

TEST(UringRsrcDiff, BufferTags) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    auto* mem = static_cast<char*>(
        mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    iovec iov[2] = {{mem, 4096}, {mem + 4096, 4096}};
    io_uring_rsrc_register rr{};
    rr.nr = 2;
    // Sparse with a tag: refused.
    std::uint64_t tags[2] = {41, 0};
    rr.flags = IORING_RSRC_REGISTER_SPARSE;
    rr.tags = reinterpret_cast<std::uintptr_t>(tags);
    out.push_back(Cqe{1, r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)), 0});
    // A bad second buffer: the first one's tag comes back.
    iovec bad[2] = {{mem, 4096}, {nullptr, 4096}};
    rr.flags = 0;
    rr.data = reinterpret_cast<std::uintptr_t>(bad);
    out.push_back(Cqe{2, r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)), 0});
    append(&out, r.reap());
    out.push_back(Cqe{3, r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr) - 1), 0});
    rr.data = reinterpret_cast<std::uintptr_t>(iov);
    out.push_back(Cqe{4, r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)), 0});
    // Replace buffer 0: tag 41; an empty slot cannot carry a tag.
    iovec repl[1] = {{mem + 8192, 4096}};
    std::uint64_t t42[1] = {42};
    out.push_back(Cqe{5, update2(r, IORING_REGISTER_BUFFERS_UPDATE, 0, repl, t42, 1), 0});
    append(&out, r.reap());
    iovec empty[1] = {{nullptr, 0}};
    out.push_back(Cqe{6, update2(r, IORING_REGISTER_BUFFERS_UPDATE, 1, empty, t42, 1), 0});
    out.push_back(Cqe{7, update2(r, IORING_REGISTER_BUFFERS_UPDATE, 1, empty, nullptr, 1), 0});
    out.push_back(Cqe{8, update2(r, IORING_REGISTER_BUFFERS_UPDATE, 2, repl, nullptr, 1), 0});
    // The new buffer 0 is the one used; the emptied slot 1 is gone.
    char tmpl[] = "/tmp/iostack-rsrc-XXXXXX";
    const int f = mkstemp(tmpl);
    unlink(tmpl);
    EXPECT_EQ(4, write(f, "abcd", 4));
    add(r, IORING_OP_READ_FIXED, f, mem + 8192, 4, 0, 9, 0)->buf_index = 0;
    add(r, IORING_OP_READ_FIXED, f, mem, 4, 0, 10, 0)->buf_index = 0;
    add(r, IORING_OP_READ_FIXED, f, mem + 4096, 4, 0, 11, 0)->buf_index = 1;
    append(&out, submit_wait(r, 3));
    out.push_back(Cqe{12, r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0), 0});
    append(&out, r.reap());
    r.exit();
    ::close(f);
    munmap(mem, 3 * 4096);
    return out;
  });
}

// A buffer replaced or unregistered while a request that imported it is in
// flight: its tag's CQE comes after that request's (the node is referenced).
TEST(UringRsrcDiff, BufferTagWaitsForTheRequestUsingIt) {
  SKIP_WITHOUT_KERNEL_URING();
  compare_submit_all([](Ring& r) {
    std::vector<Cqe> out;
    static char mem[3][1024];
    iovec iov[2] = {{mem[0], 1024}, {mem[1], 1024}};
    std::uint64_t tags[2] = {51, 52};
    io_uring_rsrc_register rr{};
    rr.nr = 2;
    rr.data = reinterpret_cast<std::uintptr_t>(iov);
    rr.tags = reinterpret_cast<std::uintptr_t>(tags);
    out.push_back(Cqe{1, r.reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)), 0});
    int p[2], q[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(0, pipe2(q, O_CLOEXEC));
    // Both reads wait for their pipe, holding buffers 1 and 0.
    add(r, IORING_OP_READ_FIXED, p[0], mem[1], 10, 0, 100, 0)->buf_index = 1;
    add(r, IORING_OP_READ_FIXED, q[0], mem[0], 10, 0, 101, 0)->buf_index = 0;
    EXPECT_EQ(2, r.submit(0));
    iovec repl[1] = {{mem[2], 1024}};
    std::uint64_t t53[1] = {53};
    out.push_back(Cqe{2, update2(r, IORING_REGISTER_BUFFERS_UPDATE, 1, repl, t53, 1), 0});
    out.push_back(Cqe{3, static_cast<int>(r.cq_ready()), 0});
    // Unregistered: buffer 1's new node goes at once, buffer 0 waits too.
    out.push_back(Cqe{4, r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0), 0});
    append(&out, r.reap());
    EXPECT_EQ(3, write(p[1], "abc", 3));
    append(&out, r.wait(2));
    EXPECT_EQ(2, write(q[1], "de", 2));
    append(&out, r.wait(2));
    for (int fd : {p[0], p[1], q[0], q[1]}) ::close(fd);
    return out;
  });
}

// REGISTER_BUFFERS pins for the long term: a shared mapping of a file on a
// disk filesystem is refused (-EFAULT); private and memfd mappings are not.
TEST(UringRsrcDiff, FileBackedBufferRegistration) {
  SKIP_WITHOUT_KERNEL_URING();
  char tmpl[] = "/var/tmp/iostack-fb-XXXXXX";
  const int f = mkstemp(tmpl);
  ASSERT_GE(f, 0);
  unlink(tmpl);
  struct statfs fs;
  ASSERT_EQ(0, fstatfs(f, &fs));
  if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC || fs.f_type == OVERLAYFS_SUPER_MAGIC) {
    ::close(f);
    GTEST_SKIP() << "/var/tmp is not on a disk filesystem";
  }
  constexpr std::size_t kLen = 1 << 20;
  ASSERT_EQ(0, ftruncate(f, kLen));
  compare_submit_all([f](Ring& r) {
    std::vector<Cqe> out;
    std::uint64_t ud = 1;
    for (int flags : {MAP_SHARED, MAP_PRIVATE}) {
      for (int prot : {PROT_READ | PROT_WRITE, PROT_READ}) {
        void* m = mmap(nullptr, kLen, prot, flags, f, 0);
        EXPECT_NE(MAP_FAILED, m);
        iovec v{m, kLen};
        const int ret = r.reg(IORING_REGISTER_BUFFERS, &v, 1);
        out.push_back(Cqe{ud++, ret, 0});
        if (ret == 0) r.reg(IORING_UNREGISTER_BUFFERS, nullptr, 0);
        munmap(m, kLen);
      }
    }
    const int mfd = memfd_create("iostack-fb", MFD_CLOEXEC);
    EXPECT_EQ(0, ftruncate(mfd, kLen));
    void* m = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    iovec v{m, kLen};
    out.push_back(Cqe{ud++, r.reg(IORING_REGISTER_BUFFERS, &v, 1), 0});
    munmap(m, kLen);
    ::close(mfd);
    return out;
  });
  ::close(f);
}

TEST(UringRsrcDiff, FeatureRsrcTags) {
  IostackBackend ib;
  Ring r(&ib);
  ASSERT_GE(r.init(4), 0);
  EXPECT_TRUE(r.params().features & IORING_FEAT_RSRC_TAGS);
}

}  // namespace
}  // namespace uring_test
