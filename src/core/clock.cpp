// The waits of a clock whose time passes on its own (the real one).
#include "core/clock.hpp"

#include <chrono>
#include <thread>

namespace iostack::core {

bool Clock::wait(UniqueLock<Mutex>& lock, CondVar& cv, Nanos timeout) {
  if (timeout == kNoTimeout)
    cv.wait(lock);
  else
    cv.wait_for(lock, std::chrono::nanoseconds(timeout));
  return true;
}

bool Clock::pause(Nanos real_time) {
  std::this_thread::sleep_for(std::chrono::nanoseconds(real_time));
  return true;
}

}  // namespace iostack::core
