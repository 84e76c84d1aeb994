// `iostack exec --map PATH=SPEC`: an unmodified program's file on an iostack
// device, its buffered writes in the page cache model until fsync, and
// `--powercut` leaving exactly what was durable in the saved image.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>

#include "../common/sanitized.hpp"
#include "../common/temp_dir.hpp"

#if defined(IOSTACK_COMPAT_IOSTACK)

namespace {

std::string dir() {
  static const std::string d = iostack::test::scratch_dir();
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a shell command line; the exit status (128+signal for a killed
// program, as the shell reports it).
int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string exec(const std::string& args) {
  return std::string(IOSTACK_COMPAT_IOSTACK) + " exec " + args;
}

bool have(const char* prog) {
  return sh(std::string("command -v ") + prog + " >/dev/null 2>&1") == 0;
}

// A step-by-step program's output on a real file `dir()/NAME-real`: what the
// kernel answers, checked to hold `lines` (the steps that show the rule).
std::string kernel_output(const std::string& prog, const std::string& name,
                          std::initializer_list<const char*> lines) {
  const std::string real = dir() + "/" + name + "-real";
  EXPECT_EQ(sh(prog + " " + real + " >" + real + ".out"), 0);
  const std::string kernel = slurp(real + ".out");
  for (const char* line : lines) EXPECT_NE(kernel.find(line), std::string::npos) << line << kernel;
  return kernel;
}

// The same program under `iostack exec --map MAP` on `file`; its output,
// kept beside the mapped path (MAP's part before '=', without a final '/').
std::string mapped_output(const std::string& prog, const std::string& map,
                          const std::string& file) {
  std::string out = map.substr(0, map.find('='));
  if (out.back() == '/') out.pop_back();
  out += ".out";
  EXPECT_EQ(sh(exec("--map " + map + " -- " + prog + " " + file + " >" + out)), 0);
  return slurp(out);
}

// 10000 bytes of text to copy.
std::string input() {
  const std::string path = dir() + "/input";
  std::ofstream f(path);
  for (int i = 0; i < 1000; ++i) f << "line " << (i % 10) << "...\n";
  return path;
}

TEST(MapExec, BufferedCopyReachesTheImage) {
  SKIP_IF_SANITIZED();
  if (!have("dd")) GTEST_SKIP() << "dd is not installed";
  const std::string in = input(), f = dir() + "/copy", img = dir() + "/copy.img";
  ASSERT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img + " -- dd if=" + in +
                    " of=" + f + " bs=999 2>/dev/null")),
            0);
  EXPECT_EQ(slurp(img), slurp(in));
  // The real file is an empty placeholder: the data went to the device.
  EXPECT_EQ(slurp(f), "");
}

TEST(MapExec, PowerCutAtFsyncLosesTheUnsyncedFile) {
  SKIP_IF_SANITIZED();
  if (!have("dd")) GTEST_SKIP() << "dd is not installed";
  const std::string in = input(), f = dir() + "/cut", img = dir() + "/cut.img",
                    err = dir() + "/cut.err";
  // The cut comes as dd calls fsync: nothing was durable yet.
  EXPECT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img +
                    " --powercut=fsync=1 -- dd if=" + in + " of=" + f + " conv=fsync 2>" + err)),
            128 + 9);
  EXPECT_NE(slurp(err).find("iostack exec: power cut after"), std::string::npos) << slurp(err);
  EXPECT_EQ(slurp(img), "");
  // Without the cut the same run leaves the whole file.
  ASSERT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img + " -- dd if=" + in +
                    " of=" + f + " conv=fsync 2>/dev/null")),
            0);
  EXPECT_EQ(slurp(img), slurp(in));
}

TEST(MapExec, FsyncMakesDataDurableBeforeTheCut) {
  SKIP_IF_SANITIZED();
  if (!have("dd")) GTEST_SKIP() << "dd is not installed";
  const std::string in = input(), f = dir() + "/sync", img = dir() + "/sync.img";
  // oflag=dsync: every 1000-byte write is synced; the cut at the 4th sync
  // leaves the first three blocks, and the file size they made durable.
  EXPECT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img +
                    " --powercut=fsync=4 -- dd if=" + in + " of=" + f +
                    " bs=1000 oflag=dsync 2>/dev/null")),
            128 + 9);
  EXPECT_EQ(slurp(img), slurp(in).substr(0, 3000));
}

TEST(MapExec, ProgramsNotTouchingThePathAreUnaffected) {
  SKIP_IF_SANITIZED();
  const std::string f = dir() + "/unused", out = dir() + "/unused.out";
  ASSERT_EQ(sh(exec("--map " + f + "=ram:1M -- echo hello >" + out)), 0);
  EXPECT_EQ(slurp(out), "hello\n");
}

TEST(MapExec, BadOptionsAreOneLine) {
  SKIP_IF_SANITIZED();
  const std::string f = dir() + "/bad", err = dir() + "/bad.err";
  EXPECT_EQ(sh(exec("--map nodir/x/=ram -- true 2>" + err)), 2);
  EXPECT_EQ(slurp(err).rfind("iostack exec: --map: expected PATH=SPEC", 0), 0u) << slurp(err);
  EXPECT_EQ(sh(exec("--map " + f + "=ram:1M --powercut=soon -- true 2>" + err)), 2);
  EXPECT_EQ(slurp(err).rfind("iostack exec: --powercut=soon: expected", 0), 0u) << slurp(err);
  EXPECT_EQ(sh(exec("--map " + f + "=bogus:1M -- true 2>" + err)), 2);
  EXPECT_EQ(slurp(err).rfind("iostack exec: --map " + f + "=bogus:1M: ", 0), 0u) << slurp(err);
}

#if defined(IOSTACK_COMPAT_STDIO_SYNC)
std::string stdio_sync() { return IOSTACK_COMPAT_STDIO_SYNC; }

