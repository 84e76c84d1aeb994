// The AIO program generator: mostly valid iocbs over the world, with faulty
// fields now and then, and its printing and minimisation helpers.
#include <linux/fs.h>
#include <poll.h>

#include <cstdio>

#include "aio_prog.hpp"
#include "rng.hpp"

namespace fuzz {

namespace {

FdSel slot(int s) { return FdSel{s, -1}; }
FdSel raw_fd(int v) { return FdSel{-1, v}; }

FdSel pick_fd(Rng& r, std::initializer_list<int> good) {
  const unsigned c = r.below(100);
  if (c < 82) return slot(r.pick(good));
  if (c < 94) return slot(static_cast<int>(r.below(kRing)));
  return raw_fd(r.pick({-1, 999, 1 << 30}));
}

Addr bad_addr(Rng& r) {
  Addr a;
  switch (r.below(3)) {
    case 0:
      return raw(0);
    case 1:
      a.kind = AK::kProtNone;
      return a;
    default:
      a.kind = AK::kKernel;
      return a;
  }
}

Addr data_addr(Rng& r, std::uint64_t* len) {
  if (r.chance(5)) return bad_addr(r);
  const unsigned idx = r.below(kNumBufs);
  std::uint32_t off = r.chance(60) ? 0 : r.pick<std::uint32_t>({512, 4096, 100, 8000});
  if (r.chance(3)) off = kBufSize - 16;
  if (*len + off > kBufSize && r.chance(80)) *len = kBufSize - off;
  return buf(idx, off);
}

std::uint32_t rw_flags(Rng& r) {
  if (r.chance(80)) return 0;
  std::uint32_t f = r.pick<std::uint32_t>({RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND,
                                           0x20, 0x40, 0x80, 0x100, 0x80000000u});
  if (r.chance(20)) f |= RWF_NOWAIT;
  return f;
}

std::int64_t file_off(Rng& r) {
  const unsigned c = r.below(100);
  if (c < 60) return r.pick<std::int64_t>({0, 512, 4096, 8192});
  if (c < 85) return r.below(20000);
  return r.pick<std::int64_t>({-1, 16384, 1LL << 40, 0x7fffffffffffffffLL});
}

constexpr std::initializer_list<int> kRwFds = {kFileA, kFileA, kFileB, kFileC, kFileE,
                                              kPipeR, kPipeW, kEventfd, kDevNull, kDir};

IocbSpec gen_iocb(Rng& r, std::uint64_t data) {
  IocbSpec c;
  c.data = data;
  const unsigned w = r.below(100);
  if (w < 25)
    c.opcode = IOCB_CMD_PREAD;
  else if (w < 45)
    c.opcode = IOCB_CMD_PWRITE;
  else if (w < 57)
    c.opcode = IOCB_CMD_PREADV;
  else if (w < 67)
    c.opcode = IOCB_CMD_PWRITEV;
  else if (w < 74)
    c.opcode = IOCB_CMD_FSYNC;
  else if (w < 79)
    c.opcode = IOCB_CMD_FDSYNC;
  else if (w < 95)
    c.opcode = IOCB_CMD_POLL;
  else
    c.opcode = r.pick<std::uint16_t>({IOCB_CMD_NOOP, 4, 9, 100});

  switch (c.opcode) {
    case IOCB_CMD_PREAD:
    case IOCB_CMD_PWRITE: {
      c.fd = pick_fd(r, kRwFds);
      std::uint64_t len = r.pick<std::uint64_t>({0, 1, 8, 100, 512, 4096, 4096, 8192});
      if (c.fd.slot == kEventfd && r.chance(60)) len = 8;
      c.buf = data_addr(r, &len);
      c.nbytes = len;
      c.offset = file_off(r);
      c.rw_flags = rw_flags(r);
      break;
    }
    case IOCB_CMD_PREADV:
    case IOCB_CMD_PWRITEV: {
      c.fd = pick_fd(r, kRwFds);
      c.offset = file_off(r);
      c.rw_flags = rw_flags(r);
      if (r.chance(5)) {
        c.buf = bad_addr(r);
        c.nbytes = 1 + r.below(2);
        break;
      }
      c.buf.kind = AK::kIov;
      const unsigned n = r.pick<unsigned>({1, 1, 2, 3, 5});
      for (unsigned i = 0; i < n; ++i) {
        IovSeg seg;
        std::uint64_t len = r.pick<std::uint64_t>({0, 8, 100, 512, 4096});
        seg.base = data_addr(r, &len);
        seg.len = len;
        c.iov.push_back(seg);
      }
      c.nbytes = n;
      if (r.chance(5)) c.nbytes = r.pick<std::uint64_t>({0, n + 1, 1025});
      break;
    }
    case IOCB_CMD_FSYNC:
    case IOCB_CMD_FDSYNC:
      c.fd = pick_fd(r, {kFileA, kFileA, kFileC, kFileB, kPipeW, kDir, kEventfd, kDevNull});
      if (r.chance(8)) c.nbytes = 4096;
      if (r.chance(5)) c.offset = 4096;
      if (r.chance(5)) c.buf = buf(0, 0);
      if (r.chance(5)) c.rw_flags = RWF_DSYNC;
      break;
    case IOCB_CMD_POLL:
      c.fd = pick_fd(r, {kPipeR, kPipeR, kPipeW, kEventfd, kFileA, kDevNull, kDir});
      c.buf = raw(r.pick<std::uint64_t>({POLLIN, POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI, 0,
                                         POLLRDHUP, 0x10000000}));
      if (r.chance(5)) c.nbytes = 1;
      if (r.chance(5)) c.offset = 1;
      if (r.chance(4)) c.rw_flags = 1;
      break;
    default:
      c.fd = slot(kFileA);
      break;
  }
  if (r.chance(6)) {
    c.flags |= IOCB_FLAG_RESFD;
    c.resfd = r.chance(80) ? slot(kEventfd) : pick_fd(r, {kPipeW, kFileA});
    if (r.chance(5)) c.resfd = raw_fd(-1);
  }
  if (r.chance(6)) {
    c.flags |= IOCB_FLAG_IOPRIO;
    c.reqprio = static_cast<std::int16_t>(r.pick<int>({(2 << 13) | 4, 1 << 13, 3 << 13, 0, 7 << 13, -1, (2 << 13) | 9}));
  } else if (r.chance(3)) {
    c.reqprio = 5;
  }
  if (r.chance(2)) c.flags |= 4;
  if (r.chance(2)) c.reserved2 = 1;
  if (r.chance(3)) c.ptr = r.pick<std::uint8_t>({1, 2});
  return c;
}

}  // namespace

AioProgram aio_generate(std::uint64_t seed) {
  Rng r(seed ^ 0xa10a10a1ULL);
  AioProgram p;
  p.nr_events = r.pick<unsigned>({1, 2, 4, 32, 128});
  std::uint64_t data = 1;
  const unsigned nsteps = 1 + r.below(4);
  for (unsigned i = 0; i < nsteps; ++i) {
    AioStep st;
    if (i > 0 && r.chance(20)) {
      st.kind = r.pick<AioStep::Kind>({AioStep::kPipeWrite, AioStep::kEventfdWrite, AioStep::kPipeRead});
      p.steps.push_back(st);
      continue;
    }
    const unsigned n = 1 + r.below(6);
    for (unsigned k = 0; k < n; ++k) st.iocbs.push_back(gen_iocb(r, data++));
    if (r.chance(3)) st.nr_delta = r.pick<long>({-1 - static_cast<long>(n), -1, 1});
    p.steps.push_back(st);
  }
  return p;
}

std::string aio_op_name(unsigned op) {
  switch (op) {
    case IOCB_CMD_PREAD:
      return "PREAD";
    case IOCB_CMD_PWRITE:
      return "PWRITE";
    case IOCB_CMD_FSYNC:
      return "FSYNC";
    case IOCB_CMD_FDSYNC:
      return "FDSYNC";
    case IOCB_CMD_POLL:
      return "POLL";
    case IOCB_CMD_NOOP:
      return "NOOP";
    case IOCB_CMD_PREADV:
      return "PREADV";
    case IOCB_CMD_PWRITEV:
      return "PWRITEV";
    default:
      return "CMD" + std::to_string(op);
  }
}

std::string aio_print(const AioProgram& p) {
  std::string out = "io_setup nr_events=" + std::to_string(p.nr_events) + "\n";
  int n = 0;
  for (const AioStep& st : p.steps) {
    switch (st.kind) {
      case AioStep::kPipeWrite:
        out += "  -- write 8 bytes to pipeW\n";
        continue;
      case AioStep::kEventfdWrite:
        out += "  -- write 1 to eventfd\n";
        continue;
      case AioStep::kPipeRead:
        out += "  -- read what pipeR holds\n";
        continue;
      case AioStep::kSubmit:
        break;
    }
    out += "  io_submit #" + std::to_string(n++) + " nr=" +
           std::to_string(static_cast<long>(st.iocbs.size()) + st.nr_delta) + ":\n";
    for (const IocbSpec& c : st.iocbs) {
      std::string l = "    data=" + std::to_string(c.data) + " " + aio_op_name(c.opcode) +
                      " fd=" + fd_str(c.fd);
      if (c.buf.kind != AK::kRaw || c.buf.raw) l += " buf=" + addr_str(c.buf);
      if (!c.iov.empty()) {
        l += "[";
        for (const IovSeg& v : c.iov) l += addr_str(v.base) + ":" + std::to_string(v.len) + " ";
        l.back() = ']';
      }
      if (c.nbytes) l += " nbytes=" + std::to_string(c.nbytes);
      if (c.offset) l += " offset=" + std::to_string(c.offset);
      if (c.rw_flags) l += " rw_flags=" + hex(c.rw_flags);
      if (c.reqprio) l += " reqprio=" + hex(static_cast<std::uint16_t>(c.reqprio));
      if (c.flags) l += " flags=" + hex(c.flags);
      if (c.flags & IOCB_FLAG_RESFD) l += " resfd=" + fd_str(c.resfd);
      if (c.reserved2) l += " reserved2=" + std::to_string(c.reserved2);
      if (c.ptr == 1) l += " (NULL in the array)";
      if (c.ptr == 2) l += " (bad pointer in the array)";
      out += l + "\n";
    }
  }
  return out;
}

std::size_t aio_items(const AioProgram& p) {
  std::size_t n = 0;
  for (const AioStep& st : p.steps) n += st.kind == AioStep::kSubmit ? st.iocbs.size() : 1;
  return n;
}

AioProgram aio_without(const AioProgram& p, std::size_t item) {
  AioProgram q = p;
  q.steps.clear();
  std::size_t i = 0;
  for (const AioStep& st : p.steps) {
    if (st.kind != AioStep::kSubmit) {
      if (i++ != item) q.steps.push_back(st);
      continue;
    }
    AioStep s2 = st;
    s2.iocbs.clear();
    for (const IocbSpec& c : st.iocbs)
      if (i++ != item) s2.iocbs.push_back(c);
    if (!s2.iocbs.empty()) q.steps.push_back(s2);
  }
  return q;
}

}  // namespace fuzz
