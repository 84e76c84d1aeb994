// struct io_cq (include/linux/iocontext.h): one io_context's state on one
// queue. A scheduler embeds IoCq in its own per-process struct, fills in q
// and the callbacks, and inserts it; it finds it again by queue key.
//
// Locking: lookup takes only the io_context's lock. Insert, release and
// IcqList::clear take one process-wide icq lock first. exit_icq runs with
// that lock and the io_context's held, free_icq with no lock held; so
// exit_icq may call no icq function, and a scheduler must not call insert
// while holding a lock its callbacks take (the kernel's queue_lock rule).
#pragma once

#include "core/list.hpp"

namespace iostack::task {

struct IoContext;
class IcqList;

// struct io_cq (include/linux/iocontext.h)
struct IoCq {
  const void* q = nullptr;            // lookup key: the queue it belongs to
  void (*exit_icq)(IoCq*) = nullptr;  // optional: the last task using ioc is gone
  void (*free_icq)(IoCq*) = nullptr;  // called once, when the icq is released

  // Managed by iostack.
  IoContext* ioc = nullptr;
  IcqList* list = nullptr;
  core::ListHead q_node;
  bool exited = false;
};

// request_queue->icq_list: the queue side of every icq on one queue, so a
// queue (or an elevator being switched) can release its state from all
// io_contexts before it goes away. Destroying the list clears it.
// request_queue::icq_list (block/blk-ioc.c)
class IcqList {
 public:
  IcqList() = default;
  IcqList(const IcqList&) = delete;
  IcqList& operator=(const IcqList&) = delete;
  ~IcqList() { clear(); }

  // ioc_clear_queue(): unlinks every icq from its io_context, then runs
  // exit_icq (if not yet run) and free_icq on each.
  void clear();

 private:
  friend IoCq* ioc_insert_icq(IoContext*, IoCq*, IcqList*);
  friend void ioc_release_icqs(IoContext*);
  core::ListHead head_;
};

// ioc_lookup_icq(): the icq of `ioc` for queue key `q`, or nullptr.
IoCq* ioc_lookup_icq(IoContext* ioc, const void* q);

// ioc_create_icq() minus the allocation: links icq (icq->q set by the caller)
// into `ioc` and, when `list` is given, into the queue's list. If another
// thread inserted one for the same key first, returns that one and leaves
// `icq` untouched for the caller to free.
IoCq* ioc_insert_icq(IoContext* ioc, IoCq* icq, IcqList* list);

// Internal to the io_context lifecycle.
void ioc_exit_icqs(IoContext* ioc);     // last active user gone
void ioc_release_icqs(IoContext* ioc);  // last reference gone

}  // namespace iostack::task