// stdio writes from inside libc (fflush), and a program's own `syscall`
// instructions, reach the device through the page cache: the cut at the
// second fsync keeps the line the first made durable and loses the other,
// which the program had read back from the cache.
TEST(MapExec, StdioAndRawSystemCallsGoThroughThePageCache) {
  SKIP_IF_SANITIZED();
  for (const std::string mode : {"stdio", "raw"}) {
    const std::string f = dir() + "/" + mode, img = f + ".img", out = f + ".out";
    EXPECT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img +
                      " --powercut=fsync=2 -- " + stdio_sync() + " " + mode + " " + f + " >" + out +
                      " 2>/dev/null")),
              128 + 9)
        << mode;
    EXPECT_EQ(slurp(out),
              mode == "stdio" ? "read: durable\nread: volatile\n" : "read: durable\nvolatile\n")
        << mode;
    EXPECT_EQ(slurp(img), "durable\n") << mode;
    EXPECT_EQ(slurp(f), "") << mode;  // the placeholder saw none of it
    // Without the cut both lines are there.
    ASSERT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img + " -- " +
                      stdio_sync() + " " + mode + " " + f + " >/dev/null")),
              0)
        << mode;
    EXPECT_EQ(slurp(img), "durable\nvolatile\n") << mode;
  }
}

// A forked child writes the single mapped file at the position it shares
// with its parent, through the parent's device and page cache.
TEST(MapExec, ForkedChildSharesASingleMappedFile) {
  SKIP_IF_SANITIZED();
  const std::string f = dir() + "/forked", img = f + ".img", out = f + ".out";
  ASSERT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img + " -- " +
                    stdio_sync() + " fork " + f + " >" + out)),
            0);
  EXPECT_EQ(slurp(out), "read: parent\nchild\nposition: 13\n");
  EXPECT_EQ(slurp(img), "parent\nchild\n");
  EXPECT_EQ(slurp(f), "");
}

// Executed children (a shell's commands) open the single mapped file, or
// inherit it on their stdout, and reach the same file.
TEST(MapExec, ExecutedChildrenShareASingleMappedFile) {
  SKIP_IF_SANITIZED();
  if (!have("seq")) GTEST_SKIP() << "seq is not installed";
  const std::string f = dir() + "/shellfile", img = f + ".img", out = f + ".out";
  ASSERT_EQ(
      sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img + " -- sh -c 'echo one >" +
              f + "; seq 2 >>" + f + "; cat " + f + "; wc -c <" + f + "' >" + out)),
      0);
  EXPECT_EQ(slurp(out), "one\n1\n2\n8\n");
  EXPECT_EQ(slurp(img), "one\n1\n2\n");
  EXPECT_EQ(slurp(f), "");
}

// mmap of a mapped file: a private mapping is a copy of the file's bytes;
// a shared one maps the file's page cache.
TEST(MapExec, PrivateMmapIsACopySharedIsTheFile) {
  SKIP_IF_SANITIZED();
  const std::string f = dir() + "/mapped", out = f + ".out";
  ASSERT_EQ(
      sh(exec("--map " + f + "=wcache:ram:1M -- " + stdio_sync() + " mmap " + f + " >" + out)), 0);
  EXPECT_EQ(slurp(out), "private: Mapped\nfile: mapped\nshared: mapped\n");
}

// Record locks on a single mapped file conflict between processes as on
// the kernel's one inode, although each open is a memfd of its own.
TEST(MapExec, RecordLocksConflictAcrossProcesses) {
  SKIP_IF_SANITIZED();
  const std::string f = dir() + "/locked", out = f + ".out";
  ASSERT_EQ(
      sh(exec("--map " + f + "=wcache:ram:1M -- " + stdio_sync() + " lock " + f + " >" + out)), 0);
  EXPECT_EQ(slurp(out), "child: same range Resource temporarily unavailable, other range locked\n");
}

#if defined(IOSTACK_COMPAT_FILE_LOCKS)
// POSIX record locks (a close of any descriptor drops the process's), OFD
// locks (the open file's, shared by dup and fork) and flock on a mapped
// file, single or in a mapped directory, answer step by step what the
// kernel answers on a real file, conflicts and errnos alike.
TEST(MapExec, LocksAreTheKernels) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_FILE_LOCKS, single = dir() + "/locks-single",
                    d = dir() + "/locks-dir";
  const std::string kernel = kernel_output(
      prog, "locks",
      {"posix: other process, write [0,10): EAGAIN\n",
       "posix: after close of the second open, other process: ok\n",
       "posix: after close of a dup, other process: ok\n",
       "errors: write lock on a read-only descriptor: EBADF\n",
       "ofd: same process, second open: EAGAIN\n", "ofd: child with the inherited descriptor: ok\n",
       "ofd: after close of the dup, second open: EAGAIN\n",
       "flock: second open, exclusive: EAGAIN\n",
       "flock: child with the inherited descriptor: ok\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single), kernel);
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_DIRECT_SIZE)
// io_uring and AIO on a mapped file are direct I/O of the file, as the
// kernel's on a real one: writes past the end extend it, reads past it are
// short, buffered and direct I/O see each other's data, and an io_uring
// fsync makes the size durable (a cut at the next fsync keeps it).
TEST(MapExec, UringAndAioFollowTheFileSize) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_DIRECT_SIZE, single = dir() + "/size-single",
                    d = dir() + "/size-dir";
  const std::string kernel = kernel_output(prog, "size",
                                           {"io_uring write 4096 at 8192: 4096, size 12288\n",
                                            "io_uring read 8192 at 8192: 4096, size 12288\n",
                                            "io_uring read 512 at 9728: 272, size 10000\n",
                                            "aio write 4096 at 16384: 4096, size 20480\n",
                                            "  read back hello!\n", "  read back cccccc\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M --image " + single + "=" + single + ".img",
                          single),
            kernel);
  EXPECT_EQ(slurp(single + ".img").size(), 21000u);
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + d + ".img -- " + prog +
                    " " + d + "/f >" + d + ".out")),
            0);
  EXPECT_EQ(slurp(d + ".out"), kernel);
  EXPECT_EQ(slurp(d + ".img/f").size(), 21000u);
  // A cut at the last fsync: the io_uring fsync made 20992 bytes durable.
  EXPECT_EQ(sh(exec("--map " + single + "=wcache:ram:1M --image " + single + "=" + single +
                    ".img --powercut=fsync=2 -- " + prog + " " + single + " >/dev/null 2>&1")),
            128 + 9);
  const std::string img = slurp(single + ".img");
  ASSERT_EQ(img.size(), 20992u);
  EXPECT_EQ(img.substr(0, 6), "cccccc");
  EXPECT_EQ(img.substr(16384, 4096), std::string(4096, 'b'));
}
#endif

