// Naming a difference between the kernel's and iostack's io_uring runs.
#include <linux/io_uring.h>

#include <fcntl.h>
#include <poll.h>

#include <cctype>
#include <cstdlib>
#include <vector>

#include "campaign.hpp"
#include "uring_prog.hpp"

namespace fuzz {

namespace {

// "res=-EINVAL flags=0x0" -> "-EINVAL"; positive results -> "+".
std::string res_of(const std::string& v) {
  if (v == "none") return "none";
  const auto b = v.find("res=");
  const auto e = v.find(' ', b);
  std::string r = v.substr(b + 4, e - b - 4);
  if (!r.empty() && (std::isdigit(static_cast<unsigned char>(r[0])) && r != "0")) r = "+";
  return r;
}

// The SQE a submission stopped at (the `count`-th of the step's batch),
// with the CQEs both runs gave it.
std::string stop_op(const UringProgram& p, const Log& klog, const Log& ilog, unsigned step,
                    long count) {
  unsigned n = 0;
  for (const Step& st : p.steps) {
    if (st.kind != Step::kSubmit) continue;
    if (n++ != step) continue;
    if (count >= 1 && static_cast<std::size_t>(count) <= st.sqes.size()) {
      const SqeSpec& s = st.sqes[static_cast<std::size_t>(count) - 1];
      const std::string key = "cqe " + std::to_string(s.user_data) + "#0";
      return uring_op_name(s.opcode) + " (kernel " + res_of(log_value(klog, key)) + ", iostack " +
             res_of(log_value(ilog, key)) + ")";
    }
  }
  return "?";
}

// Ops whose prep sets REQ_F_FORCE_ASYNC in 6.x (fadvise only for advice
// that may block): the kernel's io-wq worker looks their descriptor up
// (io_wq_submit_work's io_assign_file), not the submitter.
bool links_on(const SqeSpec& s) { return s.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK); }

bool always_iowq(const SqeSpec& s) {
  switch (s.opcode) {
    case IORING_OP_FSYNC:
    case IORING_OP_SYNC_FILE_RANGE:
    case IORING_OP_FALLOCATE:
    case IORING_OP_SPLICE:
    case IORING_OP_TEE:
    case 55: /* FTRUNCATE */
    case IORING_OP_SHUTDOWN:
      return true;
    case IORING_OP_FADVISE:
      return s.op_flags != POSIX_FADV_NORMAL && s.op_flags != POSIX_FADV_RANDOM &&
             s.op_flags != POSIX_FADV_SEQUENTIAL;
    default:
      return (s.flags & IOSQE_ASYNC) != 0;
  }
}

// The path and descriptor xattr ops always go to io-wq (their prep forces
// it), whose worker looks their (directory) descriptor up (seed 6115: a LINKAT from a regular
// file's descriptor, -ENOTDIR, or -EBADF where the next batch closed it
// before the kernel's first worker started).
bool dirfd_on_iowq(const SqeSpec& s) {
  switch (s.opcode) {
    case IORING_OP_LINKAT:
    case IORING_OP_RENAMEAT:
    case IORING_OP_UNLINKAT:
    case IORING_OP_MKDIRAT:
    case IORING_OP_SYMLINKAT:
    case IORING_OP_STATX:
    case IORING_OP_FGETXATTR:
    case IORING_OP_FSETXATTR:
      return true;
    default:
      return false;
  }
}

// A request whose descriptor an io-wq worker looks up (it goes there
// itself, or follows one that did in its link) while a CLOSE later in the
// program closes that descriptor: whether the worker or the submitter's
// next batch comes first is the scheduler's choice, on the kernel as on
// iostack (seed 480: FSYNC 0 or -EBADF, and what its link does). So for a
// registered slot and a CLOSE of it (seed 160297: the worker's lookup
// mostly comes after the CLOSE of the same batch). The class names the op
// when its answer, or a later link member's, differs.
std::string iowq_close_race(const UringProgram& p, const Log& klog, const Log& ilog) {
  std::vector<const SqeSpec*> all;
  std::vector<bool> starts;  // a batch ends any link
  // A chain its batch leaves unfinished goes to io-wq whole
  // (io_submit_state_end's io_queue_sqe_fallback; seed 193090).
  std::vector<bool> unfinished;
  for (const Step& st : p.steps) {
    for (const SqeSpec& s : st.sqes) {
      starts.push_back(&s == &st.sqes.front());
      all.push_back(&s);
      unfinished.push_back(false);
    }
    for (std::size_t k = st.sqes.size(); k-- > 0 && links_on(st.sqes[k]);)
      unfinished[all.size() - st.sqes.size() + k] = true;
  }
  bool worker = false, linked = false;
  // A drained request behind one of its batch on io-wq, and every later
  // one of that batch (the defer list keeps them in order), is issued when
  // that worker's request completes (io_queue_deferred), which may come
  // after the next batch's CLOSE (seed 493294: FADVISE 0 or -EBADF).
  bool iowq_before = false, drained = false;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const SqeSpec& s = *all[i];
    if (!linked || starts[i]) worker = false;
    if (starts[i]) iowq_before = drained = false;
    drained = drained || (iowq_before && (s.flags & IOSQE_IO_DRAIN));
    iowq_before = iowq_before || always_iowq(s) || dirfd_on_iowq(s);
    worker = worker || always_iowq(s) || dirfd_on_iowq(s) || unfinished[i] || drained;
    linked = s.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
    const bool fixed = s.flags & IOSQE_FIXED_FILE;
    // SPLICE and TEE look their input up on the worker too (seed 465899).
    const int in_slot =
        s.fd2_in == SqeSpec::kFd2SpliceIn && !(s.op_flags & SPLICE_F_FD_IN_FIXED) ? s.fd2.slot : -1;
    if (!worker || ((fixed ? s.fd.raw < 0 : s.fd.slot < 0) && in_slot < 0)) continue;
    bool closed_later = false;
    for (std::size_t j = i + 1; j < all.size() && !closed_later; ++j) {
      const SqeSpec& c = *all[j];
      if (c.opcode != IORING_OP_CLOSE) continue;
      const bool plain = c.file_index == 0 && !(c.flags & IOSQE_FIXED_FILE);
      closed_later = (fixed ? c.file_index == static_cast<std::uint32_t>(s.fd.raw) + 1
                            : plain && s.fd.slot >= 0 && c.fd.slot == s.fd.slot) ||
                     (plain && in_slot >= 0 && c.fd.slot == in_slot);
    }
    if (!closed_later) continue;
    // This request and the rest of its link.
    for (std::size_t j = i; j < all.size(); ++j) {
      const std::string key = "cqe " + std::to_string(all[j]->user_data) + "#0";
      if (log_value(klog, key) != log_value(ilog, key))
        return "timing: io-wq descriptor lookup after a later CLOSE (" + uring_op_name(s.opcode) +
               ")";
      if (!(all[j]->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) ||
          (j + 1 < all.size() && starts[j + 1]))
        break;
    }
  }
  return "";
}

