// The iosched/ files of kyber (kyber_sched_attrs in block/kyber-iosched.c):
// read_lat_nsec and write_lat_nsec, parsed as kstrtoull with base 10 and
// stored as given (no clamping; 0 is accepted).
#include <cerrno>
#include <cstdint>

#include "sched/kyber.hpp"

namespace iostack::sched {
namespace {

// kstrtoull(s, 10, ...): an optional '+', decimal digits, one optional
// trailing newline, nothing else; -ERANGE when it does not fit 64 bits.
int parse_u64_dec(const char* s, std::uint64_t* res) {
  if (*s == '+') ++s;
  std::uint64_t v = 0;
  unsigned digits = 0;
  bool overflow = false;
  for (; *s >= '0' && *s <= '9'; ++s, ++digits) {
    const auto d = static_cast<std::uint64_t>(*s - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    v = v * 10 + d;
  }
  if (overflow) return -ERANGE;
  if (digits == 0) return -EINVAL;
  if (*s == '\n') ++s;
  if (*s) return -EINVAL;
  *res = v;
  return 0;
}

int tunable_domain(const std::string& name) {
  if (name == "read_lat_nsec") return KYBER_READ;
  if (name == "write_lat_nsec") return KYBER_WRITE;
  return -1;
}

}  // namespace

std::vector<std::string> Kyber::attr_names() const { return {"read_lat_nsec", "write_lat_nsec"}; }

int Kyber::attr_show(const std::string& name, std::string* out) const {
  const int d = tunable_domain(name);
  if (d < 0) return -ENOENT;
  *out = std::to_string(latency_targets_[d].load(std::memory_order_relaxed));
  return 0;
}

int Kyber::attr_store(const std::string& name, const std::string& value) {
  const int d = tunable_domain(name);
  if (d < 0) return -ENOENT;
  std::uint64_t nsec;
  if (int err = parse_u64_dec(value.c_str(), &nsec); err < 0) return err;
  latency_targets_[d].store(nsec, std::memory_order_relaxed);
  return 0;
}

}  // namespace iostack::sched
