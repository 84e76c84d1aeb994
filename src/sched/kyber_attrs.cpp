// The iosched/ files of kyber (kyber_sched_attrs in block/kyber-iosched.c):
// read_lat_nsec and write_lat_nsec, parsed as kstrtoull with base 10 and
// stored as given (no clamping; 0 is accepted).
#include <cerrno>
#include <cstdint>

#include "core/kstrtox.hpp"
#include "sched/kyber.hpp"

namespace iostack::sched {
namespace {

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
  if (int err = core::kstrtoull(value.c_str(), 10, &nsec); err < 0) return err;
  latency_targets_[d].store(nsec, std::memory_order_relaxed);
  return 0;
}

}  // namespace iostack::sched