bool is_write(unsigned op) {
  return op == IORING_OP_WRITE || op == IORING_OP_WRITEV || op == IORING_OP_WRITE_FIXED ||
         op == 61 /* WRITEV_FIXED */;
}

// Requests the kernel may hand to io-wq: those above, the path and xattr
// ops, OPENAT (by the dentry cache), buffered writes (by the page cache).
// (Seed 546633: a RENAMEAT cancelled by the next batch or not.)
bool maybe_iowq(const SqeSpec& s) {
  return always_iowq(s) || dirfd_on_iowq(s) || s.opcode == IORING_OP_OPENAT || is_write(s.opcode);
}

// A world descriptor that is open on one side only, after a program that
// closes it behind an OPENAT that may be on io-wq (one that creates or
// truncates, or whose name is not in the dentry cache): the worker takes
// the lowest free number, which is the closed descriptor's once the CLOSE
// came first (seed 149056: OPENAT of "x" with O_TRUNC in one batch, CLOSE
// of e in the next; the kernel answers both ways from run to run).
std::string iowq_open_race(const UringProgram& p, const std::string& key) {
  if (key.rfind("fd ", 0) != 0) return "";
  bool open_before = false;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      if (s.opcode == IORING_OP_OPENAT && maybe_iowq(s)) open_before = true;
      if (open_before && s.opcode == IORING_OP_CLOSE && s.file_index == 0 &&
          !(s.flags & IOSQE_FIXED_FILE) && s.fd.slot >= 0 &&
          key == std::string("fd ") + slot_name(s.fd.slot))
        return "timing: io-wq OPENAT takes the number of a later CLOSE";
    }
  return "";
}

// Could ASYNC_CANCEL `c` match `r`?
bool may_cancel(const SqeSpec& c, const SqeSpec& r) {
  if (c.op_flags & IORING_ASYNC_CANCEL_ANY) return true;
  if (c.op_flags & IORING_ASYNC_CANCEL_FD) return true;  // descriptors are compared loosely
  return c.addr.kind == AK::kRaw && c.addr.raw == r.user_data;
}

