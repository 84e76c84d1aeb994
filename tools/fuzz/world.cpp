// Building the fuzz world in a run's directory and reading its final state.
#include "world.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/time_types.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fuzz {

namespace {

const char* const kSlotNames[kNumAllSlots] = {"a",     "b",     "c",       "e",       "dir",
                                              "pipeR", "pipeW", "eventfd", "devnull", "ring",
                                              "sockA", "sockB", "epoll"};
const char* const kFileNames[kNumFiles] = {"a", "b", "c", "e"};
const std::size_t kFileSizes[kNumFiles] = {16384, 8192, 4096, 0};

std::string long_path() { return std::string(4200, 'x'); }

const char* path_at(unsigned idx) {
  static const std::string lp = long_path();
  static const char* const paths[kNumPaths] = {"a",   "b",         "nonexistent", "d",       "",
                                               "d/x", "/dev/null", lp.c_str(),    "newfile", "x"};
  return paths[idx % kNumPaths];
}

const __kernel_timespec kTimespecs[kNumTimespecs] = {{0, 0},  {0, 1000000},    {0, 5000000},
                                                     {10, 0}, {0, 1000000000}, {-1, 0}};

bool write_file(const char* name, std::size_t size, unsigned salt) {
  const int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>('A' + (i * 7 + salt * 13 + i / 512) % 26);
  const bool ok = size == 0 || write(fd, data.data(), size) == static_cast<ssize_t>(size);
  close(fd);
  return ok;
}

std::string dir_listing(const char* path) {
  DIR* d = opendir(path);
  if (!d) return "-" + errno_name(errno);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += n + " ";
  return out;
}

}  // namespace

const char* slot_name(int slot) {
  return slot >= 0 && slot < kNumAllSlots ? kSlotNames[slot] : "?";
}

int path_file_slot(unsigned idx) {
  for (int f = 0; f < kNumFiles; ++f)
    if (std::strcmp(path_at(idx), kFileNames[f]) == 0) return f;
  return -1;
}

std::string fd_str(const FdSel& f) {
  if (f.slot >= 0) return slot_name(f.slot);
  return std::to_string(f.raw);
}

Addr raw(std::uint64_t v) {
  Addr a;
  a.raw = v;
  return a;
}

Addr buf(unsigned idx, std::uint32_t off) {
  Addr a;
  a.kind = AK::kBuf;
  a.idx = static_cast<std::uint8_t>(idx);
  a.off = off;
  return a;
}

std::string addr_str(const Addr& a) {
  switch (a.kind) {
    case AK::kRaw:
      return a.raw < 4096 ? std::to_string(a.raw) : hex(a.raw);
    case AK::kBuf:
      return "buf" + std::to_string(a.idx) + "+" + std::to_string(a.off);
    case AK::kIov:
      return "iov";
    case AK::kPath: {
      std::string p = path_at(a.idx);
      if (p.size() > 20) p = "<" + std::to_string(p.size()) + " x>";
      return "\"" + p + "\"";
    }
    case AK::kTs:
      return "ts{" + std::to_string(kTimespecs[a.idx % kNumTimespecs].tv_sec) + "," +
             std::to_string(kTimespecs[a.idx % kNumTimespecs].tv_nsec) + "}";
    case AK::kStatx:
      return "statxbuf";
    case AK::kProtNone:
      return "PROT_NONE+" + std::to_string(a.off);
    case AK::kKernel:
      return "kernel-addr";
    case AK::kFds:
      return "fds[b,-1,pipeW,sockA]";
    case AK::kName:
      return "name" + std::to_string(a.idx);
    case AK::kHow:
      return "open_how" + std::to_string(a.idx);
    case AK::kEpev:
      return "epoll_event";
    case AK::kMsg:
      return "msghdr";
    case AK::kSockaddr:
      return "sockaddr_un";
    case AK::kWaitv:
      return "futex_waitv";
    case AK::kScratch:
      return "scratch";
  }
  return "?";
}

bool World::create(const std::string& dir, std::string* err) {
  if (chdir(dir.c_str()) != 0) {
    *err = "chdir " + dir + ": " + std::strerror(errno);
    return false;
  }
  for (int i = 0; i < kNumFiles; ++i) {
    if (!write_file(kFileNames[i], kFileSizes[i], static_cast<unsigned>(i))) {
      *err = std::string("cannot create ") + kFileNames[i];
      return false;
    }
  }
  if (mkdir("d", 0755) != 0 || !write_file("d/x", 100, 9)) {
    *err = "cannot create d/x";
    return false;
  }
  fds[kFileA] = open("a", O_RDWR | O_CLOEXEC);
  fds[kFileB] = open("b", O_RDONLY | O_CLOEXEC);
  fds[kFileC] = open("c", O_WRONLY | O_APPEND | O_CLOEXEC);
  fds[kFileE] = open("e", O_RDWR | O_CLOEXEC);
  fds[kDir] = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    *err = "pipe";
    return false;
  }
  fds[kPipeR] = p[0];
  fds[kPipeW] = p[1];
  if (write(p[1], "0123456789abcdef", 16) != 16) {
    *err = "pipe write";
    return false;
  }
  fds[kEventfd] = eventfd(2, EFD_CLOEXEC);
  fds[kDevNull] = open("/dev/null", O_RDWR | O_CLOEXEC);
  fds[kRing] = -1;
  for (int i = 0; i < kRing; ++i) {
    if (fds[i] < 0) {
      *err = std::string("cannot open ") + slot_name(i);
      return false;
    }
  }
  // Buffers, then one page nobody may touch.
  const std::size_t len = kNumBufs * kBufSize + 4096;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    *err = "mmap";
    return false;
  }
  bufs_ = static_cast<char*>(m);
  guard_ = bufs_ + kNumBufs * kBufSize;
  mprotect(guard_, 4096, PROT_NONE);
  for (unsigned b = 0; b < kNumBufs; ++b) {
    for (std::uint32_t i = 0; i < kBufSize; ++i)
      bufptr(b)[i] = b < 2 ? static_cast<char>('a' + (i + b * 5) % 26) : 0;
  }
  if (!create_extra(err)) return false;
  statx_ = std::calloc(1, 4096);
  timespecs_ = std::malloc(sizeof(kTimespecs));
  std::memcpy(timespecs_, kTimespecs, sizeof(kTimespecs));
  return true;
}

