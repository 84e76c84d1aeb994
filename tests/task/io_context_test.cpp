// io_context reference counts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "task/icq.hpp"
#include "task/io_context.hpp"

namespace iostack::task {
namespace {

// A scheduler's per-process state with the icq embedded first.
struct SchedIcq {
  IoCq icq;
  int* exits;
  int* frees;
};

void on_exit(IoCq* icq) { ++*reinterpret_cast<SchedIcq*>(icq)->exits; }
void on_free(IoCq* icq) {
  auto* s = reinterpret_cast<SchedIcq*>(icq);
  ++*s->frees;
  delete s;
}

SchedIcq* make_icq(const void* q, int* exits, int* frees) {
  auto* s = new SchedIcq{{}, exits, frees};
  s->icq.q = q;
  s->icq.exit_icq = on_exit;
  s->icq.free_icq = on_free;
  return s;
}

TEST(IoContext, StartsWithEveryCountAtOne) {
  IoContext* ioc = alloc_io_context();
  ASSERT_NE(ioc, nullptr);
  EXPECT_EQ(ioc->refcount.load(), 1);
  EXPECT_EQ(ioc->active_ref.load(), 1);
  EXPECT_EQ(ioc->nr_tasks.load(), 1);
  EXPECT_EQ(ioc->ioprio.load(), 0);
  put_io_context_active(ioc);
}

TEST(IoContext, InjectedFailuresAreConsumedOneByOne) {
  inject_ioc_alloc_failures(2);
  EXPECT_EQ(alloc_io_context(), nullptr);
  EXPECT_EQ(alloc_io_context(), nullptr);
  IoContext* ioc = alloc_io_context();
  EXPECT_NE(ioc, nullptr);
  put_io_context_active(ioc);
}

TEST(IoContext, TaskLinkRaisesAllThreeCounts) {
  IoContext* ioc = alloc_io_context();
  ioc_task_link(ioc);
  EXPECT_EQ(ioc->refcount.load(), 2);
  EXPECT_EQ(ioc->active_ref.load(), 2);
  EXPECT_EQ(ioc->nr_tasks.load(), 2);
  ioc->nr_tasks--;
  put_io_context_active(ioc);
  EXPECT_EQ(ioc->refcount.load(), 1);
  EXPECT_EQ(ioc->active_ref.load(), 1);
  put_io_context_active(ioc);
}

TEST(Icq, LookupFindsWhatWasInsertedPerQueue) {
  int exits = 0, frees = 0;
  const int q1 = 0, q2 = 0;
  IoContext* ioc = alloc_io_context();
  EXPECT_EQ(ioc_lookup_icq(ioc, &q1), nullptr);
  SchedIcq* a = make_icq(&q1, &exits, &frees);
  SchedIcq* b = make_icq(&q2, &exits, &frees);
  EXPECT_EQ(ioc_insert_icq(ioc, &a->icq, nullptr), &a->icq);
  EXPECT_EQ(ioc_insert_icq(ioc, &b->icq, nullptr), &b->icq);
  EXPECT_EQ(ioc_lookup_icq(ioc, &q1), &a->icq);
  EXPECT_EQ(ioc_lookup_icq(ioc, &q2), &b->icq);
  EXPECT_EQ(a->icq.ioc, ioc);

  // A second insert for the same queue loses and gets the first one back.
  SchedIcq* dup = make_icq(&q1, &exits, &frees);
  EXPECT_EQ(ioc_insert_icq(ioc, &dup->icq, nullptr), &a->icq);
  delete dup;

  put_io_context_active(ioc);  // last user: exit, then last ref: free
  EXPECT_EQ(exits, 2);
  EXPECT_EQ(frees, 2);
}

TEST(Icq, ExitRunsWhenTheLastUserLeavesFreeWhenTheLastRefDrops) {
  int exits = 0, frees = 0;
  const int q = 0;
  IoContext* ioc = alloc_io_context();
  ioc_insert_icq(ioc, &make_icq(&q, &exits, &frees)->icq, nullptr);
  get_io_context(ioc);  // e.g. an in-flight request
  put_io_context_active(ioc);
  EXPECT_EQ(exits, 1);
  EXPECT_EQ(frees, 0);
  put_io_context(ioc);
  EXPECT_EQ(exits, 1);  // not run twice
  EXPECT_EQ(frees, 1);
}

TEST(Icq, ClearingAQueueReleasesItsIcqsFromEveryIoContext) {
  int exits = 0, frees = 0;
  auto* list = new IcqList;
  const int other_q = 0;
  IoContext* a = alloc_io_context();
  IoContext* b = alloc_io_context();
  ioc_insert_icq(a, &make_icq(list, &exits, &frees)->icq, list);
  ioc_insert_icq(b, &make_icq(list, &exits, &frees)->icq, list);
  ioc_insert_icq(b, &make_icq(&other_q, &exits, &frees)->icq, nullptr);

  list->clear();  // what the queue's destructor runs when it goes away
  EXPECT_EQ(exits, 2);
  EXPECT_EQ(frees, 2);
  EXPECT_EQ(ioc_lookup_icq(a, list), nullptr);
  EXPECT_EQ(ioc_lookup_icq(b, list), nullptr);
  delete list;
  EXPECT_EQ(exits, 2) << "nothing is released twice";
  EXPECT_NE(ioc_lookup_icq(b, &other_q), nullptr);

  put_io_context_active(a);
  put_io_context_active(b);
  EXPECT_EQ(frees, 3);
}

TEST(Icq, ReleasedIoContextLeavesTheQueueList) {
  int exits = 0, frees = 0;
  IcqList list;
  IoContext* ioc = alloc_io_context();
  ioc_insert_icq(ioc, &make_icq(&list, &exits, &frees)->icq, &list);
  put_io_context_active(ioc);
  EXPECT_EQ(frees, 1);
  list.clear();  // nothing left to release
  EXPECT_EQ(frees, 1);
}

TEST(Icq, ConcurrentReleaseAndClearFreeEachIcqOnce) {
  // Threads race io_context teardown against queue teardown; every icq
  // must be freed exactly once whichever side gets it.
  for (int round = 0; round < 50; round++) {
    std::atomic<int> frees{0};
    struct Counted {
      IoCq icq;
      std::atomic<int>* frees;
    };
    auto* list = new IcqList;
    std::vector<IoContext*> iocs;
    for (int i = 0; i < 8; i++) {
      IoContext* ioc = alloc_io_context();
      auto* c = new Counted{{}, &frees};
      c->icq.q = list;
      c->icq.free_icq = [](IoCq* icq) {
        auto* c = reinterpret_cast<Counted*>(icq);
        c->frees->fetch_add(1);
        delete c;
      };
      ioc_insert_icq(ioc, &c->icq, list);
      iocs.push_back(ioc);
    }
    std::thread t([&] {
      for (IoContext* ioc : iocs) put_io_context_active(ioc);
    });
    delete list;
    t.join();
    EXPECT_EQ(frees.load(), 8);
  }
}

}  // namespace
}  // namespace iostack::task