std::string res_at(const Log& l, std::uint64_t ud) {
  return res_of(log_value(l, "cqe " + std::to_string(ud) + "#0"));
}

// A request that may wait on io-wq with an ASYNC_CANCEL (or a LINK_TIMEOUT)
// behind it that can find it: whether the worker ran it before the cancel
// looked is the scheduler's choice (the kernel answers both ways from run
// to run: seeds 471, 80863, 91110, 1225). Named when it or the rest of its
// link was cancelled on one side only.
std::string iowq_cancel_race(const UringProgram& p, const Log& klog, const Log& ilog) {
  std::vector<const SqeSpec*> all;
  std::vector<bool> starts;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      starts.push_back(&s == &st.sqes.front());
      all.push_back(&s);
    }
  // A request linked behind io-wq work runs on that worker after it
  // (io_wq_free_work): a cancel races it too (seed 754256).
  std::vector<bool> on_wq(all.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    on_wq[i] =
        maybe_iowq(*all[i]) || (i > 0 && !starts[i] && links_on(*all[i - 1]) && on_wq[i - 1]);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const SqeSpec& r = *all[i];
    if (!on_wq[i]) continue;
    bool cancelled = i + 1 < all.size() && !starts[i + 1] && links_on(r) &&
                     all[i + 1]->opcode == IORING_OP_LINK_TIMEOUT;
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (all[j]->opcode != IORING_OP_ASYNC_CANCEL || !may_cancel(*all[j], r)) continue;
      cancelled = true;
      // The cancel's own answer: queued (0), running (-EALREADY) or done
      // (-ENOENT) by the time it looked (seed 9215).
      const std::string k = res_at(klog, all[j]->user_data), v = res_at(ilog, all[j]->user_data);
      auto when = [](const std::string& x) {
        return x == "0" || x == "-EALREADY" || x == "-ENOENT";
      };
      if (k != v && when(k) && when(v))
        return "timing: io-wq work vs a cancel behind it (" + uring_op_name(r.opcode) + ")";
    }
    if (!cancelled) continue;
    for (std::size_t j = i; j < all.size(); ++j) {
      const std::string k = res_at(klog, all[j]->user_data), v = res_at(ilog, all[j]->user_data);
      if (k != v && (k == "-ECANCELED" || v == "-ECANCELED" || k == "-EINTR" || v == "-EINTR"))
        return "timing: io-wq work vs a cancel behind it (" + uring_op_name(r.opcode) + ")";
      if (!links_on(*all[j]) || (j + 1 < all.size() && starts[j + 1])) break;
    }
  }
  return "";
}

// Is `key` the CQE of a request on the pipe or the eventfd?
bool on_pipe_or_eventfd(const UringProgram& p, const std::string& key) {
  if (key.rfind("cqe ", 0) != 0) return false;
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes)
      if (s.user_data == ud)
        return !(s.flags & IOSQE_FIXED_FILE) &&
               (s.fd.slot == kPipeR || s.fd.slot == kPipeW || s.fd.slot == kEventfd);
  return false;
}

bool is_read(unsigned op) {
  return op == IORING_OP_READ || op == IORING_OP_READV || op == IORING_OP_READ_FIXED ||
         op == 60 /* READV_FIXED */;
}

// A read or write of the pipe or eventfd on io-wq (IOSQE_ASYNC, or linked
// behind a request that always goes there, SPLICE and TEE themselves) and a
// write from outside in a later step, or the program's own read of the
// pipe: which comes first is the scheduler's choice (seed 2165 is
// kernel-unstable; seed 80539: an eventfd read behind a FALLOCATE; seed 112:
// a SPLICE of a file into the pipe and the read right after its batch).
// Named when what the pipe or eventfd holds, a buffer, or a CQE on them
// differs.
std::string iowq_outside_write_race(const UringProgram& p, const std::string& key) {
  bool on_worker[kNumAllSlots] = {};  // by the slot an outside write goes to
  for (const Step& st : p.steps) {
    if (st.kind == Step::kPipeRead) {
      if (on_worker[kPipeW] && (key == "pipe read" || key == "pipe left"))
        return "timing: io-wq write vs an outside read (pipeW)";
      continue;
    }
    if (st.kind == Step::kPipeWrite || st.kind == Step::kEventfdWrite) {
      const int slot = st.kind == Step::kPipeWrite ? kPipeW : kEventfd;
      if (!on_worker[slot]) continue;
      if (on_pipe_or_eventfd(p, key) || key == "pipe left" || key == "eventfd" ||
          key.rfind("buf ", 0) == 0)
        return "timing: io-wq write vs an outside write (" + std::string(slot_name(slot)) + ")";
      continue;
    }
    bool worker = false, linked = false;
    for (const SqeSpec& s : st.sqes) {
      worker = (linked && worker) || always_iowq(s);
      linked = links_on(s);
      if (!worker || s.fd.slot < 0 || (s.flags & IOSQE_FIXED_FILE)) continue;
      const bool splices = s.opcode == IORING_OP_SPLICE || s.opcode == IORING_OP_TEE;
      if (!is_write(s.opcode) && !is_read(s.opcode) && !splices) continue;
      on_worker[s.fd.slot == kPipeR ? kPipeW : s.fd.slot] = true;
      if (splices && (s.fd2.slot == kPipeR || s.fd2.slot == kPipeW)) on_worker[kPipeW] = true;
    }
  }
  return "";
}

