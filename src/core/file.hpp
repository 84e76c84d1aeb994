// struct file and struct file_operations (include/linux/fs.h), as much of
// them as iostack needs: a reference-counted object behind a descriptor
// number, whose kind is told by its ops table (like io_is_uring_fops()).
#pragma once

#include <atomic>
#include <utility>

namespace iostack::core {

class File;

// struct file_operations: what a kind of iostack file does when its last
// reference goes (fput -> __fput -> f_op->release), and what a child made
// by fork() finds at the same descriptor (null: an ordinary descriptor).
struct FileOps {
  const char* name;
  void (*release)(File* file);
  File* (*fork_child)(File* parent_file) = nullptr;
};

// struct file (include/linux/fs.h)
class File {
 public:
  explicit File(const FileOps* ops) : ops_(ops) {}
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const FileOps* ops() const { return ops_; }
  // get_file() / fput(): the release runs on the thread that drops the last
  // reference, with no table lock held.
  void get() { count_.fetch_add(1, std::memory_order_relaxed); }
  void put() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) ops_->release(this);
  }
  long count() const { return count_.load(std::memory_order_relaxed); }

 protected:
  ~File() = default;  // released through ops()->release

 private:
  const FileOps* ops_;
  std::atomic<long> count_{1};
};

// An owned reference to a File (what fget() returns, fput()'d at scope end).
class FileRef {
 public:
  FileRef() = default;
  explicit FileRef(File* f) : f_(f) {}  // adopts a reference the caller holds
  FileRef(FileRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FileRef& operator=(FileRef&& o) noexcept {
    if (this != &o) {
      reset();
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  ~FileRef() { reset(); }

  File* get() const { return f_; }
  explicit operator bool() const { return f_ != nullptr; }
  bool is(const FileOps* ops) const { return f_ && f_->ops() == ops; }
  // The typed object behind the file, for a caller that checked is().
  template <class T>
  T* as() const {
    return static_cast<T*>(f_);
  }
  File* release() { return std::exchange(f_, nullptr); }
  void reset() {
    if (File* f = std::exchange(f_, nullptr)) f->put();
  }

 private:
  File* f_ = nullptr;
};

}  // namespace iostack::core
