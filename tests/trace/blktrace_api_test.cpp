// Record layout, action composition and category mapping, checked against the
// system's own <linux/blktrace_api.h> where it is installed.
#include <gtest/gtest.h>

#include <cstddef>

#include "trace/blktrace.hpp"
#include "trace/blktrace_api.hpp"
#include "trace/blktrace_text.hpp"

#if __has_include(<linux/blktrace_api.h>)
#include <linux/blktrace_api.h>
#define IOSTACK_HAVE_UAPI_BLKTRACE 1
#endif

namespace iostack::trace {
namespace {

TEST(BlkTraceApi, RecordLayoutIs48Bytes) {
  EXPECT_EQ(sizeof(BlkIoTrace), 48u);
  EXPECT_EQ(offsetof(BlkIoTrace, magic), 0u);
  EXPECT_EQ(offsetof(BlkIoTrace, sequence), 4u);
  EXPECT_EQ(offsetof(BlkIoTrace, time), 8u);
  EXPECT_EQ(offsetof(BlkIoTrace, sector), 16u);
  EXPECT_EQ(offsetof(BlkIoTrace, bytes), 24u);
  EXPECT_EQ(offsetof(BlkIoTrace, action), 28u);
  EXPECT_EQ(offsetof(BlkIoTrace, pid), 32u);
  EXPECT_EQ(offsetof(BlkIoTrace, device), 36u);
  EXPECT_EQ(offsetof(BlkIoTrace, cpu), 40u);
  EXPECT_EQ(offsetof(BlkIoTrace, error), 44u);
  EXPECT_EQ(offsetof(BlkIoTrace, pdu_len), 46u);
  EXPECT_EQ(sizeof(BlkIoTraceRemap), 16u);
}

TEST(BlkTraceApi, ComposedActionsCarryTheKernelsCategories) {
  EXPECT_EQ(kBlkIoTraceMagic | kBlkIoTraceVersion, 0x65617407u);
  EXPECT_EQ(kBlkTaQueue, 0x00100001u);
  EXPECT_EQ(kBlkTaBackmerge, 0x00100002u);
  EXPECT_EQ(kBlkTaFrontmerge, 0x00100003u);
  EXPECT_EQ(kBlkTaGetrq, 0x00100004u);
  EXPECT_EQ(kBlkTaSleeprq, 0x00100005u);
  EXPECT_EQ(kBlkTaRequeue, 0x00200006u);
  EXPECT_EQ(kBlkTaIssue, 0x00400007u);
  EXPECT_EQ(kBlkTaComplete, 0x00800008u);
  EXPECT_EQ(kBlkTaPlug, 0x00100009u);
  EXPECT_EQ(kBlkTaUnplugIo, 0x0010000au);
  EXPECT_EQ(kBlkTaUnplugTimer, 0x0010000bu);
  EXPECT_EQ(kBlkTaInsert, 0x0010000cu);
  EXPECT_EQ(kBlkTaSplit, 0x0000000du);
  EXPECT_EQ(kBlkTaBounce, 0x0000000eu);
  EXPECT_EQ(kBlkTaRemap, 0x0010000fu);
  EXPECT_EQ(kBlkTnProcess, 0x04000000u);
  EXPECT_EQ(kBlkTnTimestamp, 0x04000001u);
  EXPECT_EQ(kBlkTnMessage, 0x04000002u);
  EXPECT_EQ(rq_action(kBlkTaIssue), kBlkTaIssue | 0x01000000u);
  EXPECT_EQ(rq_action(kBlkTaIssue, false), kBlkTaIssue | 0x02000000u);
  EXPECT_EQ(kernel_mkdev(8, 16), (8u << 20) | 16u);
  EXPECT_EQ(kernel_major(kernel_mkdev(259, 3)), 259u);
  EXPECT_EQ(kernel_minor(kernel_mkdev(259, 3)), 3u);
}

#ifdef IOSTACK_HAVE_UAPI_BLKTRACE
TEST(BlkTraceApi, MatchesSystemUapiHeader) {
  EXPECT_EQ(sizeof(BlkIoTrace), sizeof(struct blk_io_trace));
  EXPECT_EQ(offsetof(BlkIoTrace, pdu_len), offsetof(struct blk_io_trace, pdu_len));
  EXPECT_EQ(kBlkIoTraceMagic, static_cast<std::uint32_t>(BLK_IO_TRACE_MAGIC));
  EXPECT_EQ(kBlkIoTraceVersion, static_cast<std::uint32_t>(BLK_IO_TRACE_VERSION));
  EXPECT_EQ(kTcShift, static_cast<std::uint32_t>(BLK_TC_SHIFT));
  const std::uint32_t ours[] = {kTcRead,  kTcWrite,    kTcFlush,   kTcSync, kTcQueue,  kTcRequeue,
                                kTcIssue, kTcComplete, kTcFs,      kTcPc,   kTcNotify, kTcAhead,
                                kTcMeta,  kTcDiscard,  kTcDrvData, kTcFua};
  const std::uint32_t theirs[] = {BLK_TC_READ,  BLK_TC_WRITE,   BLK_TC_FLUSH,    BLK_TC_SYNC,
                                  BLK_TC_QUEUE, BLK_TC_REQUEUE, BLK_TC_ISSUE,    BLK_TC_COMPLETE,
                                  BLK_TC_FS,    BLK_TC_PC,      BLK_TC_NOTIFY,   BLK_TC_AHEAD,
                                  BLK_TC_META,  BLK_TC_DISCARD, BLK_TC_DRV_DATA, BLK_TC_FUA};
  for (std::size_t i = 0; i < std::size(ours); ++i) EXPECT_EQ(ours[i], theirs[i]) << i;
  EXPECT_EQ(kBlkTaQueue, static_cast<std::uint32_t>(BLK_TA_QUEUE));
  EXPECT_EQ(kBlkTaBackmerge, static_cast<std::uint32_t>(BLK_TA_BACKMERGE));
  EXPECT_EQ(kBlkTaFrontmerge, static_cast<std::uint32_t>(BLK_TA_FRONTMERGE));
  EXPECT_EQ(kBlkTaGetrq, static_cast<std::uint32_t>(BLK_TA_GETRQ));
  EXPECT_EQ(kBlkTaSleeprq, static_cast<std::uint32_t>(BLK_TA_SLEEPRQ));
  EXPECT_EQ(kBlkTaRequeue, static_cast<std::uint32_t>(BLK_TA_REQUEUE));
  EXPECT_EQ(kBlkTaIssue, static_cast<std::uint32_t>(BLK_TA_ISSUE));
  EXPECT_EQ(kBlkTaComplete, static_cast<std::uint32_t>(BLK_TA_COMPLETE));
  EXPECT_EQ(kBlkTaPlug, static_cast<std::uint32_t>(BLK_TA_PLUG));
  EXPECT_EQ(kBlkTaUnplugIo, static_cast<std::uint32_t>(BLK_TA_UNPLUG_IO));
  EXPECT_EQ(kBlkTaUnplugTimer, static_cast<std::uint32_t>(BLK_TA_UNPLUG_TIMER));
  EXPECT_EQ(kBlkTaInsert, static_cast<std::uint32_t>(BLK_TA_INSERT));
  EXPECT_EQ(kBlkTaSplit, static_cast<std::uint32_t>(BLK_TA_SPLIT));
  EXPECT_EQ(kBlkTaBounce, static_cast<std::uint32_t>(BLK_TA_BOUNCE));
  EXPECT_EQ(kBlkTaRemap, static_cast<std::uint32_t>(BLK_TA_REMAP));
  EXPECT_EQ(kBlkTaAbort, static_cast<std::uint32_t>(BLK_TA_ABORT));
  EXPECT_EQ(kBlkTaDrvData, static_cast<std::uint32_t>(BLK_TA_DRV_DATA));
  EXPECT_EQ(kBlkTnProcess, static_cast<std::uint32_t>(BLK_TN_PROCESS));
  EXPECT_EQ(kBlkTnTimestamp, static_cast<std::uint32_t>(BLK_TN_TIMESTAMP));
  EXPECT_EQ(kBlkTnMessage, static_cast<std::uint32_t>(BLK_TN_MESSAGE));
}
#endif

std::string rwbs_of(std::uint32_t cats, std::uint32_t bytes) {
  BlkIoTrace t{};
  t.action = kBlkTaQueue | cats;
  t.bytes = bytes;
  return rwbs(t);
}

TEST(BlkTraceCategories, MapOpAndFlagsLikeBlkAddTrace) {
  // categories(write, sync, rahead, meta, preflush, fua, discard, flush_op)
  const auto c = &BlkTrace::categories;
  EXPECT_EQ(c(false, false, false, false, false, false, false, false), tc_act(kTcRead));
  EXPECT_EQ(c(true, false, false, false, false, false, false, false), tc_act(kTcWrite));
  EXPECT_EQ(c(true, true, false, false, false, false, false, false), tc_act(kTcWrite | kTcSync));
  EXPECT_EQ(c(false, false, true, false, false, false, false, false), tc_act(kTcRead | kTcAhead));
  EXPECT_EQ(c(false, false, false, true, false, false, false, false), tc_act(kTcRead | kTcMeta));
  EXPECT_EQ(c(true, true, false, false, true, true, false, false),
            tc_act(kTcWrite | kTcSync | kTcFlush | kTcFua));
  // REQ_OP_DISCARD is a write op, REQ_OP_FLUSH is not.
  EXPECT_EQ(c(false, false, false, false, false, false, true, false),
            tc_act(kTcWrite | kTcDiscard));
  EXPECT_EQ(c(false, false, false, false, false, false, false, true), tc_act(kTcRead | kTcFlush));
  // None of these touch the action-code half.
  EXPECT_EQ(c(true, true, true, true, true, true, true, true) & kActMask, 0u);
}

TEST(BlkTraceText, RwbsAndActionNamesMatchBlkparse) {
  const auto c = &BlkTrace::categories;
  EXPECT_EQ(rwbs_of(c(true, false, false, false, false, false, false, false), 4096), "W");
  EXPECT_EQ(rwbs_of(c(true, true, false, false, false, false, false, false), 4096), "WS");
  EXPECT_EQ(rwbs_of(c(false, false, false, false, false, false, false, false), 4096), "R");
  EXPECT_EQ(rwbs_of(c(false, false, true, false, false, false, false, false), 4096), "RA");
  EXPECT_EQ(rwbs_of(c(false, true, false, true, false, false, false, false), 4096), "RSM");
  EXPECT_EQ(rwbs_of(c(true, true, false, false, true, true, false, false), 4096), "FWFS");
  EXPECT_EQ(rwbs_of(c(false, false, false, false, false, false, true, false), 4096), "D");
  EXPECT_EQ(rwbs_of(c(false, false, false, false, false, false, false, true), 0), "FN");
  EXPECT_EQ(rwbs_of(tc_act(kTcRead), 0), "N");
  EXPECT_EQ(action_name(kBlkTaQueue), "Q");
  EXPECT_EQ(action_name(rq_action(kBlkTaComplete)), "C");
  EXPECT_EQ(action_name(kBlkTaUnplugTimer), "UT");
  EXPECT_EQ(action_name(kBlkTaSplit), "X");
  EXPECT_EQ(action_name(kBlkTaRemap), "A");
  EXPECT_EQ(action_name(kBlkTnMessage), "m");
  EXPECT_EQ(action_name(kBlkTnProcess), "");
}

}  // namespace
}  // namespace iostack::trace