// A poll of the ring's own descriptor whose POLLIN alone differs, or a
// multishot one whose F_MORE alone does, after a request that may have gone
// to io-wq: whether its CQE is in the ring when the poll looks (it reports
// pending CQEs as POLLIN) is the scheduler's choice (seed 2122: a buffered
// write that extends a file; seed 76369: a SPLICE's failure).
std::string ring_poll_race(const UringProgram& p, const std::string& key, const std::string& kval,
                           const std::string& ival) {
  if (key.rfind("cqe ", 0) != 0) return "";
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  const auto mask = [](const std::string& v) {
    const auto b = v.find("res=");
    if (b == std::string::npos || !std::isdigit(static_cast<unsigned char>(v[b + 4]))) return -1L;
    return std::strtol(v.c_str() + b + 4, nullptr, 10);
  };
  const auto flags = [](const std::string& v) {
    const auto b = v.find("flags=");
    return b == std::string::npos ? -1L : std::strtol(v.c_str() + b + 6, nullptr, 16);
  };
  const long k = mask(kval), i = mask(ival);
  if (k < 0 || i < 0) return "";
  // A multishot poll ready when armed goes on (F_MORE); one woken by the
  // ring's own CQE posting ends at once (EPOLL_URING_WAKE, seed 76369).
  const bool more_only = k == i && (flags(kval) ^ flags(ival)) == IORING_CQE_F_MORE;
  if ((k ^ i) != POLLIN && !more_only) return "";
  bool iowq_before = false;
  for (const Step& st : p.steps)
    for (std::size_t n = 0; n < st.sqes.size(); ++n) {
      const SqeSpec& s = st.sqes[n];
      if (s.user_data != ud) {
        iowq_before = iowq_before || maybe_iowq(s);
        continue;
      }
      if (s.opcode != IORING_OP_POLL_ADD || s.fd.slot != kRing || (s.flags & IOSQE_FIXED_FILE))
        return "";
      const bool multishot = s.len & IORING_POLL_ADD_MULTI;
      // A multishot poll posts its first mask from task work when the
      // submitting call returns, so a worker's CQE of a later request of
      // its batch may come first (seed 499441: POLLOUT, or POLLIN | POLLOUT
      // asked again after that CQE's wakeup).
      bool iowq_after = false;
      for (std::size_t m = n + 1; multishot && m < st.sqes.size(); ++m)
        iowq_after = iowq_after || maybe_iowq(st.sqes[m]);
      return (iowq_before || iowq_after) && (!more_only || multishot)
                 ? "timing: ring poll vs an io-wq completion"
                 : "";
    }
  return "";
}

// A POLL_ADD (POLLIN) of the ring's own descriptor carrying IOSQE_IO_DRAIN
// (or IOSQE_ASYNC) goes to an io-wq worker (io_req_task_submit: forced async), which arms it
// on the ring's poll queue (io_uring_poll) when the scheduler runs it: before
// the program reaped its batch's CQEs (a failed SQE's -EINVAL), it is ready
// at once (POLLIN); after, it waits, and the final cancel, drained behind it,
// never runs (or, with the drain over, cancels it). So does one that a drain
// before it holds back. Pending on one side and POLLIN on the other is that race (seed
// 278493: kernel-unstable four runs in six; its reduction, the poll and an
// unknown opcode, fired on the kernel in 1, 6, 18 and 81 runs of 100 and in
// 5 of 5, as the load varied; seeds 278383, 278417, 278421).
std::string drained_ring_poll_race(const UringProgram& p, const std::string& key,
                                   const std::string& kval, const std::string& ival) {
  if (key.rfind("cqe ", 0) != 0) return "";
  // Pending: no CQE, or the final cancel's -ECANCELED.
  auto pending = [](const std::string& v) {
    return v == "none" || v.rfind("res=-ECANCELED ", 0) == 0;
  };
  const bool k_pending = pending(kval), i_pending = pending(ival);
  const std::string other = k_pending ? ival : kval;
  if (k_pending == i_pending || other.rfind("res=1 ", 0) != 0) return "";
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  bool drain_seen = false;  // a drain before it forces it async too (seed 624615)
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      drain_seen = drain_seen || (s.flags & IOSQE_IO_DRAIN);
      // IOSQE_ASYNC sends it there too (seed 700120: kernel-unstable reduced).
      if (s.user_data == ud)
        return s.opcode == IORING_OP_POLL_ADD && s.fd.slot == kRing &&
                       (drain_seen || (s.flags & IOSQE_ASYNC)) && !(s.flags & IOSQE_FIXED_FILE)
                   ? "timing: ring poll armed on io-wq"
                   : "";
    }
  return "";
}

