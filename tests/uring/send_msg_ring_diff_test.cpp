// IORING_REGISTER_SEND_MSG_RING (6.13): io_uring_register(-1, ...) with one
// IORING_OP_MSG_RING SQE posts a data message to a ring without a source
// ring. Every answer and what lands in the target's CQ ring are compared
// with the kernel's; so are the messages IORING_OP_MSG_RING leaves for a
// DEFER_TASKRUN ring, which only its task's task work posts.
#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;

constexpr unsigned kSendMsgRing = uapi::kRegisterSendMsgRing;
constexpr unsigned kMsgRingCqeSkip = 1u << 0;
constexpr unsigned kMsgRingFlagsPass = 1u << 1;

struct Answer {
  int ret;
  std::vector<Cqe> cqes;  // the target's, after it ran its task work
  std::uint32_t overflow;
  bool operator==(const Answer& o) const = default;
};
std::ostream& operator<<(std::ostream& os, const Answer& a) {
  os << "{ret=" << a.ret << " overflow=" << a.overflow << " cqes=";
  for (const Cqe& c : a.cqes) os << c;
  return os << "}";
}

// A data message to `target`, as liburing's io_uring_prep_msg_ring builds it.
io_uring_sqe msg_sqe(int target_fd, std::uint64_t user_data, unsigned len) {
  io_uring_sqe s{};
  s.opcode = IORING_OP_MSG_RING;
  s.fd = target_fd;
  s.addr = IORING_MSG_DATA;
  s.off = user_data;
  s.len = len;
  return s;
}

Answer sends(Backend* b, unsigned target_flags, unsigned count,
             const std::function<void(io_uring_sqe*)>& edit) {
  Ring target(b);
  io_uring_params p{};
  p.flags = target_flags;
  if (const int fd = target.init(2, p); fd < 0) return {fd, {}, 0};
  Answer a{0, {}, 0};
  for (unsigned i = 0; i < count; ++i) {
    io_uring_sqe s = msg_sqe(target.fd(), 100 + i, 7 + i);
    edit(&s);
    const int ret = b->reg(-1, kSendMsgRing, &s, 1);
    if (ret) a.ret = ret;
  }
  // Nothing waited for: a DEFER_TASKRUN ring's task work has not run yet.
  a.cqes = target.reap();
  if (!(target_flags & IORING_SETUP_R_DISABLED)) target.enter(0, 0, IORING_ENTER_GETEVENTS);
  append(&a.cqes, target.reap());
  a.overflow = target.cq_overflow();
  target.enter(0, 0, IORING_ENTER_GETEVENTS);  // flushes what overflowed
  append(&a.cqes, target.reap());
  return a;
}

void expect_same(const std::string& what, unsigned target_flags, unsigned count,
                 const std::function<void(io_uring_sqe*)>& edit) {
  KernelBackend kb;
  IostackBackend ib;
  const Answer k = sends(&kb, target_flags, count, edit);
  const Answer o = sends(&ib, target_flags, count, edit);
  EXPECT_EQ(k, o) << what << ": kernel vs iostack";
}

TEST(UringSendMsgRingDiff, FieldsAnswerAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  int pfd[2];
  ASSERT_EQ(0, pipe(pfd));
  const int closed = dup(pfd[0]);
  ASSERT_GE(closed, 0);
  close(closed);
  struct Case {
    const char* name;
    std::function<void(io_uring_sqe*)> edit;
  };
  const std::vector<Case> cases = {
      {"plain", [](io_uring_sqe*) {}},
      {"IOSQE flag", [](io_uring_sqe* s) { s->flags = IOSQE_ASYNC; }},
      {"other opcode", [](io_uring_sqe* s) { s->opcode = IORING_OP_NOP; }},
      {"buf_index", [](io_uring_sqe* s) { s->buf_index = 1; }},
      {"personality", [](io_uring_sqe* s) { s->personality = 1; }},
      {"unknown msg flag", [](io_uring_sqe* s) { s->msg_ring_flags = 4; }},
      {"CQE_SKIP (SEND_FD only)", [](io_uring_sqe* s) { s->msg_ring_flags = kMsgRingCqeSkip; }},
      {"FLAGS_PASS",
       [](io_uring_sqe* s) {
         s->msg_ring_flags = kMsgRingFlagsPass;
         s->file_index = 0x1234;
       }},
      {"file_index without FLAGS_PASS", [](io_uring_sqe* s) { s->file_index = 3; }},
      {"addr3 (a source slot)", [](io_uring_sqe* s) { s->addr3 = 1; }},
      {"addr3 above 32 bits", [](io_uring_sqe* s) { s->addr3 = 1ull << 32; }},
      {"SEND_FD", [](io_uring_sqe* s) { s->addr = IORING_MSG_SEND_FD; }},
      {"unknown command", [](io_uring_sqe* s) { s->addr = 7; }},
      {"negative len", [](io_uring_sqe* s) { s->len = 0xfffffffbu; }},
      {"ioprio and user_data ignored",
       [](io_uring_sqe* s) {
         s->ioprio = 3;
         s->user_data = 99;
       }},
      {"not a ring", [&](io_uring_sqe* s) { s->fd = pfd[0]; }},
      {"closed descriptor", [&](io_uring_sqe* s) { s->fd = closed; }},
      {"fd -1", [](io_uring_sqe* s) { s->fd = -1; }},
  };
  for (const Case& c : cases) expect_same(c.name, 0, 1, c.edit);
  close(pfd[0]);
  close(pfd[1]);
}

