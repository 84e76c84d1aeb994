// write_iolog=FILE (fio's iolog.c init_iolog_write, log_io_u, log_file): a
// job's I/O in issue order, as fio 3.33 writes it: "fio version 3 iolog",
// then "USEC FILE add|open|close" and "USEC FILE ACTION OFFSET LENGTH" lines,
// USEC counting from the log's start. Several jobs may append to one file:
// each writes only whole lines with O_APPEND, so their lines never tear
// (fio's 8 KiB stdio buffers can cut a line in two).
#pragma once

#include <cstdint>
#include <string>

namespace iostack::job {

class IologWriter {
 public:
  IologWriter() = default;
  IologWriter(const IologWriter&) = delete;
  IologWriter& operator=(const IologWriter&) = delete;
  ~IologWriter();

  // Opens `path` for appending (creating it); false with why in *err.
  bool open(const std::string& path, std::string* err);
  // The version line and "add" for `file`; times count from `now_ns`.
  void start(std::uint64_t now_ns, const std::string& file);
  // One I/O (action: read, write, trim, sync, datasync), "open" first if
  // the file is closed, as fio opens files at their first I/O.
  void io(std::uint64_t now_ns, const char* action, std::uint64_t offset, std::uint64_t len);
  // "open" if the file is closed (fio's verify_only dry run opens it and
  // issues nothing).
  void open_file(std::uint64_t now_ns);
  // "close" if the file is open (the end of a loop, of the job, or before
  // its verify phase).
  void close_file(std::uint64_t now_ns);
  bool file_open() const { return open_; }
  // Writes out what is buffered and closes; false with why in *err.
  bool finish(std::string* err);

 private:
  void stamp(std::uint64_t now_ns);
  void num(std::uint64_t v);
  void end_line();
  bool flush();

  int fd_ = -1;
  int errno_ = 0;  // the first write error, reported by finish()
  std::string path_, file_;
  std::uint64_t t0_ = 0;
  bool open_ = false;
  std::string buf_;  // whole lines only; reserved once, so no I/O allocates
};

}  // namespace iostack::job