#if defined(IOSTACK_COMPAT_MMAP_SHARED)
// MAP_SHARED of a mapped file maps its page cache: stores show in read(2)
// and writes in the mapping, a forked child's stores through the inherited
// mapping too, and mmap answers the kernel's errors; single or in a mapped
// directory, the program prints what it prints on a real file.
TEST(MapExec, SharedMappingsAreThePageCache) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_MMAP_SHARED, single = dir() + "/shm-single",
                    d = dir() + "/shm-dir";
  const std::string kernel = kernel_output(
      prog, "shm",
      {"store X at 100, pread: X\n", "pwrite Y at 200, load: Y\n",
       "child stored C at 1000, pread: C\n", "read-only open, PROT_WRITE shared: EACCES\n",
       "write-only open, shared: EACCES\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M --image " + single + "=" + single + ".img",
                          single),
            kernel);
  // The stores reached the device with the rest of the file.
  const std::string img = slurp(single + ".img");
  ASSERT_EQ(img.size(), 11000u);
  EXPECT_EQ(img.substr(99, 3), "aXa");
  EXPECT_EQ(img[1000], 'C');
  EXPECT_EQ(img[10500], 'Z');
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}

// A store msync(MS_SYNC) wrote survives a power cut; one after it that
// nothing wrote back is lost (the kernel may or may not have written it).
TEST(MapExec, MsyncMakesMappedStoresDurable) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_MMAP_SHARED, f = dir() + "/shm-cut",
                    img = dir() + "/shm-cut.img";
  EXPECT_EQ(sh(exec("--map " + f + "=wcache,order=any:ram:1M --image " + f + "=" + img +
                    " --powercut=fsync=3 -- " + prog + " " + f + " cut 2>/dev/null")),
            128 + 9);
  const std::string cut = slurp(img);
  ASSERT_EQ(cut.size(), 8192u);
  EXPECT_EQ(cut[0], 'M');
  EXPECT_EQ(cut[4096], 'a');
  // Run to the end, the fsync writes the second store too.
  ASSERT_EQ(sh(exec("--map " + f + "=wcache,order=any:ram:1M --image " + f + "=" + img + " -- " +
                    prog + " " + f + " cut")),
            0);
  EXPECT_EQ(slurp(img)[4096], 'N');
}
#endif

#if defined(IOSTACK_COMPAT_ENGINE_COHERENCE)
// io_uring and AIO on a mapped file, buffered and O_DIRECT, are coherent
// with a MAP_SHARED mapping and read(2) of the same pages as on the kernel:
// reads see stores and buffered writes not yet written back, and what a
// write wrote shows in the mapping and in read(2) at once.
TEST(MapExec, UringAndAioAreCoherentWithThePageCache) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_ENGINE_COHERENCE, single = dir() + "/coh-single",
                    d = dir() + "/coh-dir";
  const std::string kernel = kernel_output(
      prog, "coh",
      {"store M at 100, io_uring buffered read 8 at 96: 8, got 'aaaaMaaa'\n",
       "io_uring O_DIRECT write 4096 'b' at 4096: 4096; load at 4999 'bbb', pread 'bbb'\n",
       "io_uring buffered write 'uring' at 8200: 5; load at 8199 'auringa', pread 'auringa'\n",
       "aio O_DIRECT write 4096 'c' at 8192: 4096; load at 8199 'ccccccc', pread 'ccccccc'\n",
       "page at 12288: sum 277154452, mapping same\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M --image " + single + "=" + single + ".img",
                          single),
            kernel);
  // Everything reached the device at the end, as read(2) showed it.
  EXPECT_EQ(slurp(single + ".img"), slurp(dir() + "/coh-real"));
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
  // The same from a forked child, whose requests and mapping reach the file
  // through the started process.
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single + " fork"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_ENGINE_APPEND)
// io_uring and AIO writes on a mapped file go to its end when they append
// (O_APPEND without RWF_NOAPPEND, or RWF_APPEND), buffered and O_DIRECT,
// and one at offset -1 leaves the position after what it wrote, as the
// kernel's on a real file; single, in a directory, and from a forked child.
TEST(MapExec, UringAndAioAppend) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_ENGINE_APPEND, single = dir() + "/app-single",
                    d = dir() + "/app-dir";
  const std::string kernel = kernel_output(
      prog, "app",
      {"io_uring write 'AA' at 0: 2, size 12, pos 10, '0123456789AA'\n",
       "lseek 5, io_uring write 'GG' at -1: 2, size 25, pos 25,",
       "no O_APPEND: aio pwrite 'II' at 0 with RWF_APPEND: 2, size 29, pos 0,",
       "O_APPEND: io_uring write 'JJ' at 4 with RWF_NOAPPEND: 2, size 29, pos 25, 'hh23JJ",
       "O_DIRECT: io_uring write 4096 'e' at -1: 4096, size 12288, pos 12288,",
       "  bytes at 4095, 4096, 4097, 12288: '.ddf'\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single), kernel);
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single + " fork"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_ENGINE_CUT)
// --powercut=calls=N counts io_uring and AIO writes as write calls: the
// power goes after the 4th request, before it returns, so only the three
// before it (each with RWF_DSYNC) survive, buffered and O_DIRECT alike.
TEST(MapExec, PowerCutBetweenEngineWrites) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_ENGINE_CUT, f = dir() + "/engine-cut",
                    img = dir() + "/engine-cut.img", out = dir() + "/engine-cut.out",
                    err = dir() + "/engine-cut.err";
  for (const char* mode : {"", " direct"}) {
    EXPECT_EQ(
        sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img +
                " --powercut=calls=4 -- " + prog + " " + f + mode + " >" + out + " 2>" + err)),
        128 + 9)
        << mode;
    EXPECT_EQ(slurp(out), "io_uring write 0: 4096\naio write 1: 4096\nio_uring write 2: 4096\n")
        << mode;
    EXPECT_NE(slurp(err).find("power cut after 4 write calls"), std::string::npos) << slurp(err);
    const std::string cut = slurp(img);
    ASSERT_EQ(cut.size(), 32768u) << mode;
    EXPECT_EQ(cut.substr(0, 12288),
              std::string(4096, 'a') + std::string(4096, 'b') + std::string(4096, 'c'))
        << mode;
    EXPECT_EQ(cut.substr(12288), std::string(20480, '\0')) << mode;
  }
}
#endif

