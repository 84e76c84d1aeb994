// mq-deadline tunables (names, defaults, parsing, clamping, errors), the
// async_depth tag limit, and the scheduler registry.
#include <cerrno>

#include "block/elevator.hpp"
#include "block/elevator_registry.hpp"
#include "block/hctx.hpp"
#include "block/tags.hpp"
#include "core/kstrtox.hpp"
#include "dd_fixture.hpp"

namespace iostack::sched::test {
namespace {

std::string show(MqDeadline* dd, const char* name) {
  std::string v;
  EXPECT_EQ(dd->attr_show(name, &v), 0) << name;
  return v;
}

TEST_F(DdTest, TunableNamesAndDefaults) {
  EXPECT_EQ(dd_->attr_names(), (std::vector<std::string>{
                                   "read_expire", "write_expire", "writes_starved", "front_merges",
                                   "async_depth", "fifo_batch", "prio_aging_expire"}));
  EXPECT_EQ(show(dd_, "read_expire"), "500");
  EXPECT_EQ(show(dd_, "write_expire"), "5000");
  EXPECT_EQ(show(dd_, "writes_starved"), "2");
  EXPECT_EQ(show(dd_, "front_merges"), "1");
  EXPECT_EQ(show(dd_, "fifo_batch"), "16");
  EXPECT_EQ(show(dd_, "prio_aging_expire"), "10000");
  // Linux 6.10+: no tags are reserved for sync requests by default.
  EXPECT_EQ(show(dd_, "async_depth"), std::to_string(q_->nr_requests()));
  std::string v;
  EXPECT_EQ(dd_->attr_show("quantum", &v), -ENOENT);
  EXPECT_EQ(dd_->attr_store("quantum", "1"), -ENOENT);
}

TEST_F(DdTest, TunablesTakeKernelIntegerSyntax) {
  set("read_expire", "250\n");
  EXPECT_EQ(show(dd_, "read_expire"), "250");
  set("write_expire", "0x10");
  EXPECT_EQ(show(dd_, "write_expire"), "16");
  set("fifo_batch", "010");  // octal
  EXPECT_EQ(show(dd_, "fifo_batch"), "8");
  set("prio_aging_expire", "+7");
  EXPECT_EQ(show(dd_, "prio_aging_expire"), "7");
}

TEST_F(DdTest, OutOfRangeTunablesAreClamped) {
  set("front_merges", "5");
  EXPECT_EQ(show(dd_, "front_merges"), "1");
  set("front_merges", "-3");
  EXPECT_EQ(show(dd_, "front_merges"), "0");
  set("fifo_batch", "-1");
  EXPECT_EQ(show(dd_, "fifo_batch"), "0");
  set("read_expire", "-10");
  EXPECT_EQ(show(dd_, "read_expire"), "0");
  set("write_expire", "-10");
  EXPECT_EQ(show(dd_, "write_expire"), "0");
  set("prio_aging_expire", "-1");
  EXPECT_EQ(show(dd_, "prio_aging_expire"), "0");
  set("async_depth", "0");
  EXPECT_EQ(show(dd_, "async_depth"), "1");
  set("writes_starved", "-5");  // no lower bound
  EXPECT_EQ(show(dd_, "writes_starved"), "-5");
  set("writes_starved", "2147483647");
  EXPECT_EQ(show(dd_, "writes_starved"), "2147483647");
}

TEST_F(DdTest, MalformedTunablesAreRejectedAndChangeNothing) {
  for (const char* name : {"read_expire", "write_expire", "writes_starved", "front_merges",
                           "async_depth", "fifo_batch", "prio_aging_expire"}) {
    const std::string before = show(dd_, name);
    for (const char* bad : {"", "abc", " 5", "5 ", "5x", "5\n\n", "1.5", "0x", "08", "--1", "\n"})
      EXPECT_EQ(dd_->attr_store(name, bad), -EINVAL) << name << " '" << bad << "'";
    EXPECT_EQ(dd_->attr_store(name, "2147483648"), -ERANGE) << name;
    EXPECT_EQ(dd_->attr_store(name, "-2147483649"), -ERANGE) << name;
    EXPECT_EQ(dd_->attr_store(name, "99999999999999999999"), -ERANGE) << name;
    EXPECT_EQ(show(dd_, name), before) << name;
  }
}

TEST(KStrToInt, FollowsLibKstrtox) {
  int v = 0;
  EXPECT_EQ(core::kstrtoint("42", 0, &v), 0);
  EXPECT_EQ(v, 42);
  EXPECT_EQ(core::kstrtoint("-42\n", 0, &v), 0);
  EXPECT_EQ(v, -42);
  EXPECT_EQ(core::kstrtoint("0", 0, &v), 0);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(core::kstrtoint("0XfF", 0, &v), 0);
  EXPECT_EQ(v, 255);
  EXPECT_EQ(core::kstrtoint("0777", 0, &v), 0);
  EXPECT_EQ(v, 511);
  EXPECT_EQ(core::kstrtoint("-2147483648", 0, &v), 0);
  EXPECT_EQ(v, -2147483647 - 1);
  EXPECT_EQ(core::kstrtoint("010", 10, &v), 0);
  EXPECT_EQ(v, 10);
  EXPECT_EQ(core::kstrtoint("-0", 0, &v), 0);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(core::kstrtoint("+-1", 0, &v), -EINVAL);
  EXPECT_EQ(core::kstrtoint("-+1", 0, &v), -EINVAL);
  EXPECT_EQ(core::kstrtoint("0x", 0, &v), -EINVAL);
  EXPECT_EQ(core::kstrtoint("18446744073709551616", 0, &v), -ERANGE);
  EXPECT_EQ(core::kstrtoint("-18446744073709551615", 0, &v), -ERANGE);
}

TEST_F(DdTest, SyncReadsAreNotThrottled) {
  block::AllocData ad{q_.get(), block::REQ_OP_READ, 0, q_->hctx(0)};
  dd_->limit_depth(&ad);
  EXPECT_EQ(ad.shallow_depth, 0u);
  set("async_depth", "1");
  dd_->limit_depth(&ad);
  EXPECT_EQ(ad.shallow_depth, 0u);
}

TEST_F(DdTest, WritesAreLimitedToAsyncDepthPerWord) {
  block::HwCtx* hctx = q_->hctx(0);
  ASSERT_NE(hctx->sched_tags, nullptr);
  const unsigned bpw = hctx->sched_tags->bits_per_word();
  const unsigned nrr = q_->nr_requests();
  ASSERT_GT(nrr, 0u);

  // Default async_depth == nr_requests: a whole word, i.e. no limit.
  for (std::uint32_t opf :
       {std::uint32_t{block::REQ_OP_WRITE}, std::uint32_t{block::REQ_OP_WRITE} | block::REQ_SYNC}) {
    block::AllocData ad{q_.get(), opf, 0, hctx};
    dd_->limit_depth(&ad);
    EXPECT_EQ(ad.shallow_depth, bpw);
  }
  // dd_to_word_depth: ceil(async_depth * bits_per_word / nr_requests).
  for (unsigned depth : {1u, nrr / 4, nrr / 2 + 1, nrr * 3 / 4, nrr * 4}) {
    set("async_depth", std::to_string(depth).c_str());
    block::AllocData ad{q_.get(), block::REQ_OP_WRITE, 0, hctx};
    dd_->limit_depth(&ad);
    EXPECT_EQ(ad.shallow_depth, (depth * bpw + nrr - 1) / nrr) << depth;
  }
}

TEST_F(DdTest, DepthUpdatedResetsAsyncDepth) {
  set("async_depth", "3");
  dd_->depth_updated(q_->hctx(0));
  EXPECT_EQ(dd_->async_depth(), q_->nr_requests());
}

TEST(Registry, CreatesMqDeadlineByNameOrAlias) {
  ASSERT_FALSE(block::elevator_names().empty());
  EXPECT_EQ(block::elevator_names().front(), "mq-deadline") << "registered first, as in the kernel";
  auto e = block::elevator_create("mq-deadline", nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(e->name(), "mq-deadline");
  auto alias = block::elevator_create("deadline", nullptr);
  ASSERT_NE(alias, nullptr);
  EXPECT_STREQ(alias->name(), "mq-deadline");
  EXPECT_EQ(block::elevator_create("none", nullptr), nullptr);
  EXPECT_EQ(block::elevator_create("cfq", nullptr), nullptr);
  EXPECT_EQ(block::elevator_create("mq-deadline\n", nullptr), nullptr);
}

}  // namespace
}  // namespace iostack::sched::test
