// struct io_sq_data (io_uring/sqpoll.h): one SQPOLL thread and the rings it
// polls; rings created with SQPOLL | ATTACH_WQ share their parent's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <thread>

#include "core/list.hpp"
#include "core/mutex.hpp"
#include "uring/sync.hpp"

namespace iostack::uring {

// struct io_sq_data (io_uring/sqpoll.h)
struct IoSqData {
  std::atomic<int> refs{1};
  core::Mutex lock;                          // held by the thread while it polls
  core::ListHead ctx_list GUARDED_BY(lock);  // IoRingCtx::sqd_node
  std::atomic<int> park_pending{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> alive{false};
  std::atomic<unsigned> idle_ms{1000};
  int sq_cpu = -1;
  pid_t tgid = 0;
  WaitQueue wait;  // where the thread sleeps after sq_thread_idle
  std::thread thread;
};

}  // namespace iostack::uring