#if defined(IOSTACK_COMPAT_MMAP_EOF)
// A shared mapping of a mapped file ends where the file does, as the
// kernel's: a page wholly past the end is SIGBUS (BUS_ADRERR) for loads and
// stores, the last partial page reads zeros past the end, and ftruncate and
// writes (plain and AIO) move that end, in a forked child's mapping too. A
// private mapping ends there as well, keeps its stores to itself, and shows
// the file's later writes in pages it did not store to.
TEST(MapExec, SharedMappingsEndAtTheFileSize) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_MMAP_EOF, single = dir() + "/eof-single",
                    d = dir() + "/eof-dir";
  const std::string kernel = kernel_output(
      prog, "eof",
      {"parent: load at 8191 (size 5000): 0\n",
       "parent: load at 8192 (size 5000): SIGBUS BUS_ADRERR at +8192\n",
       "parent: store at 4096 (size 4096): SIGBUS BUS_ADRERR at +4096\n",
       "parent: load at 9000 (size 12288): 0\n", "parent: load at 17001 (size 17003): 105\n",
       "child: store at 8192 (size 8000): SIGBUS BUS_ADRERR at +8192\n", "pread 1 at 8192: 1 'C'\n",
       "private: load at 8192 (size 5000): SIGBUS BUS_ADRERR at +8192\n", "pread 1 at 100: 1 'a'\n",
       "private: load at 4500 (size 5000): 81\n",
       "private: load at 12288 (size 12000): SIGBUS BUS_ADRERR at +12288\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single), kernel);
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_DOTDOT)
// ".." below a mapped directory resolves as the kernel's path walk does
// (ENOENT after a missing name, ENOTDIR after a file), from the top and
// from a working directory below it, and the files reached are the
// directory's: the image holds what was written through such paths.
TEST(MapExec, DotDotBelowAMappedDirectory) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_DOTDOT, real = dir() + "/dotdot-real",
                    d = dir() + "/dotdot-dir", img = dir() + "/dotdot-img";
  ASSERT_EQ(sh("mkdir -p " + real + " && " + prog + " " + real + " >" + real + ".out"), 0);
  const std::string kernel = slurp(real + ".out");
  for (const char* line :
       {"sub/../f created, f: stat size 5\n", "nosuch/../f: open No such file or directory\n",
        "f/../f: open Not a directory\n", "in sub: rename ../g ../sub2/../sub/h: ok\n",
        "sub/h: stat size 5\n", "last: read 3 'bye'\n"})
    EXPECT_NE(kernel.find(line), std::string::npos) << line << kernel;
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + img + " -- " + prog +
                    " " + d + " >" + d + ".out")),
            0);
  EXPECT_EQ(slurp(d + ".out"), kernel);
  EXPECT_EQ(slurp(img + "/last"), "bye");
}
#endif

#if defined(IOSTACK_COMPAT_CHILD_OPEN)
// A forked child's own open of a directory's file counts as the parent's
// do: unlinked by the parent, the file lives on for the child (through a
// dup of its open too), and new files do not take its place.
TEST(MapExec, ChildsOpensHoldTheFile) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_CHILD_OPEN, real = dir() + "/chopen-real",
                    d = dir() + "/chopen-dir";
  ASSERT_EQ(sh("mkdir -p " + real + " && " + prog + " " + real + " >" + real + ".out"), 0);
  const std::string kernel = slurp(real + ".out");
  EXPECT_NE(kernel.find("child, through the dup only: read 8 'old data'\n"), std::string::npos)
      << kernel;
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_MMAP_UNLINK)
// An unlinked mapped file lives on while it is open or mapped, as the
// kernel's inode: its shared mapping keeps reading and writing its data,
// with the descriptor still open and a forked child, after the close too,
// and a file created under the name is a new one.
TEST(MapExec, UnlinkedFilesKeepTheirMappings) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_MMAP_UNLINK, single = dir() + "/unl-single",
                    d = dir() + "/unl-dir";
  const std::string kernel = kernel_output(
      prog, "unl",
      {"unlinked: load at 4999 'a'\n", "store S at 10, pread: 1 'S'\n", "fstat size 5000\n",
       "after the child's store: load at 30 'C'\n", "closed: load at 10 'S'\n",
       "open without O_CREAT: No such file or directory\n", "a new file: size 0\n",
       "after writing the new file: load at 0 'a'\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single), kernel);
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_URING_POS)
// io_uring at offset -1 on a mapped file starts at the file position read(2)
// and lseek(2) move, and moves it on, as f_pos on a real file (a registered
// file's too).
TEST(MapExec, UringAtTheFilePosition) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_URING_POS, single = dir() + "/pos-single",
                    d = dir() + "/pos-dir";
  const std::string kernel = kernel_output(
      prog, "pos",
      {"io_uring read at -1 from 4096: 4096 'a', pos 8192\n", "read(): 4096 'b', pos 12288\n",
       "io_uring write at -1: 4096, pos 16384\n",
       "fixed file read at -1 from 8192: 4096 'b', pos 12288\n", "pread 12288: 'c'\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M", single), kernel);
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}
#endif

