// Registered personalities (io_register_personality, io_unregister_personality
// in io_uring/register.c): credentials saved at registration that a request
// names in sqe->personality and runs under.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <vector>

namespace iostack::uring {

// struct cred (include/linux/cred.h), as much of it as one thread of a
// process can take on by itself: the filesystem ids and the supplementary
// groups, which decide what path lookups and opens may do.
struct Creds {
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
};

// The calling thread's credentials.
std::shared_ptr<const Creds> current_creds();
// The same, for a request going to another thread (IORING_FEAT_CUR_PERSONALITY:
// io_prep_async_work takes the submitter's credentials): a per-thread copy
// reused while the thread's credentials stay what they were, so a punt
// allocates nothing in steady state.
std::shared_ptr<const Creds> current_creds_cached();
// Whether the calling thread runs under `c` already (an override would
// change nothing). An engine thread (an io-wq worker) changes its
// credentials only through overrides, which it undoes, or with the whole
// process: its own are read once and compared from then on.
bool creds_are_current(const Creds& c, bool engine_thread);

// override_creds/revert_creds for one thread: switches the thread's
// filesystem ids and groups to `c` for the scope (raw per-thread system
// calls, not glibc's process-wide ones). A thread without the privilege to
// take them on keeps its own, as setfsuid(2) does.
class CredsOverride {
 public:
  explicit CredsOverride(const Creds* c);
  ~CredsOverride();
  CredsOverride(const CredsOverride&) = delete;
  CredsOverride& operator=(const CredsOverride&) = delete;

 private:
  long prev_fsuid_ = -1;
  long prev_fsgid_ = -1;
  std::vector<gid_t> prev_groups_;
  bool groups_set_ = false;
};

// ctx->personalities: ids from 1 to 65535, given out cyclically.
class PersonalityTable {
 public:
  int add(std::shared_ptr<const Creds> c);  // the id, or -EBUSY when full
  bool remove(unsigned id);
  std::shared_ptr<const Creds> find(unsigned id) const;

 private:
  std::map<unsigned, std::shared_ptr<const Creds>> ids_;
  unsigned next_ = 1;
};

}  // namespace iostack::uring
