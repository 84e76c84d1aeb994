// What /proc tells of an eventfd (see eventfd_info.hpp).
#include "core/eventfd_info.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace iostack::core {

bool is_eventfd(int fd) {
  char path[64], target[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n < 0) return false;
  target[n] = '\0';
  return std::strcmp(target, "anon_inode:[eventfd]") == 0;
}

bool eventfd_fdinfo(int fd, const char* format, unsigned long long* value) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  bool found = false;
  char line[128];
  while (!found && std::fgets(line, sizeof(line), f)) found = std::sscanf(line, format, value) == 1;
  std::fclose(f);
  return found;
}

}  // namespace iostack::core
