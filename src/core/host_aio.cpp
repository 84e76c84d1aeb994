// One kernel AIO context per process, made on first use, and the internal
// thread that reaps it and runs each request's completion.
#include "core/host_aio.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

#include "core/internal_thread.hpp"
#include "core/process.hpp"

namespace iostack::core {

namespace {

std::atomic<bool> g_disabled{false};

long sys_io_setup(unsigned nr, aio_context_t* ctx) { return syscall(SYS_io_setup, nr, ctx); }
long sys_io_submit(aio_context_t ctx, long nr, struct iocb** iocbs) {
  return syscall(SYS_io_submit, ctx, nr, iocbs);
}
long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event* ev) {
  return syscall(SYS_io_getevents, ctx, min, max, ev, nullptr);
}

// This process's context and its reaper.
struct HostAio {
  // Enough for every request iostack keeps in flight on a busy ring; beyond
  // it io_submit answers -EAGAIN and the request takes the other path.
  static constexpr unsigned kEvents = 1024;
  std::once_flag once;
  aio_context_t ctx = 0;
  bool usable = false;

  void start() {
    if (sys_io_setup(kEvents, &ctx) != 0) return;
    if (start_detached_internal_thread(ThreadKind::kHostAio, reap, this) != 0) {
      syscall(SYS_io_destroy, ctx);
      return;
    }
    usable = true;
  }

  static void reap(void* arg) {
    auto* self = static_cast<HostAio*>(arg);
    struct io_event ev[64];
    for (;;) {
      const long n = sys_io_getevents(self->ctx, 1, 64, ev);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // the context is gone (never while requests are in flight)
      }
      for (long i = 0; i < n; ++i) {
        auto* req = reinterpret_cast<HostAioReq*>(static_cast<std::uintptr_t>(ev[i].data));
        (void)req->handed.load(std::memory_order_acquire);
        req->done(req->owner, static_cast<long>(ev[i].res));
      }
    }
  }
};

HostAio* host_aio() {
  if (g_disabled.load(std::memory_order_relaxed)) return nullptr;
  HostAio& h = Process::current().state<HostAio>();
  std::call_once(h.once, [&h] { h.start(); });
  return h.usable ? &h : nullptr;
}

}  // namespace

bool host_aio_usable() { return host_aio() != nullptr; }

unsigned host_aio_submit_batch(HostAioReq* const* reqs, unsigned n) {
  HostAio* h = host_aio();
  if (!h || n == 0) return 0;
  struct iocb* cbs[kHostAioBatchMax];
  unsigned taken = 0;
  while (taken < n) {
    const unsigned chunk = std::min(n - taken, kHostAioBatchMax);
    for (unsigned i = 0; i < chunk; ++i) {
      HostAioReq* req = reqs[taken + i];
      req->cb.aio_data = reinterpret_cast<std::uintptr_t>(req);
      req->handed.store(true, std::memory_order_release);
      cbs[i] = &req->cb;
    }
    const long got = sys_io_submit(h->ctx, chunk, cbs);
    if (got <= 0) break;
    taken += static_cast<unsigned>(got);
    if (static_cast<unsigned>(got) < chunk) break;
  }
  return taken;
}

bool host_aio_submit(HostAioReq* req) { return host_aio_submit_batch(&req, 1) == 1; }

void host_aio_allow(bool allowed) { g_disabled.store(!allowed, std::memory_order_relaxed); }

}  // namespace iostack::core