#if defined(IOSTACK_COMPAT_CHILD_URING)
// io_uring and AIO of a forked child and of an executed one, on the
// descriptor inherited and on their own opens, reach the mapped file
// through the process that holds its device: the parent reads what they
// wrote, as on a real file, and so does the image.
TEST(MapExec, ChildrensUringAndAioReachTheDevice) {
  SKIP_IF_SANITIZED();
  const std::string prog = IOSTACK_COMPAT_CHILD_URING, single = dir() + "/child-single",
                    d = dir() + "/child-dir";
  const std::string kernel = kernel_output(
      prog, "child",
      {"parent after the forked child: 4096 'c', 8192 'e', 12288 'f', size 16384\n",
       "parent after the executed child: 4096 'c', 8192 'e', 12288 'f', size 16384\n"});
  EXPECT_EQ(mapped_output(prog, single + "=wcache:ram:1M --image " + single + "=" + single + ".img",
                          single),
            kernel);
  const std::string img = slurp(single + ".img");
  ASSERT_EQ(img.size(), 16384u);
  EXPECT_EQ(img.substr(4096, 4) + img.substr(8192, 4) + img.substr(12288, 4),
            "ccccee"
            "eeffff");
  EXPECT_EQ(mapped_output(prog, d + "/=wcache:ram:4M", d + "/f"), kernel);
}
#endif

// util-linux flock(1) holds a lock on a mapped file while a command it
// runs tries it again from a new open: busy, and free once it is done.
TEST(MapExec, FlockCommandOnMappedFiles) {
  SKIP_IF_SANITIZED();
  if (!have("flock")) GTEST_SKIP() << "flock is not installed";
  const std::string f = dir() + "/flocked", d = dir() + "/flockdir", out = dir() + "/flocked.out";
  const std::pair<std::string, std::string> runs[] = {{f + "=wcache:ram:1M", f},
                                                      {d + "/=wcache:ram:4M", d + "/lock"}};
  for (const auto& [map, file] : runs) {
    ASSERT_EQ(sh(exec("--map " + map + " -- sh -c 'flock -n " + file + " -c \"flock -n " + file +
                      " true && echo inner free || echo inner busy\"; flock -n " + file +
                      " true && echo after free' >" + out)),
              0)
        << map;
    EXPECT_EQ(slurp(out), "inner busy\nafter free\n") << map;
  }
}

// Programs that write with stdio to a mapped file given on the command line.
TEST(MapExec, StdioOfUnmodifiedProgramsReachesTheDevice) {
  SKIP_IF_SANITIZED();
  if (!have("awk")) GTEST_SKIP() << "awk is not installed";
  const std::string f = dir() + "/awk", img = f + ".img";
  ASSERT_EQ(sh(exec("--map " + f + "=wcache:ram:1M --image " + f + "=" + img +
                    " -- awk 'BEGIN { for (i = 0; i < 3; i++) print i > \"" + f + "\" }'")),
            0);
  EXPECT_EQ(slurp(img), "0\n1\n2\n");
  EXPECT_EQ(slurp(f), "");
}
#endif

// A directory on a device (--map DIR/=SPEC): files made, renamed and
// unlinked there live on the device, and its names are durable only after
// the directory's fsync.
#if defined(IOSTACK_COMPAT_RENAME_UPDATE)
std::string rename_update() { return IOSTACK_COMPAT_RENAME_UPDATE; }

TEST(MapExecDir, FilesRenamesAndUnlinksReachTheImage) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/tree", out = dir() + "/tree.out";
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out + " -- " +
                    rename_update() + " ops " + d)),
            0);
  EXPECT_EQ(slurp(out + "/c"), "one\n");
  EXPECT_EQ(slurp(out + "/d"), "one\n");
  EXPECT_NE(access((out + "/a").c_str(), F_OK), 0);
  EXPECT_NE(access((out + "/b").c_str(), F_OK), 0);
  // The real directory holds empty placeholders under the same names.
  EXPECT_EQ(slurp(d + "/c"), "");
  EXPECT_NE(access((d + "/a").c_str(), F_OK), 0);
}

// A shell ends with _exit: its files are written back all the same.
TEST(MapExecDir, ShellRedirectionsReachTheImage) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/shell", out = dir() + "/shell.out";
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " -- sh -c 'echo one >" + d + "/a; echo two >>" + d + "/a'")),
            0);
  EXPECT_EQ(slurp(out + "/a"), "one\ntwo\n");
}

// The children of the program (forked, and executed: mv, cat, rm) see the
// directory the program sees, through the process iostack exec started.
TEST(MapExecDir, ChildrenShareTheDirectory) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/kids", out = dir() + "/kids.out", ls = dir() + "/kids.ls";
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " -- sh -c 'echo one >" + d + "/a; mv " + d + "/a " + d + "/c; cat " + d +
                    "/c >" + d + "/e; echo two >>" + d + "/e; echo gone >" + d + "/f; rm " + d +
                    "/f; ls -s --block-size=1 " + d + " >" + ls + "'")),
            0);
  EXPECT_EQ(slurp(out + "/c"), "one\n");
  EXPECT_EQ(slurp(out + "/e"), "one\ntwo\n");
  EXPECT_NE(access((out + "/a").c_str(), F_OK), 0);
  EXPECT_NE(access((out + "/f").c_str(), F_OK), 0);
  // ls (statx) sees the files' sizes, not the empty placeholders'.
  EXPECT_NE(slurp(ls).find("512 e"), std::string::npos) << slurp(ls);
}

