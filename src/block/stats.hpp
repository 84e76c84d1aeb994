// I/O accounting for /proc/diskstats (block/blk-mq.c blk_account_io_*,
// block/blk-core.c update_io_ticks).
#pragma once

#include <cstdint>

#include "block/request.hpp"

namespace iostack::block {

void account_io_start(Request* rq);
void account_io_merge_bio(Request* rq);
void account_io_merge_request(Request* next);
void account_io_completion(Request* rq, std::uint32_t bytes);
void account_io_done(Request* rq, std::uint64_t now);
void account_io_flush(Request* flush_rq, std::uint64_t now);

}  // namespace iostack::block
