// The io controller's cgroups: the process-wide tree of named cgroups,
// io.bfq.weight writes and reads, and task membership.
#include "task/blkcg.hpp"

#include <cerrno>
#include <charconv>
#include <map>
#include <memory>

#include "task/current.hpp"
#include "task/task.hpp"

namespace iostack::task {
namespace {

struct Registry {
  core::Mutex lock;
  std::map<std::string, std::unique_ptr<Blkcg>, std::less<>> by_path GUARDED_BY(lock);
  std::uint64_t next_serial GUARDED_BY(lock) = 2;  // the root's css is 1
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// A whole unsigned decimal number (simple_strtoull with base 0 also takes
// hex and octal; weights are written in decimal).
bool parse_u64(std::string_view s, std::uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc{} && p == s.data() + s.size();
}

void bump(Blkcg* cg) { cg->bfq_weight_gen.fetch_add(1, std::memory_order_release); }

// bfq_io_set_device_weight: "MAJ:MIN W" or "MAJ:MIN default".
int set_device_weight(Blkcg* cg, std::string_view text) {
  const std::size_t sp = text.find_first_of(" \t");
  if (sp == std::string_view::npos) return -EINVAL;
  const std::string_view dev = text.substr(0, sp), body = trim(text.substr(sp));
  const std::size_t colon = dev.find(':');
  std::uint64_t major, minor, w = 0;
  if (colon == std::string_view::npos || !parse_u64(dev.substr(0, colon), &major) ||
      !parse_u64(dev.substr(colon + 1), &minor) || major > 0xfff || minor > 0xfffff)
    return -EINVAL;
  if (body != "default") {
    if (!parse_u64(body, &w)) return -EINVAL;
    if (w < kBfqCgWeightMin || w > kBfqCgWeightMax) return -ERANGE;
  }
  {
    core::LockGuard g(cg->lock);
    auto& v = cg->dev_weights;
    auto it = v.begin();
    while (it != v.end() && !(it->major == major && it->minor == minor)) ++it;
    if (w == 0) {
      if (it != v.end()) v.erase(it);
    } else if (it != v.end()) {
      it->weight = static_cast<unsigned>(w);
    } else {
      v.push_back(
          {static_cast<unsigned>(major), static_cast<unsigned>(minor), static_cast<unsigned>(w)});
    }
  }
  bump(cg);
  return 0;
}

}  // namespace

int blkcg_lookup_create(std::string_view path, Blkcg** out) {
  *out = nullptr;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return 0;
  Registry& r = registry();
  core::LockGuard g(r.lock);
  Blkcg* parent = nullptr;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t slash = path.find('/', pos);
    const std::string_view comp =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (comp.empty() || comp == "." || comp == "..") return -EINVAL;
    const std::string_view prefix = path.substr(0, slash);
    auto it = r.by_path.find(prefix);
    if (it == r.by_path.end()) {
      auto cg = std::make_unique<Blkcg>();
      cg->path = std::string(prefix);
      cg->parent = parent;
      cg->serial = r.next_serial++;
      it = r.by_path.emplace(cg->path, std::move(cg)).first;
    }
    parent = it->second.get();
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  *out = parent;
  return 0;
}

int blkcg_write_bfq_weight(Blkcg* cg, std::string_view text) {
  if (!cg) return -EINVAL;  // CFTYPE_NOT_ON_ROOT
  text = trim(text);
  std::uint64_t w;
  const bool plain = parse_u64(text, &w);
  const bool deflt =
      !plain && text.substr(0, 8) == "default " && parse_u64(trim(text.substr(8)), &w);
  if (!plain && !deflt) return set_device_weight(cg, text);
  if (w < kBfqCgWeightMin || w > kBfqCgWeightMax) return -ERANGE;
  cg->bfq_weight.store(static_cast<unsigned>(w), std::memory_order_relaxed);
  bump(cg);
  return 0;
}

std::string blkcg_show_bfq_weight(const Blkcg* cg) {
  if (!cg) return {};
  std::string s =
      "default " + std::to_string(cg->bfq_weight.load(std::memory_order_relaxed)) + "\n";
  core::LockGuard g(cg->lock);
  for (const Blkcg::DevWeight& d : cg->dev_weights)
    s += std::to_string(d.major) + ":" + std::to_string(d.minor) + " " + std::to_string(d.weight) +
         "\n";
  return s;
}

unsigned blkcg_bfq_weight(const Blkcg* cg, unsigned major, unsigned minor) {
  if (!cg) return kBfqCgWeightDefault;
  {
    core::LockGuard g(cg->lock);
    for (const Blkcg::DevWeight& d : cg->dev_weights)
      if (d.major == major && d.minor == minor) return d.weight;
  }
  return cg->bfq_weight.load(std::memory_order_relaxed);
}

void blkcg_attach(Task* t, Blkcg* cg) { t->blkcg.store(cg, std::memory_order_release); }

Blkcg* current_blkcg() {
  const Task* t = current();
  return t ? t->blkcg.load(std::memory_order_acquire) : nullptr;
}

}  // namespace iostack::task
