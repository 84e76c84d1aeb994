/* I/O priorities: iostack_ioprio_set/get, shaped like ioprio_set(2) and
 * ioprio_get(2), and the uapi IOPRIO_* encoding (include/uapi/linux/ioprio.h):
 * class in bits 13-15, hint in bits 3-12, level in bits 0-2.
 *
 * The system's <linux/ioprio.h> is used when present. Debian 12 ships the 6.1
 * header, which predates hints and IOPRIO_CLASS_INVALID (6.5), so each newer
 * piece is defined here only when the installed header lacks it. */
#ifndef IOSTACK_IOPRIO_H
#define IOSTACK_IOPRIO_H

#include "iostack/export.h"

#if defined(__has_include)
#if __has_include(<linux/ioprio.h>)
#include <linux/ioprio.h>
#define IOSTACK_HAVE_LINUX_IOPRIO_H 1
#endif
#endif

#ifndef IOSTACK_HAVE_LINUX_IOPRIO_H
/* No system header at all: the classes and targets as the kernel numbers them. */
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_CLASS_MASK 0x07
#define IOPRIO_PRIO_MASK ((1UL << IOPRIO_CLASS_SHIFT) - 1)
#define IOPRIO_PRIO_CLASS(ioprio) (((ioprio) >> IOPRIO_CLASS_SHIFT) & IOPRIO_CLASS_MASK)
#define IOPRIO_PRIO_DATA(ioprio) ((ioprio)&IOPRIO_PRIO_MASK)
#define IOPRIO_PRIO_VALUE(cls, data) \
  ((((cls)&IOPRIO_CLASS_MASK) << IOPRIO_CLASS_SHIFT) | ((data)&IOPRIO_PRIO_MASK))
enum { IOPRIO_CLASS_NONE, IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE };
enum { IOPRIO_WHO_PROCESS = 1, IOPRIO_WHO_PGRP, IOPRIO_WHO_USER };
#define IOPRIO_NORM 4
#endif

/* 6.5 made these enum constants or macros; a pre-6.5 header has neither. */
#ifndef IOPRIO_NR_CLASSES
#define IOPRIO_NR_CLASSES 8
#define IOPRIO_CLASS_INVALID 7
#endif
#ifndef IOPRIO_CLASS_MASK
#define IOPRIO_CLASS_MASK (IOPRIO_NR_CLASSES - 1)
#endif
#ifndef IOPRIO_LEVEL_NR_BITS
#define IOPRIO_LEVEL_NR_BITS 3
#endif
#ifndef IOPRIO_NR_LEVELS
#define IOPRIO_NR_LEVELS (1 << IOPRIO_LEVEL_NR_BITS)
#endif
#ifndef IOPRIO_LEVEL_MASK
#define IOPRIO_LEVEL_MASK (IOPRIO_NR_LEVELS - 1)
#endif
#ifndef IOPRIO_PRIO_LEVEL
#define IOPRIO_PRIO_LEVEL(ioprio) ((ioprio)&IOPRIO_LEVEL_MASK)
#endif
#ifndef IOPRIO_BE_NR
#define IOPRIO_BE_NR IOPRIO_NR_LEVELS
#endif
#ifndef IOPRIO_BE_NORM
#define IOPRIO_BE_NORM IOPRIO_NORM
#endif

#ifndef IOPRIO_HINT_SHIFT
#define IOPRIO_HINT_SHIFT IOPRIO_LEVEL_NR_BITS
#define IOPRIO_HINT_NR_BITS 10
#define IOPRIO_NR_HINTS (1 << IOPRIO_HINT_NR_BITS)
#define IOPRIO_HINT_MASK (IOPRIO_NR_HINTS - 1)
#define IOPRIO_PRIO_HINT(ioprio) (((ioprio) >> IOPRIO_HINT_SHIFT) & IOPRIO_HINT_MASK)
/* Hints 1..7 select a device command duration limit descriptor (ATA/SCSI CDL). */
#define IOPRIO_HINT_NONE 0
#define IOPRIO_HINT_DEV_DURATION_LIMIT_1 1
#define IOPRIO_HINT_DEV_DURATION_LIMIT_2 2
#define IOPRIO_HINT_DEV_DURATION_LIMIT_3 3
#define IOPRIO_HINT_DEV_DURATION_LIMIT_4 4
#define IOPRIO_HINT_DEV_DURATION_LIMIT_5 5
#define IOPRIO_HINT_DEV_DURATION_LIMIT_6 6
#define IOPRIO_HINT_DEV_DURATION_LIMIT_7 7
#endif
#ifndef IOPRIO_PRIO_VALUE_HINT
#define IOPRIO_PRIO_VALUE_HINT(cls, level, hint)       \
  ((((cls)&IOPRIO_CLASS_MASK) << IOPRIO_CLASS_SHIFT) | \
   (((hint)&IOPRIO_HINT_MASK) << IOPRIO_HINT_SHIFT) | ((level)&IOPRIO_LEVEL_MASK))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ioprio_set(2) on iostack's tasks: 0 or -errno (EINVAL, EPERM, ESRCH, ENOMEM).
 * The caller is the calling thread's iostack task. errno is left untouched. */
IOSTACK_API int iostack_ioprio_set(int which, int who, int ioprio);

/* ioprio_get(2) on iostack's tasks: the priority or -errno (EINVAL, ESRCH). */
IOSTACK_API int iostack_ioprio_get(int which, int who);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_IOPRIO_H */
