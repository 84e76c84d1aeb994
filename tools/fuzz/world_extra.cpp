// The parts of the fuzz world added for the socket, epoll, xattr, open_how,
// futex and descriptor-table opcodes: their descriptors, the fixed objects
// their SQEs point at, and their final state.
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "iostack/uring.h"
#include "world.hpp"

namespace fuzz {

namespace {

// struct futex_waitv (linux/futex.h of 5.16+), spelled out for older headers.
struct Waitv {
  std::uint64_t val;
  std::uint64_t uaddr;
  std::uint32_t flags;
  std::uint32_t reserved;
};

struct Objects {
  int fds[4];
  struct open_how hows[kNumHows];
  struct epoll_event ev;
  struct iovec iov;
  struct msghdr msg;
  struct sockaddr_un sun;
  Waitv wv;
  char scratch[256];
};

const char* const kXattrNames[kNumXattrNames] = {"user.fuzz", "user.other", "trusted.x", "",
                                                 "nodot"};

}  // namespace

bool World::create_extra(std::string* err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    *err = "socketpair";
    return false;
  }
  fds[kSockA] = sv[0];
  fds[kSockB] = sv[1];
  fds[kEpoll] = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = 5;
  if (fds[kEpoll] < 0 || epoll_ctl(fds[kEpoll], EPOLL_CTL_ADD, fds[kPipeR], &ev) != 0) {
    *err = "epoll";
    return false;
  }
  auto* o = static_cast<Objects*>(std::calloc(1, sizeof(Objects)));
  objs_ = o;
  o->fds[0] = fds[kFileB];
  o->fds[1] = -1;
  o->fds[2] = fds[kPipeW];
  o->fds[3] = fds[kSockA];
  o->hows[0] = {O_RDONLY, 0, 0};
  o->hows[1] = {O_RDWR | O_CREAT, 0644, 0};
  o->hows[2] = {O_RDONLY, 0, RESOLVE_BENEATH};
  o->hows[3] = {O_RDONLY, 0644, 0x80};  // a mode without O_CREAT, an unknown resolve flag
  o->ev.events = EPOLLIN | EPOLLOUT;
  o->ev.data.u64 = 7;
  o->iov = {bufptr(1), 16};
  o->msg.msg_iov = &o->iov;
  o->msg.msg_iovlen = 1;
  o->sun.sun_family = AF_UNIX;
  std::memcpy(o->sun.sun_path, "sock", 5);
  o->wv = {kBuf0Word, reinterpret_cast<std::uintptr_t>(bufptr(0)), 2 /* FUTEX2_SIZE_U32 */ | 128,
           0};
  return true;
}

std::uint64_t World::extra_addr(const Addr& a) {
  auto* o = static_cast<Objects*>(objs_);
  switch (a.kind) {
    case AK::kFds:
      return reinterpret_cast<std::uintptr_t>(o->fds);
    case AK::kName:
      return reinterpret_cast<std::uintptr_t>(kXattrNames[a.idx % kNumXattrNames]);
    case AK::kHow:
      return reinterpret_cast<std::uintptr_t>(&o->hows[a.idx % kNumHows]);
    case AK::kEpev:
      return reinterpret_cast<std::uintptr_t>(&o->ev);
    case AK::kMsg:
      return reinterpret_cast<std::uintptr_t>(&o->msg);
    case AK::kSockaddr:
      return reinterpret_cast<std::uintptr_t>(&o->sun);
    case AK::kWaitv:
      return reinterpret_cast<std::uintptr_t>(&o->wv);
    case AK::kScratch:
      return reinterpret_cast<std::uintptr_t>(o->scratch);
    default:
      return 0;
  }
}

void World::extra_state(Log* log) {
  for (int i : {kSockA, kSockB}) {
    std::string v = "closed";
    if (fcntl(fds[i], F_GETFL) >= 0) {
      char b[65536];
      const ssize_t n = recv(fds[i], b, sizeof(b), MSG_DONTWAIT | MSG_PEEK);
      v = n < 0 ? "-" + errno_name(errno)
                : std::to_string(n) + " hash=" + hex(fnv(b, static_cast<std::size_t>(n)));
    }
    log->add(std::string("sock ") + slot_name(i), v);
  }
  struct epoll_event ev[4];
  static const struct timespec kNow = {0, 0};
  const int n = fcntl(fds[kEpoll], F_GETFL) < 0 ? -EBADF
                : epoll_as_iostack ? iostack_epoll_pwait2(fds[kEpoll], ev, 4, &kNow, nullptr)
                                   : epoll_wait(fds[kEpoll], ev, 4, 0);
  std::string v = n < 0 ? "closed" : std::to_string(n);
  for (int i = 0; i < n; ++i) v += " " + std::to_string(ev[i].data.u64) + ":" + hex(ev[i].events);
  log->add("epoll", v);
}

}  // namespace fuzz