// io_uring and AIO on a directory's file reach its extent of the device:
// fio's writes verify (read back from there), the image holds them and
// the placeholder stays empty. (--thread: the job runs in the program.)
TEST(MapExecDir, UringAndAioOnItsFiles) {
  SKIP_IF_SANITIZED();
  if (!have("fio")) GTEST_SKIP() << "fio is not installed";
  for (const std::string engine : {"io_uring", "libaio"}) {
    const std::string d = dir() + "/fio-" + engine, out = d + ".out";
    ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                      " -- fio --thread --name=x --filename=" + d + "/f --ioengine=" + engine +
                      " --rw=randwrite --bs=4k --size=64k --direct=1 --verify=crc32c"
                      " --do_verify=1 --verify_state_save=0 >/dev/null")),
              0)
        << engine;
    EXPECT_EQ(slurp(out + "/f").size(), 65536u) << engine;
    EXPECT_NE(slurp(out + "/f"), std::string(65536, '\0')) << engine;
    EXPECT_EQ(slurp(d + "/f"), "") << engine;
  }
}

// readdir lists the directory's names: an empty placeholder an earlier run
// left goes at the start, a file with data (not a placeholder) stays.
TEST(MapExecDir, ReaddirListsItsNames) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/list", ls = dir() + "/list.ls";
  ASSERT_EQ(sh("mkdir -p " + d + " && : >" + d + "/stale && echo x >" + d + "/kept"), 0);
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M -- sh -c 'echo one >" + d + "/a; : >" + d +
                    "/b; mv " + d + "/b " + d + "/c; ls " + d + " >" + ls + "'")),
            0);
  EXPECT_EQ(slurp(ls), "a\nc\nkept\n");
}

// Pipelines and background jobs: several children at once, forked and
// vforked by the shell, each writing through the program's page cache.
TEST(MapExecDir, PipelinesAndBackgroundJobs) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/pipes", out = dir() + "/pipes.out", in = input();
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out + " -- sh -c 'cat " +
                    in + " >" + d + "/a; cat " + d + "/a | cat >" + d + "/b; cat " + d + "/a >" +
                    d + "/c & cat " + d + "/b >" + d + "/e & wait; cp " + d + "/e " + d + "/f'")),
            0);
  for (const char* f : {"a", "b", "c", "e", "f"}) EXPECT_EQ(slurp(out + "/" + f), slurp(in)) << f;
}

// A shell's redirection closes a low descriptor and dup2s onto it while a
// child's connection was just accepted: iostack's accept4, blocked for the
// next child, held the lowest free number (1 here) and the dup2 failed
// with EBUSY, so the shell wrote to a closed stdout (seen as "echo: I/O
// error" and an empty file under load).
TEST(MapExecDir, RedirectionOntoANumberFreedWhileAChildConnected) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/redir", out = dir() + "/redir.out";
  // The child connects while the shell has no stdout; the shell then
  // redirects stdout to a new file.
  ASSERT_EQ(
      sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out + " -- sh -c 'echo one >" +
              d + "/a; (sleep 0.2; cat " + d +
              "/a >/dev/null) & exec 7>&1 1>&-; sleep 0.6; exec 1>" + d + "/b; echo two; wait'")),
      0);
  EXPECT_EQ(slurp(out + "/b"), "two\n");
}

// Subdirectories of a mapped directory with coreutils (mkdir, mv, rmdir,
// ls): they reach the image, and each directory's fsync (sync DIR) makes
// only its own names durable: a file whose subdirectory the top never
// named durably is gone after the cut.
TEST(MapExecDir, SubdirectoriesWithCoreutils) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/subs", out = dir() + "/subs.out", ls = dir() + "/subs.ls",
                    err = dir() + "/subs.err";
  sh("rm -rf " + d);
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " -- sh -c 'mkdir " + d + "/s && echo one >" + d + "/s/a && mkdir -p " + d +
                    "/s/t/u && mv " + d + "/s/a " + d + "/s/t/b && mkdir " + d + "/gone && rmdir " +
                    d + "/gone && mv " + d + "/s " + d + "/r && ls -R " + d + " >" + ls +
                    " && rmdir " + d + "/r 2>" + err + "; mkdir " + d + "/r/t/b 2>>" + err + "'")),
            1);
  EXPECT_EQ(slurp(out + "/r/t/b"), "one\n");
  EXPECT_NE(access((out + "/gone").c_str(), F_OK), 0);
  EXPECT_NE(access((out + "/s").c_str(), F_OK), 0);
  EXPECT_EQ(slurp(ls), d + ":\nr\n\n" + d + "/r:\nt\n\n" + d + "/r/t:\nb\nu\n\n" + d + "/r/t/u:\n");
  EXPECT_NE(slurp(err).find("Directory not empty"), std::string::npos) << slurp(err);
  EXPECT_NE(slurp(err).find("File exists"), std::string::npos) << slurp(err);
  // fsyncs: the file, its directory s, then the top (or not), then the cut.
  for (const bool top : {false, true}) {
    sh("rm -rf " + d);
    EXPECT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                      " --powercut=fsync=" + (top ? "4" : "3") + " -- sh -c 'mkdir " + d +
                      "/s; echo one >" + d + "/s/f; sync " + d + "/s/f; sync " + d + "/s; " +
                      (top ? "sync " + d + "; " : "") + "sync " + d + "/s/f' 2>/dev/null")),
              128 + 9)
        << top;
    EXPECT_EQ(slurp(out + "/s/f"), top ? "one\n" : "") << top;
    EXPECT_EQ(access((out + "/s").c_str(), F_OK) == 0, top) << top;
  }
}

