// A fuzz program for Linux AIO: a context, then steps that each submit a
// batch of iocbs with one io_submit (or poke the pipe or eventfd).
#pragma once

#include <linux/aio_abi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "world.hpp"

namespace fuzz {

struct IocbSpec {
  std::uint16_t opcode = 0;
  FdSel fd;
  Addr buf;
  std::uint64_t nbytes = 0;
  std::int64_t offset = 0;
  std::uint32_t rw_flags = 0;
  std::int16_t reqprio = 0;
  std::uint32_t flags = 0;
  FdSel resfd;
  std::uint64_t reserved2 = 0;
  std::uint64_t data = 0;
  std::vector<IovSeg> iov;  // when buf.kind == AK::kIov
  // How the io_submit array points at it: 0 normally, 1 NULL, 2 a bad address.
  std::uint8_t ptr = 0;
};

struct AioStep {
  enum Kind : std::uint8_t { kSubmit, kPipeWrite, kEventfdWrite, kPipeRead };
  Kind kind = kSubmit;
  std::vector<IocbSpec> iocbs;
  long nr_delta = 0;  // io_submit's nr is the batch size plus this
};

struct AioProgram {
  unsigned nr_events = 32;
  std::vector<AioStep> steps;
};

AioProgram aio_generate(std::uint64_t seed);
std::string aio_print(const AioProgram& p);
std::string aio_execute(const AioProgram& p, bool kernel, const std::string& dir, int quiet_ms);
std::size_t aio_items(const AioProgram& p);
AioProgram aio_without(const AioProgram& p, std::size_t item);
std::string aio_classify(const AioProgram& p, const Log& klog, const Log& ilog, const std::string& key, const std::string& kval,
                         const std::string& ival);
std::string aio_op_name(unsigned op);

}  // namespace fuzz
