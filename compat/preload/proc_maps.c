/* A streaming /proc/self/maps parser over raw system calls. */
#include "proc_maps.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "raw.h"

int maps_each(int (*fn)(const struct map_entry* e, void* ctx), void* ctx) {
  const long fd =
      preload_raw6(__NR_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
  if (fd < 0) return (int)fd;
  /* Per line: start '-' end ' ' perms, then everything up to '\n' skipped. */
  enum { START, END, PERMS, REST } field = START;
  struct map_entry e = {0, 0, 0, 0};
  int perm_index = 0, stop = 0;
  char buf[2048];
  long n;
  while (!stop && (n = preload_raw6(__NR_read, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0) {
    for (long i = 0; i < n && !stop; ++i) {
      const char c = buf[i];
      switch (field) {
        case START:
        case END: {
          uintptr_t* v = field == START ? &e.start : &e.end;
          if (c >= '0' && c <= '9')
            *v = *v * 16 + (uintptr_t)(c - '0');
          else if (c >= 'a' && c <= 'f')
            *v = *v * 16 + (uintptr_t)(c - 'a' + 10);
          else if (field == START && c == '-')
            field = END;
          else if (field == END && c == ' ')
            field = PERMS;
          break;
        }
        case PERMS:
          if (c == ' ') {
            field = REST;
            break;
          }
          if (perm_index == 0 && c == 'r') e.prot |= PROT_READ;
          if (perm_index == 1 && c == 'w') e.prot |= PROT_WRITE;
          if (perm_index == 2 && c == 'x') e.prot |= PROT_EXEC;
          if (perm_index == 3 && c == 's') e.shared = 1;
          ++perm_index;
          break;
        case REST:
          break;
      }
      if (c == '\n') {
        stop = fn(&e, ctx);
        e = (struct map_entry){0, 0, 0, 0};
        field = START;
        perm_index = 0;
      }
    }
  }
  preload_raw6(__NR_close, fd, 0, 0, 0, 0, 0);
  return n < 0 ? (int)n : 0;
}
