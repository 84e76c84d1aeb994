/* Counters of what iostack did in this process (`iostack exec --stats`):
 * requests per io_uring opcode and AIO command, bytes read and written, and
 * the internal threads started by kind, with their peak. */
#ifndef IOSTACK_STATS_H
#define IOSTACK_STATS_H

#include "iostack/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts counting (nothing is counted before). */
IOSTACK_API void iostack_stats_enable(void);

/* Writes the counters to `fd` as a few lines of text. */
IOSTACK_API void iostack_stats_print(int fd);

/* The name of IORING_OP_`op` without its prefix ("READV"), or NULL for a
 * number Linux 6.18 does not define. */
IOSTACK_API const char* iostack_io_uring_op_name(unsigned op);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_STATS_H */