TEST(UringSendMsgRingDiff, ArgumentsAndBlindOpcodes) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  auto answers = [](Backend* b) {
    Ring target(b);
    std::vector<int> v;
    if (target.init(4) < 0) return v;
    io_uring_sqe s = msg_sqe(target.fd(), 1, 2);
    v.push_back(b->reg(-1, kSendMsgRing, nullptr, 1));
    v.push_back(b->reg(-1, kSendMsgRing, &s, 0));
    v.push_back(b->reg(-1, kSendMsgRing, &s, 2));
    v.push_back(b->reg(-1, kSendMsgRing, reinterpret_cast<void*>(8), 1));  // -EFAULT
    // The registered-ring bit is dropped before fd -1 is looked at.
    v.push_back(b->reg(-1, kSendMsgRing | IORING_REGISTER_USE_REGISTERED_RING, &s, 1));
    // Only some opcodes take fd -1; others are -EINVAL, not -EBADF.
    v.push_back(b->reg(-1, IORING_REGISTER_BUFFERS, &s, 1));
    v.push_back(b->reg(-1, IORING_REGISTER_PROBE, &s, 1));
    v.push_back(b->reg(-1, 99, &s, 1));
    v.push_back(b->reg(-2, kSendMsgRing, &s, 1));
    // Given a ring, SEND_MSG_RING is no ring opcode.
    v.push_back(b->reg(target.fd(), kSendMsgRing, &s, 1));
    // An opcode past IORING_REGISTER_LAST is -EINVAL before the descriptor.
    v.push_back(b->reg(1000, 99, &s, 1));
    v.push_back(b->reg(1000, uapi::kRegisterLast, &s, 1));
    v.push_back(b->reg(1000, uapi::kRegisterLast - 1, &s, 1));
    v.push_back(static_cast<int>(target.reap().size()));
    return v;
  };
  EXPECT_EQ(answers(&kb), answers(&ib));
}

TEST(UringSendMsgRingDiff, TargetsAsTheKernelPostsToThem) {
  SKIP_WITHOUT_KERNEL_URING();
  const auto none = [](io_uring_sqe*) {};
  // Six messages into a CQ ring of four: two overflow.
  expect_same("plain ring, overflow", 0, 6, none);
  expect_same("DEFER_TASKRUN: posted by the target's task work",
              IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, 6, none);
  expect_same("DEFER_TASKRUN with FLAGS_PASS",
              IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, 2, [](io_uring_sqe* s) {
                s->msg_ring_flags = kMsgRingFlagsPass;
                s->file_index = 5;
              });
  expect_same("IOPOLL", IORING_SETUP_IOPOLL, 3, none);
  expect_same("DEFER_TASKRUN with IOPOLL",
              IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_IOPOLL, 3,
              none);
  expect_same("CQE32", IORING_SETUP_CQE32, 2, none);
  expect_same("disabled", IORING_SETUP_R_DISABLED, 1, none);
  expect_same("SQPOLL", IORING_SETUP_SQPOLL, 2, none);
}

// IORING_OP_MSG_RING to a DEFER_TASKRUN ring, itself or another: the
// message is the target's task work, so the sender's CQE comes first.
TEST(UringSendMsgRingDiff, OpcodeMessagesToDeferTaskrunRings) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params dt{};
  dt.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        io_uring_sqe* s = r.sqe();
        *s = msg_sqe(r.fd(), 0x55, 9);
        s->user_data = 1;
        append(&v, submit_wait(r, 1, 2));
        Ring other(r.backend());
        io_uring_params p{};
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        if (other.init(4, p) < 0) return v;
        s = r.sqe();
        *s = msg_sqe(other.fd(), 0x66, 3);
        s->user_data = 2;
        append(&v, submit_wait(r, 1));
        v.push_back(Cqe{0, static_cast<std::int32_t>(other.reap().size()), 0});
        other.enter(0, 0, IORING_ENTER_GETEVENTS);
        append(&v, other.reap());
        return v;
      },
      4, dt);
}

}  // namespace
}  // namespace uring_test
