// The list of registered I/O schedulers (elv_register / elevator_find in
// block/elevator.c). "none" is not a scheduler: the block layer handles it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "block/elevator.hpp"

namespace iostack::sched {

// A new scheduler instance for `q` by name or alias ("deadline"), or nullptr
// for an unknown name. The caller strips whitespace first, as sysfs does.
std::unique_ptr<block::Elevator> elevator_create(const std::string& name, block::RequestQueue* q);

// Registered scheduler names, in registration order.
std::vector<std::string> elevator_names();

}  // namespace iostack::sched
