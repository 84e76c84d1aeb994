// The io cgroup model: paths, io.bfq.weight as bfq-cgroup.c parses it,
// membership and its inheritance by clones.
#include "task/blkcg.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <cerrno>

#include "task/fork.hpp"
#include "task/task.hpp"

namespace iostack::task {
namespace {

TEST(Blkcg, PathsMakeTheirParents) {
  Blkcg* c = nullptr;
  ASSERT_EQ(blkcg_lookup_create("/blkcgtest/paths/a/b/", &c), 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->path, "blkcgtest/paths/a/b");
  ASSERT_NE(c->parent, nullptr);
  EXPECT_EQ(c->parent->path, "blkcgtest/paths/a");
  Blkcg* again = nullptr;
  ASSERT_EQ(blkcg_lookup_create("blkcgtest/paths/a/b", &again), 0);
  EXPECT_EQ(again, c);
  EXPECT_NE(c->serial, c->parent->serial);
  Blkcg* root = c;
  EXPECT_EQ(blkcg_lookup_create("/", &root), 0);
  EXPECT_EQ(root, nullptr);
  EXPECT_EQ(blkcg_lookup_create("blkcgtest//x", &c), -EINVAL);
  EXPECT_EQ(blkcg_lookup_create("blkcgtest/../x", &c), -EINVAL);
}

TEST(Blkcg, BfqWeightParsesAsTheKernel) {
  Blkcg* c = nullptr;
  ASSERT_EQ(blkcg_lookup_create("blkcgtest/weight", &c), 0);
  EXPECT_EQ(blkcg_show_bfq_weight(c), "default 100\n");
  EXPECT_EQ(blkcg_write_bfq_weight(c, "300\n"), 0);
  EXPECT_EQ(blkcg_write_bfq_weight(c, "default 250"), 0);
  EXPECT_EQ(blkcg_write_bfq_weight(c, "8:16 700"), 0);
  EXPECT_EQ(blkcg_show_bfq_weight(c), "default 250\n8:16 700\n");
  EXPECT_EQ(blkcg_bfq_weight(c, 8, 16), 700u);
  EXPECT_EQ(blkcg_bfq_weight(c, 8, 0), 250u);
  EXPECT_EQ(blkcg_write_bfq_weight(c, "8:16 default"), 0);
  EXPECT_EQ(blkcg_bfq_weight(c, 8, 16), 250u);
  // Out of 1..1000: ERANGE; not a weight: EINVAL; the root has no file.
  for (const char* bad : {"0", "1001", "default 0", "8:16 0", "8:16 1001"})
    EXPECT_EQ(blkcg_write_bfq_weight(c, bad), -ERANGE) << bad;
  for (const char* bad : {"", "abc", "8:16", "8:x 100", "8:16 abc", "default"})
    EXPECT_EQ(blkcg_write_bfq_weight(c, bad), -EINVAL) << bad;
  EXPECT_EQ(blkcg_write_bfq_weight(nullptr, "100"), -EINVAL);
  EXPECT_EQ(blkcg_bfq_weight(c, 8, 0), 250u);
}

TEST(Blkcg, ClonesStartInTheirParentsCgroup) {
  Blkcg* c = nullptr;
  ASSERT_EQ(blkcg_lookup_create("blkcgtest/fork", &c), 0);
  TaskSpec spec;
  Task* parent = task_create(spec);
  ASSERT_NE(parent, nullptr);
  blkcg_attach(parent, c);
  int err = 0;
  Task* child = task_clone(parent, 0, &err);
  ASSERT_NE(child, nullptr) << err;
  EXPECT_EQ(child->blkcg.load(), c);
  blkcg_attach(parent, nullptr);
  EXPECT_EQ(parent->blkcg.load(), nullptr);
  EXPECT_EQ(child->blkcg.load(), c);
  task_exit(child);
  task_exit(parent);
}

}  // namespace
}  // namespace iostack::task
