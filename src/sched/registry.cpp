#include "sched/registry.hpp"

#include "sched/kyber.hpp"
#include "sched/mq_deadline.hpp"

namespace iostack::sched {
namespace {

// struct elevator_type, reduced to what a lookup needs.
struct ElevatorType {
  const char* name;
  const char* alias;  // elevator_alias, may be null
  std::unique_ptr<block::Elevator> (*create)(block::RequestQueue*);
};

template <typename T>
std::unique_ptr<block::Elevator> make(block::RequestQueue* q) {
  return std::make_unique<T>(q);
}

constexpr ElevatorType kElevators[] = {
    {"mq-deadline", "deadline", &make<MqDeadline>},
    {"kyber", nullptr, &make<Kyber>},
};

}  // namespace

std::unique_ptr<block::Elevator> elevator_create(const std::string& name, block::RequestQueue* q) {
  for (const ElevatorType& t : kElevators)
    if (name == t.name || (t.alias && name == t.alias)) return t.create(q);
  return nullptr;
}

std::vector<std::string> elevator_names() {
  std::vector<std::string> names;
  for (const ElevatorType& t : kElevators) names.emplace_back(t.name);
  return names;
}

}  // namespace iostack::sched
