// ioprio_set(2) and ioprio_get(2) (block/ioprio.c) over the tasks of the
// caller's namespace, with an explicit caller so that simulated tasks can
// make the calls. The C API (include/iostack/ioprio.h) passes current().
#pragma once

namespace iostack::task {

struct Task;

// which: IOPRIO_WHO_PROCESS (who = pid, 0 = caller), IOPRIO_WHO_PGRP
// (who = process group, 0 = caller's), IOPRIO_WHO_USER (who = real uid; 0
// is uid 0, not the caller's uid, as in the kernel). The value is checked
// before `which`: a bad value is EINVAL/EPERM whatever the target. Several
// targets are set in pid order, stopping at the first error. ESRCH when
// nothing matches, EINVAL for an unknown `which`.
int ioprio_set(Task* caller, int which, int who, int ioprio);

// PROCESS returns the target's raw value (0 when never set); PGRP and USER
// return the best effective priority over the matching tasks. USER with
// who 0 means the caller's real uid here: the kernel resolves who 0 to
// current_user() in ioprio_get but to uid 0 in ioprio_set.
int ioprio_get(Task* caller, int which, int who);

}  // namespace iostack::task
