// The schedulers register with the block layer (module_init ->
// elv_register), in the kernel's order: mq-deadline, kyber, bfq.
#include "block/elevator_registry.hpp"
#include "sched/bfq.hpp"
#include "sched/kyber.hpp"
#include "sched/mq_deadline.hpp"

namespace iostack::sched {
namespace {

template <typename T>
std::unique_ptr<block::Elevator> make(block::RequestQueue* q) {
  return std::make_unique<T>(q);
}

constexpr block::ElevatorType kElevators[] = {
    {"mq-deadline", "deadline", &make<MqDeadline>},
    {"kyber", nullptr, &make<Kyber>},
    {"bfq", nullptr, &make<Bfq>},
};

[[maybe_unused]] const bool g_registered = [] {
  for (const block::ElevatorType& t : kElevators) block::elv_register(&t);
  return true;
}();

}  // namespace
}  // namespace iostack::sched
