// Writing fio's iolog.
#include "job/write_iolog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace iostack::job {
namespace {

constexpr std::size_t kFlushAt = 8192;  // fio's iolog buffer

}  // namespace

IologWriter::~IologWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool IologWriter::open(const std::string& path, std::string* err) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    *err = "write_iolog=" + path + ": " + std::strerror(errno);
    return false;
  }
  path_ = path;
  return true;
}

void IologWriter::start(std::uint64_t now_ns, const std::string& file) {
  file_ = file;
  // A line is at most the file name and three numbers: one flush leaves room.
  buf_.reserve(kFlushAt + file_.size() + 96);
  t0_ = now_ns;
  buf_ += "fio version 3 iolog\n";
  stamp(now_ns);
  buf_ += " add";
  end_line();
}

void IologWriter::stamp(std::uint64_t now_ns) {
  num(now_ns > t0_ ? (now_ns - t0_) / 1000 : 0);
  buf_ += ' ';
  buf_ += file_;
}

void IologWriter::num(std::uint64_t v) {
  char d[24];
  const auto r = std::to_chars(d, d + sizeof d, v);
  buf_.append(d, r.ptr);
}

void IologWriter::end_line() {
  buf_ += '\n';
  if (buf_.size() >= kFlushAt) flush();
}

void IologWriter::io(std::uint64_t now_ns, const char* action, std::uint64_t offset,
                     std::uint64_t len) {
  if (fd_ < 0) return;
  open_file(now_ns);
  stamp(now_ns);
  buf_ += ' ';
  buf_ += action;
  buf_ += ' ';
  num(offset);
  buf_ += ' ';
  num(len);
  end_line();
}

void IologWriter::open_file(std::uint64_t now_ns) {
  if (fd_ < 0 || open_) return;
  stamp(now_ns);
  buf_ += " open";
  end_line();
  open_ = true;
}

void IologWriter::close_file(std::uint64_t now_ns) {
  if (fd_ < 0 || !open_) return;
  stamp(now_ns);
  buf_ += " close";
  end_line();
  open_ = false;
}

bool IologWriter::flush() {
  std::size_t done = 0;
  while (done < buf_.size() && !errno_) {
    const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      errno_ = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  buf_.clear();
  return !errno_;
}

bool IologWriter::finish(std::string* err) {
  if (fd_ < 0) return true;
  flush();
  if (::close(fd_) < 0 && !errno_) errno_ = errno;
  fd_ = -1;
  if (!errno_) return true;
  *err = "write_iolog=" + path_ + ": " + std::strerror(errno_);
  return false;
}

}  // namespace iostack::job
