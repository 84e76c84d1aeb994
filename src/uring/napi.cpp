// IORING_REGISTER_NAPI and IORING_UNREGISTER_NAPI (io_uring/napi.c): the
// ring's busy-poll settings, answered back as the kernel answers them. The
// engine's sockets are the kernel's and it busy-polls none of them, so the
// settings change nothing else (as on a kernel whose sockets have no NAPI
// ids: every socket of a loopback or a virtual NIC without busy polling).
#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// enum io_uring_napi_op and io_uring_napi_tracking_strategy.
constexpr std::uint8_t kNapiRegisterOp = 0;
constexpr std::uint8_t kNapiStaticAddId = 1;
constexpr std::uint8_t kNapiStaticDelId = 2;
constexpr std::uint32_t kTrackingDynamic = 0;
constexpr std::uint32_t kTrackingStatic = 1;
constexpr std::uint8_t kTrackingInactive = 255;

unsigned long read_number(const char* path, unsigned long fallback) {
  unsigned long v = fallback;
  if (FILE* f = std::fopen(path, "re")) {
    if (std::fscanf(f, "%lu", &v) != 1) v = fallback;
    std::fclose(f);
  }
  return v;
}

// MIN_NAPI_ID: ids up to NR_CPUS are sender CPUs, not NAPI contexts.
std::uint32_t min_napi_id() {
  static const auto id =
      static_cast<std::uint32_t>(read_number("/sys/devices/system/cpu/kernel_max", 8191) + 2);
  return id;
}

uapi::Napi current(IoRingCtx* ctx, bool with_mode) REQUIRES(ctx->uring_lock) {
  uapi::Napi curr{};
  curr.busy_poll_to = static_cast<std::uint32_t>(ctx->napi.busy_poll_ns / 1000);
  curr.prefer_busy_poll = ctx->napi.prefer_busy_poll;
  if (with_mode) curr.op_param = ctx->napi.track_mode;
  return curr;
}

// io_napi_register_napi: new settings, an empty list.
int set_tracking(IoRingCtx* ctx, const uapi::Napi& napi) REQUIRES(ctx->uring_lock) {
  if (napi.op_param != kTrackingDynamic && napi.op_param != kTrackingStatic) return -EINVAL;
  NapiSettings& s = ctx->napi;
  s.static_ids.clear();
  // At most 10 ms of spinning.
  s.busy_poll_ns = std::uint64_t{std::min(napi.busy_poll_to, 10000u)} * 1000;
  s.prefer_busy_poll = napi.prefer_busy_poll != 0;
  s.track_mode = static_cast<std::uint8_t>(napi.op_param);
  return 0;
}

int add_id(IoRingCtx* ctx, std::uint32_t id) REQUIRES(ctx->uring_lock) {
  if (id < min_napi_id()) return -EINVAL;
  std::vector<std::uint32_t>& ids = ctx->napi.static_ids;
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return -EEXIST;
  ids.push_back(id);
  return 0;
}

int del_id(IoRingCtx* ctx, std::uint32_t id) REQUIRES(ctx->uring_lock) {
  if (id < min_napi_id()) return -EINVAL;
  std::vector<std::uint32_t>& ids = ctx->napi.static_ids;
  const auto it = std::find(ids.begin(), ids.end(), id);
  if (it == ids.end()) return -ENOENT;
  ids.erase(it);
  return 0;
}

}  // namespace

void napi_init(IoRingCtx* ctx) NO_THREAD_SAFETY_ANALYSIS {
  ctx->napi.busy_poll_ns = read_number("/proc/sys/net/core/busy_poll", 0) * 1000;
}

int register_napi(IoRingCtx* ctx, void* arg) {
  const uapi::Napi curr = current(ctx, true);
  if (ctx->flags & IORING_SETUP_IOPOLL) return -EINVAL;
  uapi::Napi napi;
  if (core::copy_from_user(&napi, arg, sizeof(napi))) return -EFAULT;
  if (napi.pad[0] || napi.pad[1] || napi.resv) return -EINVAL;
  // The settings before this call go back first, whatever it then asks.
  if (core::copy_to_user(arg, &curr, sizeof(curr))) return -EFAULT;
  switch (napi.opcode) {
    case kNapiRegisterOp:
      return set_tracking(ctx, napi);
    case kNapiStaticAddId:
      if (curr.op_param != kTrackingStatic) return -EINVAL;
      return add_id(ctx, napi.op_param);
    case kNapiStaticDelId:
      if (curr.op_param != kTrackingStatic) return -EINVAL;
      return del_id(ctx, napi.op_param);
    default:
      return -EINVAL;
  }
}

int unregister_napi(IoRingCtx* ctx, void* arg) {
  const uapi::Napi curr = current(ctx, false);
  if (arg && core::copy_to_user(arg, &curr, sizeof(curr))) return -EFAULT;
  NapiSettings& s = ctx->napi;
  s.busy_poll_ns = 0;
  s.prefer_busy_poll = false;
  s.track_mode = kTrackingInactive;
  s.static_ids.clear();
  return 0;
}

}  // namespace iostack::uring