// A drain whose head goes to io-wq (forced async) ends when that worker
// has run it: requests of a later batch submitted before then join the
// requests it held back and go with them; submitted after, they find the
// drain still on (the kernel clears it only when a drained request finds
// nothing ahead of it) and wait behind every live request, such as a
// multishot read that never ends. The kernel's first worker starts later
// than iostack's, and either way happens from run to run (seed 656713).
std::string drain_end_race(const UringProgram& p, const std::string& key, const std::string& kval,
                           const std::string& ival) {
  if (key.rfind("cqe ", 0) != 0 || (kval == "none") == (ival == "none")) return "";
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  bool drain_before = false;
  for (const Step& st : p.steps) {
    bool drain_here = false;
    for (const SqeSpec& s : st.sqes) {
      if (s.user_data == ud) return drain_before ? "timing: a later batch and a drain's end" : "";
      drain_here = drain_here || (s.flags & IOSQE_IO_DRAIN);
    }
    drain_before = drain_before || drain_here;
  }
  return "";
}

// What a read or write touches: its regular file and the world buffers it
// reads from or fills.
struct Access {
  int file = -1;
  int stream = -1;  // the pipe's or eventfd's slot, whose contents the log shows too
  bool writes_file = false;
  std::vector<unsigned> src, dst;  // buffers read (a write's data), written (a read's)
  bool sock = false;               // sends or receives on the socket pair
  bool shuts = false;              // shuts the socket pair down (SHUTDOWN)
};

// A SPLICE's or TEE's input pipe or eventfd (a SPLICE takes what it moves).
Access splice_access(const SqeSpec& s) {
  Access a;
  const int slot = s.fd2.slot;
  if (s.fd2_in != SqeSpec::kFd2SpliceIn || (s.op_flags & SPLICE_F_FD_IN_FIXED)) return a;
  if (slot != kPipeR && slot != kEventfd) return a;
  a.file = a.stream = slot;
  a.writes_file = s.opcode == IORING_OP_SPLICE;
  return a;
}

// The file an SQE names (a world file's slot, through the registered table
// too), or -1.
int file_of(const SqeSpec& s) {
  int slot = s.fd.slot;
  if (s.flags & IOSQE_FIXED_FILE)
    slot = s.fd.raw >= 0 && static_cast<unsigned>(s.fd.raw) < kNumFixedFiles ? kFixedFiles[s.fd.raw]
                                                                             : -1;
  return slot >= 0 && slot < kNumFiles ? slot : -1;
}

Access access_of(const SqeSpec& s) {
  if (s.opcode == IORING_OP_SPLICE || s.opcode == IORING_OP_TEE) return splice_access(s);
  Access a;
  // A SHUTDOWN of one end of the socket pair (io-wq work) and a transfer on
  // either end (seed 777604: a SEND after its peer's SHUT_RD, -EPIPE or not).
  if (const int slot = s.flags & IOSQE_FIXED_FILE ? -1 : s.fd.slot;
      slot == kSockA || slot == kSockB) {
    a.shuts = s.opcode == IORING_OP_SHUTDOWN;
    a.sock = a.shuts || s.opcode == IORING_OP_SEND || s.opcode == IORING_OP_SENDMSG ||
             s.opcode == IORING_OP_RECV || s.opcode == IORING_OP_RECVMSG;
    if (a.sock) return a;
  }
  // An OPENAT that truncates a world file by its name writes it (seed 769933).
  if (s.opcode == IORING_OP_OPENAT) {
    if ((s.op_flags & O_TRUNC) && s.fd.slot < 0 && s.fd.raw == AT_FDCWD &&
        s.addr.kind == AK::kPath) {
      a.file = path_file_slot(s.addr.idx);
      a.writes_file = true;
    }
    return a;
  }
  const bool rd = s.opcode == IORING_OP_READ || s.opcode == IORING_OP_READV ||
                  s.opcode == IORING_OP_READ_FIXED || s.opcode == 60 /* READV_FIXED */;
  if (!rd && !is_write(s.opcode)) return a;
  int slot = s.fd.slot;
  if (s.flags & IOSQE_FIXED_FILE)
    slot = s.fd.raw >= 0 && static_cast<unsigned>(s.fd.raw) < kNumFixedFiles ? kFixedFiles[s.fd.raw]
                                                                             : -1;
  a.file = file_of(s);
  if (slot == kPipeR || slot == kPipeW || slot == kEventfd) a.stream = slot;
  a.writes_file = !rd;
  auto& bufs = rd ? a.dst : a.src;
  if (s.addr.kind == AK::kBuf) bufs.push_back(s.addr.idx);
  if (s.addr.kind == AK::kIov)
    for (const IovSeg& g : s.iov)
      if (g.base.kind == AK::kBuf) bufs.push_back(g.base.idx);
  return a;
}