// A power cut during a child's write ends the child with the program.
TEST(MapExecDir, PowerCutInAChildEndsItToo) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/kidcut", out = dir() + "/kidcut.out";
  // Write calls: echo's (the shell's own), then cat's, at which the power goes.
  EXPECT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " --powercut=calls=2 -- sh -c 'echo one >" + d + "/a; sync " + d + "/a; sync " +
                    d + "; cat " + d + "/a >" + d + "/b; echo never >" + d + "/c' 2>/dev/null")),
            128 + 9);
  EXPECT_EQ(slurp(out + "/a"), "one\n");
  EXPECT_NE(access((out + "/b").c_str(), F_OK), 0);
  EXPECT_NE(access((out + "/c").c_str(), F_OK), 0);
}

// rename_update's fsyncs: data, ack, DIR, ack "1", data.tmp, [DIR], ack "2".
TEST(MapExecDir, PowerCutKeepsOnlyDurableNames) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/ru", out = dir() + "/ru.out";
  // Cut as the acknowledgement is fsynced: without the directory's fsync
  // the rename is not durable, data is version 1 and data.tmp never was.
  sh("rm -rf " + d);
  EXPECT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " --powercut=fsync=6 -- " + rename_update() + " write " + d +
                    " nodirsync 2>/dev/null")),
            128 + 9);
  EXPECT_EQ(slurp(out + "/data"), std::string(10000, '1'));
  EXPECT_EQ(slurp(out + "/ack"), "1\n");
  EXPECT_NE(access((out + "/data.tmp").c_str(), F_OK), 0);
  // With it, the same cut finds version 2.
  sh("rm -rf " + d);
  EXPECT_EQ(
      sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
              " --powercut=fsync=7 -- " + rename_update() + " write " + d + " good 2>/dev/null")),
      128 + 9);
  EXPECT_EQ(slurp(out + "/data"), std::string(10000, '2'));
  EXPECT_EQ(slurp(out + "/ack"), "1\n");
}

// O_DIRECT on a directory's file goes to the device under the block
// layer's alignment rules: whole blocks reach the image, a write of 1000
// bytes fails with EINVAL where a buffered one would have been taken.
TEST(MapExecDir, DirectIoOnItsFiles) {
  SKIP_IF_SANITIZED();
  if (!have("dd")) GTEST_SKIP() << "dd is not installed";
  const std::string d = dir() + "/direct", out = dir() + "/direct.out", in = dir() + "/in8k",
                    err = dir() + "/direct.err";
  {
    std::ofstream f(in);
    for (int i = 0; i < 8192; ++i) f << static_cast<char>('a' + i % 26);
  }
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out +
                    " -- sh -c 'dd if=" + in + " of=" + d +
                    "/x bs=4096 oflag=direct 2>/dev/null && dd if=" + in + " of=" + d +
                    "/y bs=1000 count=1 oflag=direct 2>" + err + "; sync " + d + "'")),
            0);
  EXPECT_EQ(slurp(out + "/x"), slurp(in));
  EXPECT_EQ(slurp(out + "/y"), "");
  EXPECT_NE(slurp(err).find("Invalid argument"), std::string::npos) << slurp(err);
}

// iostack crash on both variants (examples/crash-rename.sh): only the one
// without the directory's fsync has inconsistent crash states.
TEST(MapExecDir, CrashStatesOfRenameNeedTheDirectoryFsync) {
  SKIP_IF_SANITIZED();
  const std::string out = dir() + "/crash-rename.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/crash-rename.sh " +
               IOSTACK_COMPAT_IOSTACK + " " + rename_update() + " >" + out),
            0)
      << slurp(out);
  const std::string o = slurp(out);
  EXPECT_NE(o.find("good: checked "), std::string::npos) << o;
  EXPECT_NE(o.find(": 0 inconsistent\nnodirsync: checked "), std::string::npos) << o;
  EXPECT_EQ(o.find("nodirsync: checked 0"), std::string::npos) << o;
}

// The same update as a shell script of unmodified coreutils (printf, sync
// FILE, sync DIR, mv), the default of examples/crash-rename.sh.
TEST(MapExecDir, CrashStatesOfAShellRename) {
  SKIP_IF_SANITIZED();
  const std::string out = dir() + "/crash-rename-sh.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/crash-rename.sh " +
               IOSTACK_COMPAT_IOSTACK + " sh >" + out),
            0)
      << slurp(out);
  EXPECT_NE(slurp(out).find(": 0 inconsistent\nnodirsync: checked "), std::string::npos)
      << slurp(out);
}
#endif

TEST(MapExecDir, BadDirectoryIsOneLine) {
  SKIP_IF_SANITIZED();
  const std::string d = dir() + "/small", err = dir() + "/small.err";
  EXPECT_EQ(sh(exec("--map " + d + "/=ram:64K -- true 2>" + err)), 2);
  const std::string e = slurp(err);
  EXPECT_EQ(e.rfind("iostack exec: --map " + d + "/: the device is too small", 0), 0u) << e;
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  // A device image that is not a directory.
  const std::string img = dir() + "/notadir.img";
  sh("echo garbage >" + img);
  EXPECT_EQ(sh(std::string(IOSTACK_COMPAT_IOSTACK) + " dir-files " + img + " " + dir() +
               "/notadir 2>" + err),
            1);
  EXPECT_EQ(slurp(err), "iostack dir-files: " + img +
                            ": block 0 is not an iostack directory (expected magic iostkfs1)\n");
}

// The sqlite3 shell under random power cuts (examples/sqlite-powercut.sh).
TEST(MapExec, SqliteSynchronousFullKeepsEveryCommittedRow) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string out = dir() + "/full.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/sqlite-powercut.sh 20 FULL " +
               IOSTACK_COMPAT_IOSTACK + " >" + out),
            0)
      << slurp(out);
  EXPECT_NE(slurp(out).find("cuts=20 "), std::string::npos) << slurp(out);
  EXPECT_NE(slurp(out).find(" lost_rows=0 "), std::string::npos) << slurp(out);
  EXPECT_NE(slurp(out).find(" corrupt=0"), std::string::npos) << slurp(out);
}

