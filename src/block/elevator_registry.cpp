// The scheduler registry: a list filled by the schedulers at start-up.
#include "block/elevator_registry.hpp"

#include "core/mutex.hpp"

namespace iostack::block {
namespace {

struct Registry {
  core::Mutex mu;
  std::vector<const ElevatorType*> types GUARDED_BY(mu);
};

// Function-local: schedulers register from their static initializers,
// whose order against this file's is unknown.
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: used up to exit
  return *r;
}

}  // namespace

void elv_register(const ElevatorType* type) {
  Registry& r = registry();
  core::LockGuard lock(r.mu);
  r.types.push_back(type);
}

std::unique_ptr<Elevator> elevator_create(const std::string& name, RequestQueue* q) {
  const ElevatorType* found = nullptr;
  {
    Registry& r = registry();
    core::LockGuard lock(r.mu);
    for (const ElevatorType* t : r.types)
      if (name == t->name || (t->alias && name == t->alias)) found = t;
  }
  return found ? found->create(q) : nullptr;
}

std::vector<std::string> elevator_names() {
  Registry& r = registry();
  core::LockGuard lock(r.mu);
  std::vector<std::string> names;
  for (const ElevatorType* t : r.types) names.emplace_back(t->name);
  return names;
}

}  // namespace iostack::block