bool share(const std::vector<unsigned>& x, const std::vector<unsigned>& y) {
  for (unsigned a : x)
    for (unsigned b : y)
      if (a == b) return true;
  return false;
}

bool conflict(const Access& a, const Access& b) {
  if (a.sock && b.sock && (a.shuts || b.shuts)) return true;
  if (a.file >= 0 && a.file == b.file && (a.writes_file || b.writes_file)) return true;
  return share(a.dst, b.src) || share(a.dst, b.dst) || share(b.dst, a.src);
}

// Does the log line `key` show what `a` touches, or the CQE of `ud`?
bool shows(const std::string& key, const Access& a, std::uint64_t ud) {
  if (key == "cqe " + std::to_string(ud) + "#0") return true;
  if (a.file >= 0 && (key == std::string("file ") + slot_name(a.file) ||
                      key == std::string("fd ") + slot_name(a.file)))
    return true;
  if (a.stream >= 0 && key == (a.stream == kEventfd ? "eventfd" : "pipe left")) return true;
  if (a.sock && key.rfind("sock ", 0) == 0) return true;
  for (const auto* v : {&a.src, &a.dst})
    for (unsigned b : *v)
      if (key == "buf " + std::to_string(b)) return true;
  return false;
}

// Two requests on the same bytes (a file, or a buffer one fills and the
// other reads), the first of which may run on io-wq (a buffered write, or
// a request linked behind one that goes there), with no link ordering
// them: which comes first is the scheduler's choice (seed 6033: a read of
// a file linked behind SYNC_FILE_RANGE and a write extending it; seed 7762:
// a write on io-wq whose buffer a READ_FIXED of the batch fills).
std::string same_bytes_race(const UringProgram& p, const std::string& key) {
  struct Item {
    const SqeSpec* s;
    unsigned batch, chain;
    bool late;
  };
  std::vector<Item> all;
  unsigned batch = 0, chain = 0;
  for (const Step& st : p.steps) {
    if (st.kind != Step::kSubmit) continue;
    bool linked = false, late = false;
    for (const SqeSpec& s : st.sqes) {
      if (!linked) {
        ++chain;
        late = false;
      }
      late = late || maybe_iowq(s);
      all.push_back({&s, batch, chain, late});
      linked = links_on(s);
    }
    ++batch;
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i].late) continue;
    const Access a = access_of(*all[i].s);
    if (a.file < 0 && a.src.empty() && a.dst.empty() && !a.sock)
      continue;  // conflicts need one of these
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (all[j].chain == all[i].chain) continue;
      const Access b = access_of(*all[j].s);
      if (!conflict(a, b)) continue;
      if (shows(key, a, all[i].s->user_data) || shows(key, b, all[j].s->user_data))
        return "timing: requests racing on the same bytes (" + uring_op_name(all[i].s->opcode) +
               ", " + uring_op_name(all[j].s->opcode) + ")";
    }
  }
  return "";
}

