// The poll threads' loop step (aio/poller.cpp, uring/poll.cpp): wait for an
// epoll set to have events without taking them, then take them in batches.
#pragma once

#include <poll.h>
#include <sys/epoll.h>

namespace iostack::core {

// Blocks until `epfd` has events; they stay queued, for the caller to take
// under its own lock.
inline void wait_epoll_ready(int epfd) {
  struct pollfd pfd {
    epfd, POLLIN, 0
  };
  while (::poll(&pfd, 1, -1) <= 0) {
  }
}

// Hands every event `epfd` has now to `handle`, without waiting.
template <class Handle>
void drain_epoll(int epfd, Handle&& handle) {
  struct epoll_event evs[64];
  int n;
  do {
    n = ::epoll_wait(epfd, evs, 64, 0);
    for (int i = 0; i < n; ++i) handle(evs[i]);
  } while (n == 64);
}

}  // namespace iostack::core