TEST(MapExec, SqliteSynchronousOffLosesCommittedRows) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string out = dir() + "/off.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/sqlite-powercut.sh 20 OFF " +
               IOSTACK_COMPAT_IOSTACK + " >" + out),
            1)
      << slurp(out);
  EXPECT_EQ(slurp(out).find(" lost_rows=0 "), std::string::npos) << slurp(out);
}

// Two connections of one sqlite3 shell to one database in a mapped
// directory: both opens are one inode (sqlite shares its locks by st_ino)
// and the POSIX locks are the kernel's, so the second cannot write while the
// first holds an exclusive transaction.
TEST(MapExec, SqliteTwoConnectionsLockEachOther) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string d = dir() + "/two", out = dir() + "/two.out", sql = dir() + "/two.sql",
                    err = dir() + "/two.err";
  {
    std::ofstream f(sql);
    f << "CREATE TABLE t(x);\nBEGIN EXCLUSIVE;\nINSERT INTO t VALUES(1);\n.connection 1\n.open "
      << d << "/db\nINSERT INTO t VALUES(2);\n.connection 0\nCOMMIT;\n.connection 1\n"
      << "INSERT INTO t VALUES(3);\n";
  }
  EXPECT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out + " -- sqlite3 " +
                    d + "/db <" + sql + " 2>" + err)),
            1);
  EXPECT_NE(slurp(err).find("database is locked"), std::string::npos) << slurp(err);
  EXPECT_EQ(sh("sqlite3 " + out + "/db 'SELECT group_concat(x) FROM t' >" + err), 0);
  EXPECT_EQ(slurp(err), "1,3\n");
}

// WAL with normal locking in a mapped directory: sqlite3 maps db-shm
// MAP_SHARED for its WAL index, which a second connection and a second
// sqlite3 process (mapping it too) share; the rows reach the image, and
// with random power cuts every committed row survives.
TEST(MapExec, SqliteWalWithSharedMemoryIndex) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string d = dir() + "/walshm", out = dir() + "/walshm.img", sql = dir() + "/walshm.sql",
                    res = dir() + "/walshm.out";
  {
    std::ofstream f(sql);
    f << "PRAGMA journal_mode=WAL;\nCREATE TABLE t(x);\nINSERT INTO t VALUES(1),(2);\n"
      << ".connection 1\n.open " << d << "/db\nINSERT INTO t VALUES(3);\n"
      << ".connection 0\n.system sqlite3 " << d
      << "/db 'INSERT INTO t VALUES(4); SELECT count(*) FROM t;'\n"
      << "SELECT group_concat(x) FROM t;\n";
  }
  ASSERT_EQ(sh(exec("--map " + d + "/=wcache:ram:4M --image " + d + "/=" + out + " -- sqlite3 " +
                    d + "/db <" + sql + " >" + res + " 2>&1")),
            0)
      << slurp(res);
  EXPECT_EQ(slurp(res), "wal\n4\n1,2,3,4\n");
  EXPECT_EQ(sh("sqlite3 " + out + "/db 'SELECT group_concat(x) FROM t' >" + res), 0);
  EXPECT_EQ(slurp(res), "1,2,3,4\n");
  const std::string cuts = dir() + "/waldir.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/sqlite-powercut.sh 10 FULL " +
               IOSTACK_COMPAT_IOSTACK + " WALDIR >" + cuts),
            0)
      << slurp(cuts);
  EXPECT_NE(slurp(cuts).find("cuts=10 "), std::string::npos) << slurp(cuts);
}

// The rollback journal (journal_mode=DELETE): sqlite3 creates and deletes
// db-journal in the mapped directory, with real POSIX locks on one inode.
// The commit is the journal's unlink, which only synchronous=EXTRA makes
// durable (by fsync of the directory): with FULL a cut right after a commit
// may bring the journal back and roll that one transaction back.
TEST(MapExec, SqliteRollbackJournalExtraKeepsEveryCommittedRow) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string out = dir() + "/delete-extra.out";
  EXPECT_EQ(sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/sqlite-powercut.sh 20 EXTRA " +
               IOSTACK_COMPAT_IOSTACK + " DELETE >" + out),
            0)
      << slurp(out);
  EXPECT_NE(slurp(out).find("cuts=20 "), std::string::npos) << slurp(out);
  EXPECT_NE(slurp(out).find(" lost_rows=0 "), std::string::npos) << slurp(out);
  EXPECT_NE(slurp(out).find(" corrupt=0"), std::string::npos) << slurp(out);
}

TEST(MapExec, SqliteRollbackJournalFullLosesAtMostTheLastCommit) {
  SKIP_IF_SANITIZED();
  if (!have("sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/install-deps.sh)";
  const std::string out = dir() + "/delete-full.out";
  sh(std::string(IOSTACK_SOURCE_DIR) + "/examples/sqlite-powercut.sh 20 FULL " +
     IOSTACK_COMPAT_IOSTACK + " DELETE >" + out);
  const std::string o = slurp(out);
  EXPECT_NE(o.find("cuts=20 "), std::string::npos) << o;
  EXPECT_NE(o.find(" corrupt=0"), std::string::npos) << o;
  // One row per transaction: each run lost at most its last one.
  const auto field = [&](const std::string& key) {
    const std::size_t at = o.find(" " + key + "=");
    return at == std::string::npos ? -1L : std::atol(o.c_str() + at + key.size() + 2);
  };
  EXPECT_GE(field("lost_rows"), 0) << o;
  EXPECT_EQ(field("lost_rows"), field("runs_with_loss")) << o;
}

}  // namespace

#endif
