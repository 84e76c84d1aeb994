// A private task namespace per test, so that tests see only the tasks
// they create, plus a shorthand for simulated tasks.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "task/task.hpp"
#include "task/task_namespace.hpp"

namespace iostack::task::testing {

class TaskTest : public ::testing::Test {
 protected:
  void TearDown() override { ns_.reset(); }

  Task* make(uid_t uid = 1000, std::uint64_t caps = 0, int nice = 0, int policy = SCHED_OTHER,
             pid_t pgrp = 0) {
    TaskSpec spec;
    spec.uid = uid;
    spec.euid = uid;
    spec.caps = caps;
    spec.nice = nice;
    spec.policy = policy;
    spec.pgrp = pgrp;
    spec.ns = ns_.get();
    Task* t = task_create(spec);
    EXPECT_NE(t, nullptr);
    return t;
  }

  std::unique_ptr<TaskNamespace> ns_ = std::make_unique<TaskNamespace>();
};

}  // namespace iostack::task::testing
