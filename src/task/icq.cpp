// io_cq lookup, insertion and teardown.
#include "task/icq.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

#include "core/process.hpp"
#include "task/io_context.hpp"

namespace iostack::task {
namespace {

// One lock for icq membership across all io_contexts and queues, taken
// before any io_context lock. Insertions are rare (once per process per
// queue), so this stays off the I/O path; lookups do not take it.
// Per process and never destroyed: it is used at thread exit.
struct IcqMutex {
  std::mutex m;
};
std::mutex& icq_mutex() { return core::Process::current().state<IcqMutex>().m; }

IoCq* core_to_icq(core::ListHead* node) { return core::list_entry<IoCq, &IoCq::q_node>(node); }

// Runs after the icq left both sides, with no lock held.
void destroy_icq(IoCq* icq, bool run_exit) {
  if (run_exit && icq->exit_icq != nullptr) icq->exit_icq(icq);
  if (icq->free_icq != nullptr) icq->free_icq(icq);
}

}  // namespace

IoCq* ioc_lookup_icq(IoContext* ioc, const void* q) {
  std::lock_guard<std::mutex> g(ioc->lock);
  for (IoCq* icq : ioc->icqs)
    if (icq->q == q) return icq;
  return nullptr;
}

IoCq* ioc_insert_icq(IoContext* ioc, IoCq* icq, IcqList* list) {
  std::lock_guard<std::mutex> outer(icq_mutex());
  std::lock_guard<std::mutex> g(ioc->lock);
  for (IoCq* existing : ioc->icqs)
    if (existing->q == icq->q) return existing;
  icq->ioc = ioc;
  icq->list = list;
  icq->exited = false;
  ioc->icqs.push_back(icq);
  if (list != nullptr) icq->q_node.add_tail(&list->head_);
  return icq;
}

void ioc_exit_icqs(IoContext* ioc) {
  std::lock_guard<std::mutex> outer(icq_mutex());
  std::lock_guard<std::mutex> g(ioc->lock);
  for (IoCq* icq : ioc->icqs) {
    if (icq->exited) continue;
    icq->exited = true;
    if (icq->exit_icq != nullptr) icq->exit_icq(icq);
  }
}

void ioc_release_icqs(IoContext* ioc) {
  std::vector<IoCq*> gone;
  std::vector<bool> needs_exit;
  {
    std::lock_guard<std::mutex> outer(icq_mutex());
    std::lock_guard<std::mutex> g(ioc->lock);
    gone.swap(ioc->icqs);
    for (IoCq* icq : gone) {
      if (icq->list != nullptr) icq->q_node.del();
      needs_exit.push_back(!icq->exited);
      icq->exited = true;
    }
  }
  for (std::size_t i = 0; i < gone.size(); i++) destroy_icq(gone[i], needs_exit[i]);
}

void IcqList::clear() {
  std::vector<IoCq*> gone;
  std::vector<bool> needs_exit;
  {
    std::lock_guard<std::mutex> outer(icq_mutex());
    while (!head_.empty()) {
      IoCq* icq = core_to_icq(head_.first());
      icq->q_node.del();
      {
        // The io_context cannot be freed meanwhile: its release path
        // waits for icq_mutex before it deletes anything.
        std::lock_guard<std::mutex> g(icq->ioc->lock);
        auto& v = icq->ioc->icqs;
        v.erase(std::remove(v.begin(), v.end(), icq), v.end());
      }
      needs_exit.push_back(!icq->exited);
      icq->exited = true;
      gone.push_back(icq);
    }
  }
  for (std::size_t i = 0; i < gone.size(); i++) destroy_icq(gone[i], needs_exit[i]);
}

}  // namespace iostack::task
