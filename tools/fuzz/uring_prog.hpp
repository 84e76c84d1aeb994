// A fuzz program for io_uring: ring setup, then steps that each submit a
// batch of SQEs (or poke the pipe or eventfd from outside), all named
// symbolically so the same program runs on the kernel and on iostack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rng.hpp"
#include "world.hpp"

namespace fuzz {

struct SqeSpec {
  std::uint8_t opcode = 0;
  std::uint8_t flags = 0;
  std::uint16_t ioprio = 0;
  FdSel fd;
  Addr off;  // also addr2 (STATX buffer, POLL_REMOVE and TIMEOUT_REMOVE update values)
  Addr addr;
  std::uint32_t len = 0;
  std::uint32_t op_flags = 0;  // rw_flags, fsync_flags, timeout_flags, ...
  std::uint64_t user_data = 0;
  std::uint16_t buf_index = 0;
  std::uint16_t personality = 0;
  std::uint32_t file_index = 0;  // splice_fd_in / file_index
  std::uint64_t addr3 = 0;
  std::vector<IovSeg> iov;  // when addr.kind == AK::kIov
  // On an SQE128 ring: the byte the second 64 bytes are filled with (0:
  // zeros), which only commands read.
  std::uint8_t big_fill = 0;
  // A second descriptor (SPLICE/TEE's input, a path op's new directory,
  // EPOLL_CTL's target), and the field it goes in.
  enum Fd2In : std::uint8_t { kNoFd2, kFd2SpliceIn, kFd2Len, kFd2Off };
  Fd2In fd2_in = kNoFd2;
  FdSel fd2;
  Addr addr3_at;  // when not raw: what addr3 points at (GETXATTR/SETXATTR's path)
};

// One step of a program.
struct Step {
  enum Kind : std::uint8_t { kSubmit, kPipeWrite, kEventfdWrite, kPipeRead };
  Kind kind = kSubmit;
  std::vector<SqeSpec> sqes;
};

struct UringProgram {
  std::uint32_t entries = 16;
  std::uint32_t setup_flags = 0;
  bool reg_files = true;
  bool reg_bufs = true;
  std::vector<Step> steps;
};

// The registered file table and buffers every run sets up.
constexpr int kFixedFiles[] = {kFileA, kPipeR, kPipeW, kEventfd, -1, kFileB};
constexpr unsigned kNumFixedFiles = sizeof(kFixedFiles) / sizeof(kFixedFiles[0]);
constexpr unsigned kFixedBufs[] = {0, 2};  // world buffers registered as index 0 and 1

UringProgram uring_generate(std::uint64_t seed);
// An SQE of the opcodes added to the generator later (sockets, splice,
// provided buffers, path and xattr ops, ...), drawn from `r` alone.
void uring_gen_extended(Rng& r, SqeSpec& s);
// Opcodes whose positive result is a new descriptor (compared as "fd").
bool uring_returns_fd(unsigned opcode);
std::string uring_print(const UringProgram& p);
std::string uring_op_name(unsigned op);
// The opcode of the request with this user_data ("?" if none).
std::string uring_op_of(const UringProgram& p, std::uint64_t user_data);

// Runs `p` in this (child) process on the kernel (kernel = true) or on
// iostack, in world directory `dir`; returns the canonical log.
std::string uring_execute(const UringProgram& p, bool kernel, const std::string& dir, int quiet_ms);

// Minimisation: the program's items (SQEs and event steps), in order.
std::size_t uring_items(const UringProgram& p);
UringProgram uring_without(const UringProgram& p, std::size_t item);

}  // namespace fuzz

namespace fuzz {
std::string uring_classify(const UringProgram& p, const Log& klog, const Log& ilog,
                           const std::string& key, const std::string& kval,
                           const std::string& ival);
}  // namespace fuzz