// A multishot TIMEOUT of period zero posts expiries until the CQ ring is
// full: how many fit depends on which of the batch's other CQEs (an io-wq
// failure's, a worker's) are in the ring first, which the scheduler decides
// (seed 10664: 30 or 31 from run to run, on the kernel too). Named when both
// runs end it with a final CQE, fewer expiries apart than the program has
// other requests.
std::string zero_period_flood(const UringProgram& p, const Log& klog, const Log& ilog,
                              const std::string& key) {
  if (key.rfind("cqe ", 0) != 0) return "";
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  bool flood = false;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes)
      if (s.user_data == ud)
        flood = s.opcode == IORING_OP_TIMEOUT && (s.op_flags & 0x40 /* MULTISHOT */) &&
                addr_str(s.addr) == "ts{0,0}";
  if (!flood) return "";
  // The number of CQEs of `ud` and whether the last one ends the request.
  auto tally = [&](const Log& l, bool* ended) {
    long n = 0;
    for (; log_value(l, "cqe " + std::to_string(ud) + "#" + std::to_string(n)) != "none"; ++n) {
    }
    const std::string last =
        log_value(l, "cqe " + std::to_string(ud) + "#" + std::to_string(n - 1));
    const auto f = last.find("flags=");
    *ended = n > 0 && f != std::string::npos &&
             !(std::strtoul(last.c_str() + f + 6, nullptr, 16) & IORING_CQE_F_MORE);
    return n;
  };
  bool kend = false, iend = false;
  const long k = tally(klog, &kend), i = tally(ilog, &iend);
  long others = 0;  // CQEs that may share the ring with the flood
  for (const Step& st : p.steps) others += static_cast<long>(st.sqes.size());
  if (!kend || !iend || k - i > others || i - k > others) return "";
  return "timing: zero-period multishot TIMEOUT fills the ring";
}

// Named by the program: a read or write of a DEFER_TASKRUN ring's own
// descriptor, which the kernel retries from task work only when the
// program waits: whether the ring is readable then (a CQE the program has
// not reaped yet) is timing, and the kernel answers both ways from run to
// run (seed 9800: READ -ECANCELED or -EINVAL, kernel-unstable two runs in
// eight; seed 549: READV -EINVAL or -ECANCELED, four runs in eight).
// On any ring the same holds for one that a drain earlier in the program
// held back: it is issued when the drain ends, as the program reaps (seeds
// 882207, 882276: a READ pending to the end or -EINVAL, kernel-unstable).
std::string defer_ring_rw(const UringProgram& p, const std::string& key) {
  if (key.rfind("cqe ", 0) != 0) return "";
  const bool defer = p.setup_flags & IORING_SETUP_DEFER_TASKRUN;
  const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
  bool drained = false;
  for (const Step& st : p.steps) {
    for (const SqeSpec& s : st.sqes) {
      drained |= (s.flags & IOSQE_IO_DRAIN) != 0;
      if (s.user_data != ud || s.fd.slot != kRing || (s.flags & IOSQE_FIXED_FILE)) continue;
      // The registered-buffer forms too (seed 583393: READV_FIXED).
      if (!is_read(s.opcode) && !is_write(s.opcode)) continue;
      if (defer)
        return "timing: read or write of a DEFER_TASKRUN ring's own descriptor (" +
               uring_op_name(s.opcode) + ")";
      if (drained)
        return "timing: drained read or write of the ring's own descriptor (" +
               uring_op_name(s.opcode) + ")";
    }
  }
  return "";
}

// A SEND_ZC prepped while a drain holds it back has made its notification,
// which the drain counts as allocated but not as held back: nothing behind
// the drain is issued again, on both (DrainEdgeDiff.BehindAZeroCopySendItHeldBack).
// Whether the drain ends before such a SEND_ZC comes is timing: the kernel
// sends a drained request to io-wq, whose worker completes it tens of
// microseconds later, often after the program's next batch (seed 1246865:
// a drained POLL_ADD of a readable pipe, kernel-unstable two runs in
// fourteen; iostack completes it within the submission).
std::string drain_beside_zc(const UringProgram& p, const std::string& key,
                            const std::string& kval) {
  if (key.rfind("cqe ", 0) != 0 || kval != "none") return "";
  bool drain = false, zc = false;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      drain = drain || (s.flags & IOSQE_IO_DRAIN);
      zc = zc || s.opcode == IORING_OP_SEND_ZC || s.opcode == IORING_OP_SENDMSG_ZC;
    }
  return drain && zc ? "timing: a drained request on io-wq vs a zero-copy send's notification" : "";
}

