// Registered personalities and running a request under one.
#include "uring/personality.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace iostack::uring {

namespace {

constexpr unsigned kMaxId = 0xffff;  // XA_LIMIT(0, USHRT_MAX) without 0

std::vector<gid_t> thread_groups() {
  const int n = getgroups(0, nullptr);
  std::vector<gid_t> g(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n > 0 && getgroups(n, g.data()) != n) g.clear();
  return g;
}

// The thread's ids and groups into `out` (room for kInline groups);
// false when it has more groups than that.
constexpr int kInline = 64;
struct RawCreds {
  uid_t fsuid;
  gid_t fsgid;
  int ngroups;
  gid_t groups[kInline];
};
bool read_raw(RawCreds* out) {
  out->fsuid = static_cast<uid_t>(syscall(SYS_setfsuid, -1));
  out->fsgid = static_cast<gid_t>(syscall(SYS_setfsgid, -1));
  out->ngroups = getgroups(kInline, out->groups);
  return out->ngroups >= 0;
}

bool same(const RawCreds& r, const Creds& c) {
  if (r.fsuid != c.fsuid || r.fsgid != c.fsgid) return false;
  if (c.groups.size() != static_cast<std::size_t>(r.ngroups)) return false;
  for (int i = 0; i < r.ngroups; ++i)
    if (r.groups[i] != c.groups[static_cast<std::size_t>(i)]) return false;
  return true;
}

}  // namespace

std::shared_ptr<const Creds> current_creds_cached() {
  thread_local std::shared_ptr<const Creds> t_creds;
  RawCreds raw;
  if (!read_raw(&raw)) return current_creds();  // more groups than kept inline
  if (t_creds && same(raw, *t_creds)) return t_creds;
  auto c = std::make_shared<Creds>();
  c->fsuid = raw.fsuid;
  c->fsgid = raw.fsgid;
  c->groups.assign(raw.groups, raw.groups + raw.ngroups);
  t_creds = c;
  return t_creds;
}

bool creds_are_current(const Creds& c, bool engine_thread) {
  if (engine_thread) {
    thread_local const std::shared_ptr<const Creds> t_own = current_creds();
    return t_own->fsuid == c.fsuid && t_own->fsgid == c.fsgid && t_own->groups == c.groups;
  }
  RawCreds raw;
  return read_raw(&raw) && same(raw, c);
}

std::shared_ptr<const Creds> current_creds() {
  auto c = std::make_shared<Creds>();
  // setfsuid(-1) changes nothing and answers the current value.
  c->fsuid = static_cast<uid_t>(syscall(SYS_setfsuid, -1));
  c->fsgid = static_cast<gid_t>(syscall(SYS_setfsgid, -1));
  c->groups = thread_groups();
  return c;
}

CredsOverride::CredsOverride(const Creds* c) {
  prev_fsgid_ = syscall(SYS_setfsgid, c->fsgid);
  prev_fsuid_ = syscall(SYS_setfsuid, c->fsuid);
  prev_groups_ = thread_groups();
  if (prev_groups_ != c->groups)
    groups_set_ = syscall(SYS_setgroups, c->groups.size(), c->groups.data()) == 0;
}

CredsOverride::~CredsOverride() {
  if (groups_set_) syscall(SYS_setgroups, prev_groups_.size(), prev_groups_.data());
  syscall(SYS_setfsuid, prev_fsuid_);
  syscall(SYS_setfsgid, prev_fsgid_);
}

int PersonalityTable::add(std::shared_ptr<const Creds> c) {
  for (unsigned tries = 0; tries < kMaxId; ++tries) {
    const unsigned id = next_;
    next_ = next_ == kMaxId ? 1 : next_ + 1;
    if (ids_.emplace(id, c).second) return static_cast<int>(id);
  }
  return -EBUSY;
}

bool PersonalityTable::remove(unsigned id) { return ids_.erase(id) == 1; }

std::shared_ptr<const Creds> PersonalityTable::find(unsigned id) const {
  auto it = ids_.find(id);
  return it == ids_.end() ? nullptr : it->second;
}

}  // namespace iostack::uring
