// The small deterministic world a fuzz program runs in: regular files in a
// temporary directory, a directory, a pipe, an eventfd, /dev/null, the ring
// (io_uring runs), buffers with a guard page; and how programs name them.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "log.hpp"

namespace fuzz {

// Descriptors of the world, opened in this order in every run.
enum Slot : int {
  kFileA,  // "a": 16 KiB, O_RDWR
  kFileB,  // "b": 8 KiB, O_RDONLY
  kFileC,  // "c": 4 KiB, O_WRONLY | O_APPEND
  kFileE,  // "e": empty, O_RDWR
  kDir,    // "d": a directory (holds "x")
  kPipeR,  // a pipe holding 16 bytes
  kPipeW,
  kEventfd,   // counter 2, blocking
  kDevNull,   // /dev/null, O_RDWR
  kRing,      // the io_uring being fuzzed (-1 in AIO runs)
  kNumSlots,  // the slots any-descriptor draws pick from (older programs)
  // Added later, drawn only by the ops that want them.
  kSockA = kNumSlots,  // a connected AF_UNIX stream socketpair, empty
  kSockB,
  kEpoll,  // an epoll instance watching pipeR for EPOLLIN
  kNumAllSlots
};
const char* slot_name(int slot);
constexpr int kNumFiles = 4;  // slots 0..3 are regular files

// A descriptor as a program names it: a world slot, or a raw number.
struct FdSel {
  int slot = -1;  // >= 0: a world slot
  int raw = -1;
};
std::string fd_str(const FdSel& f);

// An address as a program names it, resolved in each run.
enum class AK : std::uint8_t {
  kRaw,       // the number itself (0 included)
  kBuf,       // bufs[idx] + off
  kIov,       // the request's own iovec array (IovSeg list)
  kPath,      // kPaths[idx]
  kTs,        // a __kernel_timespec from kTimespecs[idx]
  kStatx,     // a struct statx to fill
  kProtNone,  // a mapped page without access
  kKernel,    // an address in the kernel half
  kFds,       // an int array of world descriptors (FILES_UPDATE)
  kName,      // kXattrNames[idx]
  kHow,       // a struct open_how, kHows[idx]
  kEpev,      // a struct epoll_event (EPOLLIN, data 7)
  kMsg,       // a struct msghdr over buffer 1's first 16 bytes
  kSockaddr,  // a struct sockaddr_un naming "sock" in the world directory
  kWaitv,     // a struct futex_waitv for buffer 0's first word
  kScratch,   // memory whose contents the log leaves out (descriptor numbers)
};
struct Addr {
  AK kind = AK::kRaw;
  std::uint8_t idx = 0;
  std::uint32_t off = 0;
  std::uint64_t raw = 0;
};
std::string addr_str(const Addr& a);
// The world file (slot) path kPaths[idx] names from the world directory, or -1.
int path_file_slot(unsigned idx);
Addr raw(std::uint64_t v);
Addr buf(unsigned idx, std::uint32_t off);

struct IovSeg {
  Addr base;
  std::uint64_t len = 0;
};

constexpr unsigned kNumBufs = 4;
constexpr std::uint32_t kBufSize = 8192;
constexpr unsigned kNumPaths = 10;
constexpr unsigned kNumTimespecs = 6;
constexpr unsigned kNumXattrNames = 5;
constexpr unsigned kNumHows = 4;
constexpr std::uint32_t kSockaddrLen = 7;  // sun_family and "sock\0"
// The first 32-bit word of buffer 0 as the world fills it ("abcd").
constexpr std::uint32_t kBuf0Word = 0x64636261;

// The world of one run (lives in the child process that runs it).
class World {
 public:
  // Builds the world in `dir` (an existing empty directory) and chdirs there.
  bool create(const std::string& dir, std::string* err);
  int fd(const FdSel& f) const { return f.slot >= 0 ? fds[f.slot] : f.raw; }
  std::uint64_t addr(const Addr& a);
  // Builds and keeps an iovec array for `segs`; returns its address.
  std::uint64_t iovec_array(const std::vector<IovSeg>& segs);
  char* bufptr(unsigned idx) { return bufs_ + idx * kBufSize; }
  // Files, positions, directory entries, what is left in the pipe and the
  // eventfd, buffer contents.
  void final_state(Log* log);

  int fds[kNumAllSlots] = {};
  // Reads the epoll instance as a program under `iostack exec` does: rings
  // in it report io_uring_poll's mask (the interposed epoll_wait).
  bool epoll_as_iostack = false;

 private:
  char* bufs_ = nullptr;
  char* guard_ = nullptr;
  std::vector<std::vector<struct iovec>> iovs_;
  void* statx_ = nullptr;
  void* timespecs_ = nullptr;
  void* objs_ = nullptr;  // the fixed objects kFds..kScratch point at
  bool create_extra(std::string* err);
  std::uint64_t extra_addr(const Addr& a);
  void extra_state(Log* log);
};

// Removes a run's directory tree.
void remove_tree(const std::string& dir);

}  // namespace fuzz
