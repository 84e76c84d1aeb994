// The registered I/O schedulers (elv_register / elevator_find in
// block/elevator.c). Schedulers in sched/ register themselves; the block
// layer finds them by name. "none" is not a scheduler: block handles it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "block/elevator.hpp"

namespace iostack::block {

// struct elevator_type, reduced to what a lookup needs.
struct ElevatorType {
  const char* name;
  const char* alias;  // elevator_alias, may be null
  std::unique_ptr<Elevator> (*create)(RequestQueue*);
};

// elv_register(): `type` must outlive the process (a static).
void elv_register(const ElevatorType* type);

// A new scheduler instance for `q` by name or alias ("deadline"), or nullptr
// for an unknown name. The caller strips whitespace first, as sysfs does.
std::unique_ptr<Elevator> elevator_create(const std::string& name, RequestQueue* q);

// Registered scheduler names, in registration order.
std::vector<std::string> elevator_names();

}  // namespace iostack::block
