// Runs an AIO fuzz program in the current (child) process on the kernel's
// AIO (raw system calls) or iostack's (its C API) and writes the canonical
// log: io_setup, every io_submit return value, io_cancel results for what
// still waits at the end, the events sorted by aio_data (obj as the iocb's
// index, res, res2), and the world's final state.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>

#include "aio_prog.hpp"
#include "campaign.hpp"
#include "iostack/aio.h"

namespace fuzz {

namespace {

struct Backend {
  bool kernel;
  long setup(unsigned nr, aio_context_t* ctx) const {
    if (!kernel) return iostack_io_setup(nr, ctx);
    return syscall(__NR_io_setup, nr, ctx) < 0 ? -errno : 0;
  }
  long submit(aio_context_t ctx, long nr, struct iocb** v) const {
    if (!kernel) return iostack_io_submit(ctx, nr, v);
    const long r = syscall(__NR_io_submit, ctx, nr, v);
    return r < 0 ? -errno : r;
  }
  long getevents(aio_context_t ctx, long min, long nr, struct io_event* ev,
                 struct timespec* ts) const {
    if (!kernel) return iostack_io_getevents(ctx, min, nr, ev, ts);
    const long r = syscall(__NR_io_getevents, ctx, min, nr, ev, ts);
    return r < 0 ? -errno : r;
  }
  long cancel(aio_context_t ctx, struct iocb* cb, struct io_event* ev) const {
    if (!kernel) return iostack_io_cancel(ctx, cb, ev);
    return syscall(__NR_io_cancel, ctx, cb, ev) < 0 ? -errno : 0;
  }
  long destroy(aio_context_t ctx) const {
    if (!kernel) return iostack_io_destroy(ctx);
    return syscall(__NR_io_destroy, ctx) < 0 ? -errno : 0;
  }
};

}  // namespace

std::string aio_execute(const AioProgram& p, bool kernel, const std::string& dir, int quiet_ms) {
  Log log;
  World w;
  std::string err;
  if (!w.create(dir, &err)) {
    log.add("world", "failed: " + err);
    return log.serialize();
  }
  Backend b{kernel};
  aio_context_t ctx = 0;
  const long sr = b.setup(p.nr_events, &ctx);
  log.add("io_setup", res_str(sr));
  if (sr < 0) {
    w.final_state(&log);
    return log.serialize();
  }
  std::deque<struct iocb> cbs;  // stable addresses
  std::map<const struct iocb*, std::size_t> index;
  std::vector<struct iocb*> submitted;
  struct Ev {
    std::uint64_t data;
    std::string text;
  };
  std::vector<Ev> events;
  std::map<const struct iocb*, bool> done;

  auto reap = [&](long min, int wait_ms) {
    struct io_event ev[64];
    struct timespec ts = {0, wait_ms * 1000000L};
    const long n = b.getevents(ctx, min, 64, ev, &ts);
    for (long i = 0; i < n; ++i) {
      auto* cb = reinterpret_cast<const struct iocb*>(static_cast<std::uintptr_t>(ev[i].obj));
      auto it = index.find(cb);
      const std::string obj = it == index.end() ? "?" : std::to_string(it->second);
      done[cb] = true;
      events.push_back({ev[i].data, "obj=" + obj + " res=" + res_str(static_cast<long>(ev[i].res)) +
                                        " res2=" + std::to_string(ev[i].res2)});
    }
    return n;
  };
  auto outstanding = [&](bool polls) {
    std::size_t n = 0;
    for (struct iocb* cb : submitted)
      if (!done[cb] && (polls || cb->aio_lio_opcode != IOCB_CMD_POLL)) n++;
    return n;
  };
  // Every request but a poll completes by itself: wait for those (at most
  // a few seconds), then for polls until nothing came for quiet_ms.
  auto drain = [&] {
    for (int i = 0; i < 500 && outstanding(false) > 0; ++i) reap(1, 10);
    while (outstanding(true) > 0) {
      if (reap(1, quiet_ms) <= 0) break;
    }
  };

  int n = 0;
  for (const AioStep& st : p.steps) {
    switch (st.kind) {
      case AioStep::kPipeWrite:
        log.add("pipe write", res_str(write(w.fds[kPipeW], "PQRSTUVW", 8) < 0 ? -errno : 8));
        continue;
      case AioStep::kEventfdWrite: {
        const std::uint64_t one = 1;
        log.add("eventfd write", res_str(write(w.fds[kEventfd], &one, 8) < 0 ? -errno : 8));
        continue;
      }
      case AioStep::kPipeRead: {
        char tmp[64];
        const int fl = fcntl(w.fds[kPipeR], F_GETFL);
        fcntl(w.fds[kPipeR], F_SETFL, fl | O_NONBLOCK);
        const ssize_t r = read(w.fds[kPipeR], tmp, sizeof(tmp));
        fcntl(w.fds[kPipeR], F_SETFL, fl);
        log.add("pipe read", res_str(r < 0 ? -errno : r));
        continue;
      }
      case AioStep::kSubmit:
        break;
    }
    std::vector<struct iocb*> arr;
    for (const IocbSpec& c : st.iocbs) {
      struct iocb cb;
      std::memset(&cb, 0, sizeof(cb));
      cb.aio_data = c.data;
      cb.aio_lio_opcode = c.opcode;
      cb.aio_reqprio = c.reqprio;
      cb.aio_fildes = static_cast<std::uint32_t>(w.fd(c.fd));
      cb.aio_buf = c.buf.kind == AK::kIov ? w.iovec_array(c.iov) : w.addr(c.buf);
      cb.aio_nbytes = c.nbytes;
      cb.aio_offset = c.offset;
      cb.aio_rw_flags = static_cast<int>(c.rw_flags);
      cb.aio_flags = c.flags;
      cb.aio_resfd = static_cast<std::uint32_t>(w.fd(c.resfd));
      cb.aio_reserved2 = c.reserved2;
      cbs.push_back(cb);
      index[&cbs.back()] = cbs.size() - 1;
      struct iocb* ptr = &cbs.back();
      if (c.ptr == 1) ptr = nullptr;
      if (c.ptr == 2) ptr = reinterpret_cast<struct iocb*>(w.addr(Addr{AK::kProtNone, 0, 0, 0}));
      arr.push_back(ptr);
    }
    const long nr = static_cast<long>(arr.size()) + st.nr_delta;
    while (static_cast<long>(arr.size()) < nr) arr.push_back(nullptr);
    const long r = b.submit(ctx, nr, arr.data());
    log.add("io_submit " + std::to_string(n++), res_str(r));
    for (long i = 0; i < r; ++i) submitted.push_back(arr[static_cast<std::size_t>(i)]);
    reap(0, 0);
  }
  drain();
  for (struct iocb* cb : submitted) {
    if (done[cb] || cb->aio_lio_opcode != IOCB_CMD_POLL) continue;
    struct io_event ev;
    std::memset(&ev, 0, sizeof(ev));
    log.add("io_cancel " + std::to_string(cb->aio_data), res_str(b.cancel(ctx, cb, &ev)));
  }
  drain();
  std::stable_sort(events.begin(), events.end(),
                   [](const Ev& a, const Ev& c) { return a.data < c.data; });
  std::map<std::uint64_t, int> seen;
  for (const Ev& e : events)
    log.add("ev " + std::to_string(e.data) + "#" + std::to_string(seen[e.data]++), e.text);
  w.final_state(&log);
  // Only iostack's context is destroyed (the kernel's io_destroy waits for
  // an RCU grace period; exiting does that after the log is sent).
  if (!kernel) b.destroy(ctx);
  return log.serialize();
}

std::string aio_classify(const AioProgram& p, const Log& klog, const Log& ilog,
                         const std::string& key, const std::string& kval, const std::string& ival) {
  auto op_of = [&](std::uint64_t data) -> std::string {
    for (const AioStep& st : p.steps)
      for (const IocbSpec& c : st.iocbs)
        if (c.data == data) return aio_op_name(c.opcode);
    return "?";
  };
  auto res_of = [](const std::string& v) -> std::string {
    if (v == "none") return "none";
    const auto b = v.find("res=");
    if (b == std::string::npos) return v;
    const auto e = v.find(' ', b);
    std::string r = v.substr(b + 4, e == std::string::npos ? std::string::npos : e - b - 4);
    if (!r.empty() && std::isdigit(static_cast<unsigned char>(r[0])) && r != "0") r = "+";
    return r;
  };
  if (key.rfind("io_submit ", 0) == 0) {
    const unsigned step = static_cast<unsigned>(std::atoi(key.c_str() + 10));
    const long k = std::atol(kval.c_str());
    const long i = std::atol(ival.c_str());
    unsigned sn = 0;
    for (const AioStep& st : p.steps) {
      if (st.kind != AioStep::kSubmit || sn++ != step) continue;
      // The iocb the shorter submission stopped at (or the error it returned).
      const long at = std::min(k < 0 ? 0 : k, i < 0 ? 0 : i);
      if (static_cast<std::size_t>(at) >= st.iocbs.size()) return "io_submit count";
      const IocbSpec& c = st.iocbs[static_cast<std::size_t>(at)];
      const std::string key = "ev " + std::to_string(c.data) + "#0";
      if (k < 0 && i < 0)
        return "io_submit " + aio_op_name(c.opcode) + ": kernel " + kval + ", iostack " + ival;
      const bool kernel_refuses = k < i;
      return "io_submit " + std::string(kernel_refuses ? "kernel" : "iostack") + " refuses " +
             aio_op_name(c.opcode) + " (other: event " +
             res_of(log_value(kernel_refuses ? ilog : klog, key)) + ")";
    }
    return "io_submit";
  }
  // The kernel's pipe_write wakes the readers of a polled pipe even when it
  // copies nothing (-EFAULT), and a POLL of the read end completes with that
  // wakeup's POLLIN on an empty pipe; the host's epoll asks the pipe again
  // and finds nothing, so iostack's POLL waits until it is cancelled (seed
  // 599960; the io_uring twin is in uring_classify.cpp).
  bool failed_pipe_write = false, woken_poll = false;
  for (const AioStep& st : p.steps)
    for (const IocbSpec& c : st.iocbs) {
      const std::string ev_key = "ev " + std::to_string(c.data) + "#0";
      const std::string k = res_of(log_value(klog, ev_key));
      if ((c.opcode == IOCB_CMD_PWRITE || c.opcode == IOCB_CMD_PWRITEV) && c.fd.slot == kPipeW &&
          k == "-EFAULT")
        failed_pipe_write = true;
      if (c.opcode == IOCB_CMD_POLL && c.fd.slot == kPipeR && k == "+" &&
          res_of(log_value(ilog, ev_key)) == "0")
        woken_poll = true;
    }
  if (failed_pipe_write && woken_poll) return "pipe: a failed write wakes its readers";
  if (key.rfind("ev ", 0) == 0 || key.rfind("io_cancel ", 0) == 0) {
    const bool ev = key[0] == 'e';
    const std::uint64_t data = std::strtoull(key.c_str() + (ev ? 3 : 10), nullptr, 10);
    return std::string(ev ? "" : "io_cancel ") + op_of(data) + ": kernel " + res_of(kval) +
           ", iostack " + res_of(ival);
  }
  return "state: " + key;
}

}  // namespace fuzz
