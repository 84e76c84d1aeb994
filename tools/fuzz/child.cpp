// Fork, time limit and result collection for one run.
#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "world.hpp"

namespace fuzz {

namespace {

long long now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

constexpr const char* kEndMarker = "end-of-log\n";

// Children that sent their log and are still exiting.
std::vector<pid_t> g_exiting;

void reap_finished() {
  std::vector<pid_t> left;
  for (pid_t pid : g_exiting) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == 0) left.push_back(pid);
  }
  g_exiting.swap(left);
}

}  // namespace

RunResult run_in_child(const std::string& base, const std::function<std::string(const std::string&)>& body,
                       int timeout_ms) {
  RunResult res;
  std::string tmpl = base + "/iostack-fuzz-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    res.status = RunResult::kCrash;
    res.log = std::string("mkdtemp: ") + std::strerror(errno);
    return res;
  }
  const std::string dir = tmpl;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    res.status = RunResult::kCrash;
    return res;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    const std::string out = body(dir);
    std::size_t off = 0;
    const std::string msg = out + kEndMarker;
    while (off < msg.size()) {
      const ssize_t n = write(p[1], msg.data() + off, msg.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    // Closing before exiting lets the parent go on while the kernel tears
    // down what the child had (an AIO context waits for an RCU grace period).
    close(p[1]);
    _exit(0);
  }
  close(p[1]);
  const long long deadline = now_ms() + timeout_ms;
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    const long long left = deadline - now_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pfd = {p[0], POLLIN, 0};
    const int r = poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    const ssize_t n = read(p[0], buf, sizeof(buf));
    if (n <= 0) break;
    res.log.append(buf, static_cast<std::size_t>(n));
  }
  close(p[0]);
  reap_finished();
  const bool complete = res.log.size() >= std::strlen(kEndMarker) &&
                        res.log.compare(res.log.size() - std::strlen(kEndMarker), std::string::npos,
                                        kEndMarker) == 0;
  if (complete && !timed_out) {
    // The whole log came: the child only has to exit; reap it later.
    res.log.resize(res.log.size() - std::strlen(kEndMarker));
    g_exiting.push_back(pid);
    remove_tree(dir);
    return res;
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    res.status = RunResult::kTimeout;
  } else if (WIFSIGNALED(status)) {
    res.status = RunResult::kCrash;
    res.signal = WTERMSIG(status);
  } else {
    res.status = RunResult::kCrash;  // exited without sending its whole log
    res.signal = 128 + (WIFEXITED(status) ? WEXITSTATUS(status) : 0);
  }
  remove_tree(dir);
  return res;
}

}  // namespace fuzz
