// bfq's groups: shares between cgroups by io.bfq.weight, queues sharing
// within their group as without groups, nested groups, weight changes and
// processes moving between cgroups.
#include <cerrno>
#include <string>

#include "bfq_fixture.hpp"

namespace iostack::sched::test {
namespace {

constexpr std::uint16_t kBe0 = task::prio_value(task::kClassBe, 0);
constexpr std::uint16_t kBe4 = task::prio_value(task::kClassBe, 4);
constexpr std::uint16_t kBe7 = task::prio_value(task::kClassBe, 7);

class BfqCgroup : public BfqTest {
 protected:
  void SetUp() override {
    BfqTest::SetUp();
    set("low_latency", "0");  // raising would blur the shares at the start
  }
  // A cgroup of this test's own (cgroups live as long as the process).
  task::Blkcg* cgroup(const std::string& name, const char* weight = nullptr) {
    const std::string path = std::string("bfqtest/") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/" +
                             name;
    task::Blkcg* cg = nullptr;
    EXPECT_EQ(task::blkcg_lookup_create(path, &cg), 0);
    if (weight) {
      EXPECT_EQ(task::blkcg_write_bfq_weight(cg, weight), 0);
    }
    return cg;
  }
  Proc* proc_in(task::Blkcg* cg, int pid, std::uint16_t ioprio, block::sector_t start) {
    Proc* p = proc(pid, ioprio, start);
    p->cg = cg;
    return p;
  }
  static double share(std::map<int, std::uint64_t>& s, int pid) {
    std::uint64_t sum = 0;
    for (auto& [k, v] : s) sum += v;
    return static_cast<double>(s[pid]) / static_cast<double>(sum);
  }
};

TEST_F(BfqCgroup, GroupsShareByWeight) {
  // B-WF2Q+ at the root level: the groups' finish times advance by service
  // over weight, so sectors go 100:300 whatever the queues' own weights.
  Proc* a = proc_in(cgroup("a", "100"), 100, kBe4, 0);
  Proc* b = proc_in(cgroup("b", "300"), 200, kBe4, 1u << 30);
  auto served = backlogged({a, b}, 4'000'000);
  EXPECT_NEAR(share(served, 200), 0.75, 0.02) << served[100] << " vs " << served[200];
}

TEST_F(BfqCgroup, GroupWeightBeatsTheQueuesPriorities) {
  // A level-7 reader (weight 10) in a heavy group against a level-0 one
  // (weight 80) in a light group: only the groups' weights count.
  Proc* a = proc_in(cgroup("light", "100"), 100, kBe0, 0);
  Proc* b = proc_in(cgroup("heavy", "300"), 200, kBe7, 1u << 30);
  auto served = backlogged({a, b}, 4'000'000);
  EXPECT_NEAR(share(served, 200), 0.75, 0.02) << served[100] << " vs " << served[200];
}

TEST_F(BfqCgroup, QueuesWithinAGroupShareByTheirWeights) {
  // Levels 0 and 7 (80 and 10) in one group, as without groups: 8/9, 1/9
  // of the group's half.
  task::Blkcg* g = cgroup("g");
  Proc* hi = proc_in(g, 100, kBe0, 0);
  Proc* lo = proc_in(g, 200, kBe7, 1u << 28);
  Proc* other = proc_in(cgroup("other"), 300, kBe4, 1u << 30);
  auto served = backlogged({hi, lo, other}, 6'000'000);
  EXPECT_NEAR(share(served, 300), 0.5, 0.03);
  const double in_group = static_cast<double>(served[100]) / (served[100] + served[200]);
  EXPECT_NEAR(in_group, 8.0 / 9.0, 0.03) << served[100] << " vs " << served[200];
}

TEST_F(BfqCgroup, RootQueuesCompeteWithGroupsByWeight) {
  // A process left in the root (weight 40 at level 4) against a group of
  // the default weight 100: 40:100.
  Proc* root = proc(100, kBe4, 0);
  Proc* in_group = proc_in(cgroup("dflt"), 200, kBe4, 1u << 30);
  auto served = backlogged({root, in_group}, 4'000'000);
  EXPECT_NEAR(share(served, 100), 40.0 / 140.0, 0.02) << served[100] << " vs " << served[200];
  EXPECT_EQ(bfq_->group_weight(in_group->cg), task::kBfqCgWeightDefault);
}

TEST_F(BfqCgroup, NestedGroupsSplitTheirParentsShare) {
  // p and q share equally; p's children x and y split p's half 1:3.
  task::Blkcg* p = cgroup("p");
  task::Blkcg* x = nullptr;
  task::Blkcg* y = nullptr;
  ASSERT_EQ(task::blkcg_lookup_create(p->path + "/x", &x), 0);
  ASSERT_EQ(task::blkcg_lookup_create(p->path + "/y", &y), 0);
  ASSERT_EQ(x->parent, p);
  ASSERT_EQ(task::blkcg_write_bfq_weight(y, "300"), 0);
  Proc* px = proc_in(x, 100, kBe4, 0);
  Proc* py = proc_in(y, 200, kBe4, 1u << 28);
  Proc* pq = proc_in(cgroup("q"), 300, kBe4, 1u << 30);
  auto served = backlogged({px, py, pq}, 8'000'000);
  EXPECT_NEAR(share(served, 300), 0.5, 0.03);
  EXPECT_NEAR(share(served, 100), 0.125, 0.03);
  EXPECT_NEAR(share(served, 200), 0.375, 0.03);
}

TEST_F(BfqCgroup, AWeightWriteTakesEffectAtTheGroupsNextQueueing) {
  task::Blkcg* a = cgroup("a");
  task::Blkcg* b = cgroup("b");
  Proc* pa = proc_in(a, 100, kBe4, 0);
  Proc* pb = proc_in(b, 200, kBe4, 1u << 30);
  auto first = backlogged({pa, pb}, 2'000'000);
  EXPECT_NEAR(share(first, 200), 0.5, 0.03);
  ASSERT_EQ(task::blkcg_write_bfq_weight(b, "default 900"), 0);
  auto second = backlogged({pa, pb}, 4'000'000);
  EXPECT_EQ(bfq_->group_weight(b), 900u);
  EXPECT_NEAR(share(second, 200), 0.9, 0.03) << second[100] << " vs " << second[200];
}

TEST_F(BfqCgroup, ADeviceWeightOverridesTheDefault) {
  // The test queue has no disk: its device number reads 0:0.
  task::Blkcg* a = cgroup("a", "100");
  ASSERT_EQ(task::blkcg_write_bfq_weight(a, "0:0 700"), 0);
  Proc* pa = proc_in(a, 100, kBe4, 0);
  backlogged({pa}, 1024);
  EXPECT_EQ(bfq_->group_weight(a), 700u);
  ASSERT_EQ(task::blkcg_write_bfq_weight(a, "0:0 default"), 0);
  backlogged({pa}, 100'000);
  EXPECT_EQ(bfq_->group_weight(a), 100u);
}

TEST_F(BfqCgroup, AProcessMovingToAnotherCgroupTakesItsQueueAlong) {
  task::Blkcg* a = cgroup("a");
  task::Blkcg* b = cgroup("b");
  Proc* p = proc_in(a, 100, kBe4, 0);
  backlogged({p}, 100'000);
  auto queue_group = [&] {
    for (const BfqQueueInfo& q : bfq_->queues())
      if (q.pid == 100 && q.sync) return q.cgroup;
    return std::string("(none)");
  };
  EXPECT_EQ(queue_group(), a->path);
  p->cg = b;
  backlogged({p}, 100'000);
  EXPECT_EQ(queue_group(), b->path);
  p->cg = nullptr;
  backlogged({p}, 100'000);
  EXPECT_EQ(queue_group(), "");
}

}  // namespace
}  // namespace iostack::sched::test