// Work left to do: the ring's descriptor added to the world's epoll
// instance (EPOLL_CTL): what the host's epoll reports for it is iostack's
// ring object's readiness, not io_uring_poll's (POLLOUT while the SQ ring
// has room) (seed 2809 of the extended generator).
// A write to the pipe that fails (-EFAULT) still wakes its readers in the
// kernel: pipe_write wakes them when the pipe is polled (poll_usage) whatever
// it copied, and a one-shot POLL_ADD of the read end posts that wakeup's
// POLLIN on an empty pipe. The host's pipe does the same, but epoll asks the
// pipe again before it reports and finds nothing, so iostack's poll waits
// until the final cancel (seed 490347).
std::string failed_pipe_write_wakes(const UringProgram& p, const Log& klog, const Log& ilog) {
  bool failed_write = false, woken_poll = false;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      if (s.flags & IOSQE_FIXED_FILE) continue;
      if (is_write(s.opcode) && s.fd.slot == kPipeW && res_at(klog, s.user_data) == "-EFAULT")
        failed_write = true;
      if (s.opcode == IORING_OP_POLL_ADD && s.fd.slot == kPipeR &&
          res_at(klog, s.user_data) == "+" && res_at(ilog, s.user_data) == "-ECANCELED")
        woken_poll = true;
    }
  return failed_write && woken_poll ? "pipe: a failed write wakes its readers" : "";
}

// Deliberate: an FSYNC of part of a file (vfs_fsync_range) writes back only
// that range's pages; user space has no ranged fsync, so iostack's syncs the
// whole file. The bytes are the same, but the extents a later FALLOCATE
// (zero range, punch hole) leaves, which SEEK_DATA / SEEK_HOLE report and
// the log's file hash covers, can differ (seed 624442).
std::string ranged_fsync_layout(const UringProgram& p, const std::string& key) {
  if (key.rfind("file ", 0) != 0) return "";
  bool ranged = false, fallocate = false;
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes) {
      const int f = file_of(s);
      if (f < 0 || key != std::string("file ") + slot_name(f)) continue;
      ranged = ranged || (s.opcode == IORING_OP_FSYNC && (s.off.raw != 0 || s.len != 0));
      fallocate = fallocate || s.opcode == IORING_OP_FALLOCATE;
    }
  return ranged && fallocate ? "layout: a ranged FSYNC syncs the whole file" : "";
}

std::string ring_in_epoll(const UringProgram& p, const std::string& key) {
  if (key != "epoll") return "";
  for (const Step& st : p.steps)
    for (const SqeSpec& s : st.sqes)
      if (s.opcode == IORING_OP_EPOLL_CTL && s.fd2.slot == kRing)
        return "to do: the ring's descriptor in a host epoll instance";
  return "";
}

}  // namespace

std::string uring_classify(const UringProgram& p, const Log& klog, const Log& ilog,
                           const std::string& key, const std::string& kval,
                           const std::string& ival) {
  if (std::string race = iowq_close_race(p, klog, ilog); !race.empty()) return race;
  if (std::string race = iowq_cancel_race(p, klog, ilog); !race.empty()) return race;
  if (std::string race = iowq_outside_write_race(p, key); !race.empty()) return race;
  if (std::string race = iowq_open_race(p, key); !race.empty()) return race;
  if (std::string race = ring_poll_race(p, key, kval, ival); !race.empty()) return race;
  if (std::string race = drained_ring_poll_race(p, key, kval, ival); !race.empty()) return race;
  if (std::string race = same_bytes_race(p, key); !race.empty()) return race;
  if (std::string race = drain_end_race(p, key, kval, ival); !race.empty()) return race;
  if (std::string race = zero_period_flood(p, klog, ilog, key); !race.empty()) return race;
  if (std::string todo = defer_ring_rw(p, key); !todo.empty()) return todo;
  if (std::string race = drain_beside_zc(p, key, kval); !race.empty()) return race;
  if (std::string todo = ring_in_epoll(p, key); !todo.empty()) return todo;
  if (std::string layout = ranged_fsync_layout(p, key); !layout.empty()) return layout;
  if (std::string quirk = failed_pipe_write_wakes(p, klog, ilog); !quirk.empty()) return quirk;
  if (key.rfind("enter ", 0) == 0 && key != "enter cancel") {
    const unsigned step = static_cast<unsigned>(std::atoi(key.c_str() + 6));
    const long k = std::atol(kval.c_str());
    const long i = std::atol(ival.c_str());
    if (k < i) return "submit count: kernel stops at " + stop_op(p, klog, ilog, step, k);
    return "submit count: iostack stops at " + stop_op(p, klog, ilog, step, i);
  }
  if (key.rfind("cqe ", 0) == 0) {
    const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
    const std::string op = uring_op_of(p, ud);
    const std::string kr = res_of(kval), ir = res_of(ival);
    if (kr == ir)
      return op + ": flags " + kval.substr(kval.find("flags=")) + " vs " +
             ival.substr(ival.find("flags="));
    return op + ": kernel " + kr + ", iostack " + ir;
  }
  return "state: " + key;
}

}  // namespace fuzz
