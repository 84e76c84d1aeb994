// Handshakes with a thread that is about to block: wait (bounded) until the
// kernel reports it asleep, instead of sleeping and hoping it got there.
#pragma once

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace iostack::test {

inline pid_t gettid_now() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The scheduler state letter of thread `tid` of this process (R, S, D...),
// or 0 when it is gone.
inline char thread_state(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return 0;
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  // "tid (comm) S ...": the comm may hold spaces and parentheses.
  const std::string s(buf, n);
  const std::size_t close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() ? s[close + 2] : 0;
}

// The first thread of this process whose name starts with `prefix`, or 0.
inline pid_t thread_named(const std::string& prefix) {
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
    std::FILE* f = std::fopen(path.c_str(), "re");
    if (!f) continue;
    char name[32] = {};
    const bool ok = std::fgets(name, sizeof(name), f) != nullptr;
    std::fclose(f);
    if (ok && std::string(name).rfind(prefix, 0) == 0) {
      found = static_cast<pid_t>(std::stoi(e->d_name));
      break;
    }
  }
  closedir(d);
  return found;
}

// Waits (bounded) until no thread of this process has a name starting with
// `prefix`: a kernel io thread (the kernel's SQPOLL thread of a ring just
// closed) ends asynchronously, and its name is the one iostack's takes.
inline bool wait_until_no_thread_named(const std::string& prefix, int timeout_ms = 5000) {
  for (int waited = 0; waited < timeout_ms * 10; ++waited) {
    if (thread_named(prefix) == 0) return true;
    const struct timespec ts = {0, 100 * 1000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

// Waits until `tid` sleeps (S or D) for `settle` consecutive looks, up to
// `timeout_ms`. True when it does.
inline bool wait_until_blocked(pid_t tid, int timeout_ms = 5000, int settle = 3) {
  int asleep = 0;
  for (int waited = 0; waited < timeout_ms * 10; ++waited) {
    const char st = thread_state(tid);
    asleep = (st == 'S' || st == 'D') ? asleep + 1 : 0;
    if (asleep >= settle) return true;
    const struct timespec ts = {0, 100 * 1000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

// Waits until every other thread of this process sleeps (S or D) for
// `settle` consecutive looks, up to `timeout_ms`. A fork then finds none
// of them inside a lock the child needs (GCC 12's AddressSanitizer does
// not take its allocator's lock around fork: a child forked while an
// engine thread allocates hangs at its first allocation).
inline bool wait_until_others_asleep(int timeout_ms = 2000, int settle = 3) {
  const pid_t self = gettid_now();
  int asleep = 0;
  for (int waited = 0; waited < timeout_ms * 10; ++waited) {
    bool all = true;
    if (DIR* d = opendir("/proc/self/task")) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const pid_t tid = static_cast<pid_t>(std::stoi(e->d_name));
        const char st = tid == self ? 'S' : thread_state(tid);
        if (st != 'S' && st != 'D' && st != 0) all = false;
      }
      closedir(d);
    }
    asleep = all ? asleep + 1 : 0;
    if (asleep >= settle) return true;
    const struct timespec ts = {0, 100 * 1000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

// fork() for a test whose child goes on using the engine, once the
// process's other threads sleep: GCC 12's libasan takes no allocator lock
// around fork, so a child forked while an engine thread allocates hangs at
// its first allocation (the child's io-wq worker and ring-share thread were
// seen waiting on that mutex).
inline pid_t quiet_fork() {
  wait_until_others_asleep();
  return fork();
}

}  // namespace iostack::test
