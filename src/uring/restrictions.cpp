// IORING_REGISTER_RESTRICTIONS (io_register_restrictions in
// io_uring/register.c, io_check_restriction in io_uring/io_uring.c): a ring
// created disabled can be limited to some register opcodes, some SQE
// opcodes and some SQE flags before it is enabled.
#include <cerrno>
#include <vector>

#include "core/uaccess.hpp"
#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// IORING_MAX_RESTRICTIONS, with 6.18's opcode counts.
constexpr unsigned kMaxRestrictions =
    static_cast<unsigned>(IORING_RESTRICTION_LAST) + uapi::kRegisterLast + kOpLast;

}  // namespace

int register_restrictions(IoRingCtx* ctx, const void* arg, unsigned nr) {
  if (!ctx->r_disabled.load(std::memory_order_acquire)) return -EBADFD;
  Restrictions& r = ctx->restrictions;
  if (r.registered) return -EBUSY;
  if (!arg || nr > kMaxRestrictions) return -EINVAL;
  std::vector<io_uring_restriction> res(nr);
  if (core::copy_from_user(res.data(), arg, sizeof(io_uring_restriction) * nr)) return -EFAULT;
  Restrictions parsed;
  for (const io_uring_restriction& e : res) {
    switch (e.opcode) {
      case IORING_RESTRICTION_REGISTER_OP:
        if (e.register_op >= uapi::kRegisterLast) return -EINVAL;
        parsed.register_op.set(e.register_op);
        break;
      case IORING_RESTRICTION_SQE_OP:
        if (e.sqe_op >= kOpLast) return -EINVAL;
        parsed.sqe_op.set(e.sqe_op);
        break;
      case IORING_RESTRICTION_SQE_FLAGS_ALLOWED:
        parsed.sqe_flags_allowed = e.sqe_flags;
        break;
      case IORING_RESTRICTION_SQE_FLAGS_REQUIRED:
        parsed.sqe_flags_required = e.sqe_flags;
        break;
      default:
        return -EINVAL;
    }
  }
  parsed.registered = true;
  r = parsed;
  return 0;
}

bool register_op_allowed(IoRingCtx* ctx, unsigned opcode) {
  // array_index_nospec: an opcode out of range is looked up as 0.
  if (opcode >= uapi::kRegisterLast) opcode = 0;
  return ctx->restrictions.register_op.test(opcode);
}

bool sqe_allowed(IoRingCtx* ctx, std::uint8_t opcode, std::uint32_t sqe_flags) {
  const Restrictions& r = ctx->restrictions;
  if (!r.sqe_op.test(opcode)) return false;
  if ((sqe_flags & r.sqe_flags_required) != r.sqe_flags_required) return false;
  return !(sqe_flags & ~static_cast<std::uint32_t>(r.sqe_flags_allowed | r.sqe_flags_required));
}

}  // namespace iostack::uring
