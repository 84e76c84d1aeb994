// The call-site rewriter's pure parts: the x86-64 instruction length
// decoder on hand-written encodings, and the planner that finds dead
// fillers and chains jumps to them, on hand-written code buffers.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <vector>

#if defined(IOSTACK_COMPAT_REWRITE)
#include "insn.h"
#include "patch_plan.h"

namespace {

struct Case {
  const char* what;
  std::vector<uint8_t> bytes;
  int len;
};

// Lengths checked against GNU as / objdump for the same encodings.
const std::vector<Case> kCases = {
    {"nop", {0x90}, 1},
    {"ret", {0xc3}, 1},
    {"ret imm16", {0xc2, 0x08, 0x00}, 3},
    {"syscall", {0x0f, 0x05}, 2},
    {"push rbp", {0x55}, 1},
    {"push r12 (REX.B)", {0x41, 0x54}, 2},
    {"mov rbp,rsp", {0x48, 0x89, 0xe5}, 3},
    {"mov eax,imm32", {0xb8, 0x01, 0x00, 0x00, 0x00}, 5},
    {"movabs rax,imm64", {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 10},
    {"mov ax,imm16 (66)", {0x66, 0xb8, 0x34, 0x12}, 4},
    {"mov rax,[rip+disp32]", {0x48, 0x8b, 0x05, 1, 2, 3, 4}, 7},
    {"lea rdi,[rip+disp32]", {0x48, 0x8d, 0x3d, 1, 2, 3, 4}, 7},
    {"mov eax,[rsp+8] (SIB disp8)", {0x8b, 0x44, 0x24, 0x08}, 4},
    {"mov eax,[disp32] (SIB no base)", {0x8b, 0x04, 0x25, 1, 2, 3, 4}, 7},
    {"mov eax,[rsp+disp32]", {0x8b, 0x84, 0x24, 0, 1, 0, 0}, 7},
    {"mov eax,[rbp+disp8]", {0x8b, 0x45, 0xf8}, 3},
    {"mov eax,[r13+0] (REX.B, mod 01)", {0x41, 0x8b, 0x45, 0x00}, 4},
    {"mov rax,fs:0x28", {0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0}, 9},
    {"mov qword [rsp+8],imm32", {0x48, 0xc7, 0x44, 0x24, 0x08, 1, 0, 0, 0}, 9},
    {"mov word [rax],imm16", {0x66, 0xc7, 0x00, 0x34, 0x12}, 5},
    {"add rsp,imm32", {0x48, 0x81, 0xc4, 0, 1, 0, 0}, 7},
    {"sub rsp,imm8", {0x48, 0x83, 0xec, 0x08}, 4},
    {"test cl,imm8 (F6 /0)", {0xf6, 0xc1, 0x01}, 3},
    {"not cl (F6 /2)", {0xf6, 0xd1}, 2},
    {"test ecx,imm32 (F7 /0)", {0xf7, 0xc1, 1, 0, 0, 0}, 6},
    {"test cx,imm16 (66 F7 /0)", {0x66, 0xf7, 0xc1, 1, 0}, 5},
    {"neg eax (F7 /3)", {0xf7, 0xd8}, 2},
    {"enter", {0xc8, 0x10, 0x00, 0x00}, 4},
    {"mov eax,moffs64", {0xa1, 1, 2, 3, 4, 5, 6, 7, 8}, 9},
    {"mov eax,moffs32 (67)", {0x67, 0xa1, 1, 2, 3, 4}, 6},
    {"call rel32", {0xe8, 0, 0, 0, 0}, 5},
    {"jmp rel32", {0xe9, 0, 0, 0, 0}, 5},
    {"jmp rel8", {0xeb, 0x10}, 2},
    {"je rel8", {0x74, 0x10}, 2},
    {"je rel32", {0x0f, 0x84, 0, 0, 0, 0}, 6},
    {"jmp *r11", {0x41, 0xff, 0xe3}, 3},
    {"call *[rip+disp32]", {0xff, 0x15, 0, 0, 0, 0}, 6},
    {"notrack jmp *[rax*8+disp32]", {0x3e, 0xff, 0x24, 0xc5, 0, 0, 0, 0}, 8},
    {"lock cmpxchg [rdx],rcx", {0xf0, 0x48, 0x0f, 0xb1, 0x0a}, 5},
    {"bt eax,imm8", {0x0f, 0xba, 0xe0, 0x03}, 4},
    {"shld eax,edx,imm8", {0x0f, 0xa4, 0xd0, 0x04}, 4},
    {"endbr64", {0xf3, 0x0f, 0x1e, 0xfa}, 4},
    {"nopl 0(rax,rax)", {0x0f, 0x1f, 0x44, 0x00, 0x00}, 5},
    {"nopl disp32(rax)", {0x0f, 0x1f, 0x80, 0, 0, 0, 0}, 7},
    {"cs nopw 0(rax,rax)", {0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0}, 10},
    {"data16 cs nopw", {0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0}, 11},
    {"pshufb xmm0,xmm1 (0F38)", {0x66, 0x0f, 0x38, 0x00, 0xc1}, 5},
    {"palignr xmm0,xmm1,8 (0F3A imm8)", {0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08}, 6},
    {"pshufd xmm0,xmm1,imm8", {0x66, 0x0f, 0x70, 0xc1, 0x1b}, 5},
    {"movdqa xmm0,[rsp]", {0x66, 0x0f, 0x6f, 0x04, 0x24}, 5},
    {"cvtsi2sd xmm0,rax", {0xf2, 0x48, 0x0f, 0x2a, 0xc0}, 5},
    {"fld qword [rsp] (x87)", {0xdd, 0x04, 0x24}, 3},
    {"vzeroupper (VEX2)", {0xc5, 0xf8, 0x77}, 3},
    {"vmovdqa ymm0,[rsp] (VEX2)", {0xc5, 0xfd, 0x6f, 0x04, 0x24}, 5},
    {"vpxor ymm0,ymm0,ymm0", {0xc5, 0xfd, 0xef, 0xc0}, 4},
    {"vinsertf128 ymm0,ymm0,xmm1,1 (VEX3 0F3A)", {0xc4, 0xe3, 0x7d, 0x18, 0xc1, 0x01}, 6},
    {"vpbroadcastd ymm0,xmm1 (VEX3 0F38)", {0xc4, 0xe2, 0x7d, 0x58, 0xc1}, 5},
    {"vpshufd ymm0,ymm1,imm8 (VEX map1 imm)", {0xc5, 0xfd, 0x70, 0xc1, 0x1b}, 5},
    {"vmovdqu64 zmm0,[rsp+64] (EVEX disp8*N)", {0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x44, 0x24, 0x01}, 8},
    {"vmovdqu64 zmm16,[rip+disp32]", {0x62, 0xe1, 0xfe, 0x48, 0x6f, 0x05, 0, 0, 0, 0}, 10},
    {"vpternlogd zmm0,zmm0,zmm0,0xff (EVEX 0F3A)", {0x62, 0xf3, 0x7d, 0x48, 0x25, 0xc0, 0xff}, 7},
    {"kmovq k1,[rax]", {0xc4, 0xe1, 0xf8, 0x90, 0x08}, 5},
    {"3DNow! pfadd", {0x0f, 0x0f, 0xc1, 0x9e}, 4},
    {"XOP vprotd xmm0,xmm1,imm8", {0x8f, 0xe8, 0x78, 0xc2, 0xc1, 0x05}, 6},
    {"pop qword [rax] (8F /0)", {0x8f, 0x00}, 2},
    {"int3", {0xcc}, 1},
    {"ud2", {0x0f, 0x0b}, 2},
    {"rep movsb", {0xf3, 0xa4}, 2},
    {"rex then prefix: REX ignored", {0x48, 0x66, 0xb8, 0x34, 0x12}, 5},
};

TEST(InsnDecode, LengthsOfRepresentativeEncodings) {
  for (const auto& c : kCases) {
    std::vector<uint8_t> buf = c.bytes;
    buf.resize(buf.size() + 16, 0xcc);  // a following instruction must not count
    insn in;
    EXPECT_EQ(insn_decode(buf.data(), buf.size(), &in), c.len) << c.what;
    EXPECT_EQ(in.len, c.len) << c.what;
  }
}

TEST(InsnDecode, RejectsTruncatedAndInvalidBytes) {
  for (const auto& c : kCases) {
    // One byte short of the whole instruction: never a length.
    EXPECT_EQ(insn_decode(c.bytes.data(), c.bytes.size() - 1, nullptr), 0) << c.what;
  }
  const std::vector<std::vector<uint8_t>> invalid = {
      {0x06},
      {0x27},
      {0x60},
      {0x9a, 0, 0, 0, 0, 0, 0},
      {0xd6},
      {0xea, 0, 0, 0, 0, 0, 0},
      {0x66, 0xc5, 0xf8, 0x77},  // VEX after 66 is #UD
      {0x0f, 0x36},
  };
  for (const auto& b : invalid) EXPECT_EQ(insn_decode(b.data(), b.size(), nullptr), 0);
  // 15 prefixes and more: longer than any instruction.
  std::vector<uint8_t> many(16, 0x66);
  many.push_back(0x90);
  EXPECT_EQ(insn_decode(many.data(), many.size(), nullptr), 0);
}

int classify(std::initializer_list<uint8_t> bytes, int (*pred)(const insn*)) {
  std::vector<uint8_t> b(bytes);
  insn in;
  if (!insn_decode(b.data(), b.size(), &in)) return -1;
  return pred(&in);
}

TEST(InsnDecode, DeadEndsAndPadding) {
  EXPECT_EQ(classify({0xc3}, insn_is_dead_end), 1);
  EXPECT_EQ(classify({0xf3, 0xc3}, insn_is_dead_end), 1);  // rep ret
  EXPECT_EQ(classify({0xeb, 0x00}, insn_is_dead_end), 1);
  EXPECT_EQ(classify({0xe9, 0, 0, 0, 0}, insn_is_dead_end), 1);
  EXPECT_EQ(classify({0x41, 0xff, 0xe3}, insn_is_dead_end), 1);  // jmp *r11
  EXPECT_EQ(classify({0x0f, 0x0b}, insn_is_dead_end), 1);        // ud2
  EXPECT_EQ(classify({0xe8, 0, 0, 0, 0}, insn_is_dead_end), 0);  // call returns
  EXPECT_EQ(classify({0xff, 0xd0}, insn_is_dead_end), 0);        // call *rax
  EXPECT_EQ(classify({0x74, 0x00}, insn_is_dead_end), 0);        // je falls through
  EXPECT_EQ(classify({0x0f, 0x05}, insn_is_dead_end), 0);

  EXPECT_EQ(classify({0x90}, insn_is_padding), 1);
  EXPECT_EQ(classify({0x66, 0x90}, insn_is_padding), 1);
  EXPECT_EQ(classify({0xcc}, insn_is_padding), 1);
  EXPECT_EQ(classify({0x0f, 0x1f, 0x44, 0x00, 0x00}, insn_is_padding), 1);
  EXPECT_EQ(classify({0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}, insn_is_padding), 1);
  EXPECT_EQ(classify({0x41, 0x90}, insn_is_padding), 0);              // xchg eax,r8d
  EXPECT_EQ(classify({0xf3, 0x90}, insn_is_padding), 0);              // pause
  EXPECT_EQ(classify({0x0f, 0x1f, 0x48, 0x00}, insn_is_padding), 0);  // 0F 1F /1 is not nop
}

// --- the planner, on code laid out in an aligned buffer ---

class Code {
 public:
  Code() { std::memset(buf_, 0xcc, sizeof(buf_)); }
  // Writes bytes at offset `off`, returns the offset after them.
  size_t put(size_t off, std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) buf_[off++] = b;
    return off;
  }
  // Fills [off, end) with live 1-byte instructions (push rax).
  void code(size_t off, size_t end) { std::memset(buf_ + off, 0x50, end - off); }
  // Fills [off, end) with 1-byte nops.
  void nops(size_t off, size_t end) { std::memset(buf_ + off, 0x90, end - off); }
  uintptr_t at(size_t off) const { return reinterpret_cast<uintptr_t>(buf_) + off; }
  size_t size() const { return sizeof(buf_); }

 private:
  alignas(64) uint8_t buf_[1024];
};

size_t no_use(uintptr_t, void*) { return 0; }

TEST(PatchPlan, FillerAfterRetRightBehindTheSite) {
  Code c;
  c.put(8, {0x0f, 0x05, 0xc3});  // syscall; ret; int3 x5 up to 16
  patch_plan plan{};
  ASSERT_EQ(plan_patch(c.at(8), c.at(64), 0, c.at(8), no_use, nullptr, &plan), PLAN_OK);
  EXPECT_EQ(plan.nhops, 0);
  EXPECT_EQ(plan.final, c.at(11));
  EXPECT_EQ(plan.final_region, c.at(11));
}

TEST(PatchPlan, SiteStraddlingAnEightByteBoundaryIsRefused) {
  Code c;
  c.put(7, {0x0f, 0x05, 0xc3});
  patch_plan plan{};
  EXPECT_EQ(plan_patch(c.at(7), c.at(64), 0, c.at(7), no_use, nullptr, &plan), PLAN_STRADDLE);
}

TEST(PatchPlan, NopsAfterACallAreLiveCode) {
  Code c;
  size_t o = c.put(0, {0x0f, 0x05, 0xe8, 0, 0, 0, 0});  // syscall; call
  c.nops(o, 16);                                        // alignment nops, executed
  c.code(16, 200);
  EXPECT_EQ(plan_patch(c.at(0), c.at(200), 0, c.at(0), no_use, nullptr, nullptr), PLAN_NO_PADDING);
}

TEST(PatchPlan, FillerMustEndAtAnAlignmentBoundary) {
  Code c;
  // ret, then 6 int3, then code at offset 9 (not 8-aligned): not filler.
  size_t o = c.put(0, {0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc});
  c.code(o, 200);
  EXPECT_EQ(plan_patch(c.at(0), c.at(200), 0, c.at(0), no_use, nullptr, nullptr), PLAN_NO_PADDING);
  // Unless that is the next function's start, known from unwind tables.
  patch_plan plan{};
  EXPECT_EQ(plan_patch(c.at(0), c.at(9), 1, c.at(0), no_use, nullptr, &plan), PLAN_OK);
  EXPECT_EQ(plan.final, c.at(3));
}

TEST(PatchPlan, SmallFillersChainToALargeOne) {
  Code c;
  // site; 100 bytes of code; jmp; 3-byte filler at 125..128 (too small for
  // a jmp rel32, room for a jmp rel8 hop); code; ret; 8-byte filler at
  // 248..256 out of the site's rel8 reach but within the hop's.
  size_t o = c.put(16, {0x0f, 0x05});
  c.code(o, 123);
  c.put(123, {0xeb, 0x03});  // jmp over the filler
  c.code(128, 247);
  c.put(247, {0xc3});
  c.code(256, 400);
  patch_plan plan{};
  ASSERT_EQ(plan_patch(c.at(16), c.at(400), 0, c.at(16), no_use, nullptr, &plan), PLAN_OK);
  ASSERT_EQ(plan.nhops, 1);
  EXPECT_EQ(plan.hop[0], c.at(125));
  EXPECT_EQ(plan.final, c.at(248));
}

TEST(PatchPlan, BackwardFillerFoundFromTheFunctionStart) {
  Code c;
  // A function from 0: ret at 5 and filler 6..16, then 90 bytes of code,
  // the site at 104, more code, no filler after it.
  c.code(0, 5);
  c.put(5, {0xc3});
  c.code(16, 104);
  size_t o = c.put(104, {0x0f, 0x05});
  c.code(o, 300);
  // Forward only: nothing.
  EXPECT_EQ(plan_patch(c.at(104), c.at(300), 0, c.at(104), no_use, nullptr, nullptr),
            PLAN_NO_PADDING);
  patch_plan plan{};
  ASSERT_EQ(plan_patch(c.at(0), c.at(300), 0, c.at(104), no_use, nullptr, &plan), PLAN_OK);
  EXPECT_EQ(plan.nhops, 0);
  EXPECT_EQ(plan.final, c.at(6));
}

TEST(PatchPlan, TakenFillerBytesAreNotReused) {
  Code c;
  c.put(0, {0x0f, 0x05, 0xc3});  // filler 3..16: room for two jmp rel32
  c.code(16, 64);
  std::map<uintptr_t, size_t> used;
  auto lookup = [](uintptr_t start, void* ctx) -> size_t {
    auto* m = static_cast<std::map<uintptr_t, size_t>*>(ctx);
    auto it = m->find(start);
    return it == m->end() ? 0 : it->second;
  };
  patch_plan plan{};
  used[c.at(3)] = 5;
  ASSERT_EQ(plan_patch(c.at(0), c.at(64), 0, c.at(0), lookup, &used, &plan), PLAN_OK);
  EXPECT_EQ(plan.final, c.at(8));
  used[c.at(3)] = 10;  // 3 bytes left: not enough, nothing else
  EXPECT_EQ(plan_patch(c.at(0), c.at(64), 0, c.at(0), lookup, &used, &plan), PLAN_NO_PADDING);
}

TEST(PatchPlan, SiteMustBeASyscallOnAnInstructionBoundary) {
  Code c;
  c.put(0, {0xb8, 0x0f, 0x05, 0x00, 0x00, 0xc3});  // mov eax,0x50f; ret
  // 0f 05 at offset 1 is inside the mov: decoding from 0 steps over it.
  EXPECT_EQ(plan_patch(c.at(0), c.at(64), 0, c.at(1), no_use, nullptr, nullptr), PLAN_UNDECODABLE);
  c.put(16, {0x0f, 0x0b, 0xc3});  // ud2 where a syscall is claimed
  EXPECT_EQ(plan_patch(c.at(16), c.at(64), 0, c.at(16), no_use, nullptr, nullptr),
            PLAN_NOT_SYSCALL);
}

}  // namespace

#else

TEST(InsnDecode, Skipped) { GTEST_SKIP() << "the call-site rewriter was not built"; }

#endif