std::uint64_t World::addr(const Addr& a) {
  switch (a.kind) {
    case AK::kRaw:
      return a.raw;
    case AK::kBuf:
      return reinterpret_cast<std::uintptr_t>(bufptr(a.idx % kNumBufs)) + a.off;
    case AK::kIov:
      return 0;  // resolved by the caller through iovec_array()
    case AK::kPath:
      return reinterpret_cast<std::uintptr_t>(path_at(a.idx));
    case AK::kTs:
      return reinterpret_cast<std::uintptr_t>(static_cast<__kernel_timespec*>(timespecs_) +
                                              a.idx % kNumTimespecs);
    case AK::kStatx:
      return reinterpret_cast<std::uintptr_t>(statx_);
    case AK::kProtNone:
      return reinterpret_cast<std::uintptr_t>(guard_) + (a.off % 4096);
    case AK::kKernel:
      return 0xffff888000000000ULL + a.off;
    default:
      return extra_addr(a);
  }
}

std::uint64_t World::iovec_array(const std::vector<IovSeg>& segs) {
  std::vector<struct iovec> v;
  for (const IovSeg& s : segs)
    v.push_back({reinterpret_cast<void*>(addr(s.base)), static_cast<std::size_t>(s.len)});
  // An SQE's len may count one segment more than the program has: the
  // kernel then reads the entry behind them, which must be the same on
  // both sides (it was heap memory, a different one in each process). It
  // points into the guard page.
  v.push_back({guard_, 100});
  iovs_.push_back(std::move(v));
  return reinterpret_cast<std::uintptr_t>(iovs_.back().data());
}

void World::final_state(Log* log) {
  for (int i = 0; i < kNumFiles; ++i) {
    const int fd = open(kFileNames[i], O_RDONLY | O_CLOEXEC);
    std::string v;
    if (fd < 0) {
      v = "-" + errno_name(errno);
    } else {
      // Only the data extents (a write far out makes a huge sparse file).
      const off_t size = lseek(fd, 0, SEEK_END);
      std::uint64_t h = fnv(nullptr, 0);
      off_t pos = 0;
      char b[65536];
      while (pos < size) {
        const off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0) break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) hole = size;
        h = fnv(&data, sizeof(data), h);
        for (off_t at = data; at < hole;) {
          const ssize_t n =
              pread(fd, b, static_cast<std::size_t>(std::min<off_t>(hole - at, sizeof(b))), at);
          if (n <= 0) break;
          h = fnv(b, static_cast<std::size_t>(n), h);
          at += n;
        }
        pos = hole;
      }
      close(fd);
      v = "size=" + std::to_string(size) + " hash=" + hex(h);
    }
    log->add(std::string("file ") + kFileNames[i], v);
  }
  log->add("dir .", dir_listing("."));
  log->add("dir d", dir_listing("d"));
  for (int i = 0; i < kRing; ++i) {
    const int fl = fcntl(fds[i], F_GETFL);
    if (fl < 0) {
      log->add(std::string("fd ") + slot_name(i), "closed");
      continue;
    }
    std::string v = "open";
    if (i < kNumFiles || i == kDir) {
      const off_t pos = lseek(fds[i], 0, SEEK_CUR);
      v += " pos=" + std::to_string(pos);
    }
    log->add(std::string("fd ") + slot_name(i), v);
  }
  if (fcntl(fds[kPipeR], F_GETFL) >= 0) {
    fcntl(fds[kPipeR], F_SETFL, O_NONBLOCK);
    char b[65536];
    const ssize_t n = read(fds[kPipeR], b, sizeof(b));
    log->add("pipe left",
             n < 0 ? "-" + errno_name(errno)
                   : std::to_string(n) + " hash=" + hex(fnv(b, static_cast<std::size_t>(n))));
  }
  if (fcntl(fds[kEventfd], F_GETFL) >= 0) {
    struct pollfd pfd = {fds[kEventfd], POLLIN, 0};
    std::uint64_t v = 0;
    if (poll(&pfd, 1, 0) == 1 && read(fds[kEventfd], &v, 8) == 8)
      log->add("eventfd", std::to_string(v));
    else
      log->add("eventfd", "0");
  }
  for (unsigned b = 0; b < kNumBufs; ++b)
    log->add("buf " + std::to_string(b), hex(fnv(bufptr(b), kBufSize)));
  extra_state(log);
}

namespace {
int rm_one(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}
}  // namespace

void remove_tree(const std::string& dir) { nftw(dir.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS); }

}  // namespace fuzz
