// The ioprio encoding: class, hint and level.
#include <gtest/gtest.h>

#include "iostack/ioprio.h"
#include "task/ioprio.hpp"

namespace iostack::task {
namespace {

TEST(IoprioEncoding, FieldsSitWhereTheUapiPutsThem) {
  const int v = (kClassBe << 13) | (5 << 3) | 6;
  EXPECT_EQ(prio_class(v), kClassBe);
  EXPECT_EQ(prio_hint(v), 5);
  EXPECT_EQ(prio_level(v), 6);
  EXPECT_EQ(prio_data(v), (5 << 3) | 6);
  EXPECT_EQ(prio_value(kClassBe, 6, 5), v);
  EXPECT_EQ(prio_value(kClassRt, 0), 0x2000);
  EXPECT_EQ(prio_value(kClassIdle, 7), 0x6007);
  EXPECT_EQ(prio_value(kClassBe, 7, kNrHints - 1), 0x5fff);
}

TEST(IoprioEncoding, OutOfRangeFieldsGiveTheInvalidClass) {
  const int invalid = kClassInvalid << kClassShift;
  EXPECT_EQ(prio_value(kClassBe, 8), invalid);
  EXPECT_EQ(prio_value(kClassBe, -1), invalid);
  EXPECT_EQ(prio_value(8, 0), invalid);
  EXPECT_EQ(prio_value(kClassBe, 0, kNrHints), invalid);
}

TEST(IoprioEncoding, AccessorsMaskLikeTheKernelMacros) {
  // Bits above 15 of the int argument fall outside every field.
  EXPECT_EQ(prio_class(0x10000 | 0x4002), kClassBe);
  EXPECT_EQ(prio_class(-1), 7);
  EXPECT_EQ(prio_level(0x4008), 0);
  EXPECT_EQ(prio_hint(0x4008), 1);
}

TEST(IoprioEncoding, ValidMeansRtBeOrIdle) {
  EXPECT_FALSE(ioprio_valid(0));
  EXPECT_FALSE(ioprio_valid(0x0008));  // NONE with a hint
  EXPECT_TRUE(ioprio_valid(0x2000));
  EXPECT_TRUE(ioprio_valid(0x4004));
  EXPECT_TRUE(ioprio_valid(0x6000));
  EXPECT_FALSE(ioprio_valid(0x8000));
  EXPECT_FALSE(ioprio_valid(0xe000));
}

TEST(IoprioEncoding, BestIsTheSmallerValue) {
  EXPECT_EQ(ioprio_best(0x2004, 0x4000), 0x2004);  // RT beats any BE
  EXPECT_EQ(ioprio_best(0x4003, 0x4001), 0x4001);
  EXPECT_EQ(ioprio_best(0x6000, 0x4007), 0x4007);
}

TEST(IoprioEncoding, CHeaderAgreesWithTheConstants) {
  EXPECT_EQ(IOPRIO_CLASS_SHIFT, kClassShift);
  EXPECT_EQ(IOPRIO_CLASS_NONE, kClassNone);
  EXPECT_EQ(IOPRIO_CLASS_RT, kClassRt);
  EXPECT_EQ(IOPRIO_CLASS_BE, kClassBe);
  EXPECT_EQ(IOPRIO_CLASS_IDLE, kClassIdle);
  EXPECT_EQ(IOPRIO_CLASS_INVALID, kClassInvalid);
  EXPECT_EQ(IOPRIO_WHO_PROCESS, kWhoProcess);
  EXPECT_EQ(IOPRIO_WHO_PGRP, kWhoPgrp);
  EXPECT_EQ(IOPRIO_WHO_USER, kWhoUser);
  EXPECT_EQ(IOPRIO_NORM, kNorm);
  EXPECT_EQ(IOPRIO_NR_LEVELS, kNrLevels);
  EXPECT_EQ(IOPRIO_NR_HINTS, kNrHints);
  EXPECT_EQ(static_cast<int>(IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3)), prio_value(kClassBe, 3));
  EXPECT_EQ(static_cast<int>(IOPRIO_PRIO_VALUE_HINT(IOPRIO_CLASS_RT, 2, 7)),
            prio_value(kClassRt, 2, 7));
  EXPECT_EQ(static_cast<int>(IOPRIO_PRIO_CLASS(0x6003)), kClassIdle);
  EXPECT_EQ(static_cast<int>(IOPRIO_PRIO_LEVEL(0x6003)), 3);
  EXPECT_EQ(static_cast<int>(IOPRIO_PRIO_HINT(0x4000 | (9 << 3))), 9);
}

}  // namespace
}  // namespace iostack::task
