/* x86-64 instruction length decoding (Intel SDM vol. 2, appendix A opcode
 * maps), 64-bit mode only. */
#include "insn.h"

#include <string.h>

enum {
  F_MODRM = 1,
  F_IMM8 = 2,
  F_IMM16 = 4,
  F_IMMZ = 8,    /* 4 bytes, 2 with a 66 prefix */
  F_IMMV = 16,   /* 4 bytes, 8 with REX.W, 2 with 66 */
  F_MOFFS = 32,  /* 8 bytes, 4 with a 67 prefix */
  F_BAD = 64,    /* invalid in 64-bit mode */
  F_REL32 = 128, /* call/jmp/jcc rel32: 4 bytes whatever the prefixes */
};

static unsigned one_byte_flags(uint8_t op) {
  if (op < 0x40) {
    const uint8_t low = op & 7;
    if (op == 0x0f) return 0; /* escape, handled by the caller */
    if (low <= 3) return F_MODRM;
    if (low == 4) return F_IMM8;
    if (low == 5) return F_IMMZ;
    /* 06/07/0E/16/17/1E/1F/27/2F/37/3F; the segment prefixes never get here. */
    return F_BAD;
  }
  if (op < 0x60) return 0; /* push/pop r64 (40-4F are REX, consumed earlier) */
  if (op >= 0x70 && op <= 0x7f) return F_IMM8;
  if (op >= 0x84 && op <= 0x8f) return F_MODRM;
  if (op >= 0x90 && op <= 0x99) return 0;
  if (op >= 0x9b && op <= 0x9f) return 0;
  if (op >= 0xa0 && op <= 0xa3) return F_MOFFS;
  if (op >= 0xa4 && op <= 0xa7) return 0;
  if (op >= 0xaa && op <= 0xaf) return 0;
  if (op >= 0xb0 && op <= 0xb7) return F_IMM8;
  if (op >= 0xb8 && op <= 0xbf) return F_IMMV;
  if (op >= 0xd0 && op <= 0xd3) return F_MODRM;
  if (op >= 0xd8 && op <= 0xdf) return F_MODRM; /* x87 */
  if (op >= 0xe0 && op <= 0xe7) return F_IMM8;
  if (op >= 0xec && op <= 0xef) return 0;
  if (op >= 0xf8 && op <= 0xfd) return 0;
  switch (op) {
    case 0x63:
      return F_MODRM;
    case 0x68:
      return F_IMMZ;
    case 0x69:
      return F_MODRM | F_IMMZ;
    case 0x6a:
      return F_IMM8;
    case 0x6b:
      return F_MODRM | F_IMM8;
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
      return 0;
    case 0x80:
      return F_MODRM | F_IMM8;
    case 0x81:
      return F_MODRM | F_IMMZ;
    case 0x83:
      return F_MODRM | F_IMM8;
    case 0xa8:
      return F_IMM8;
    case 0xa9:
      return F_IMMZ;
    case 0xc0:
    case 0xc1:
      return F_MODRM | F_IMM8;
    case 0xc2:
      return F_IMM16;
    case 0xc3:
      return 0;
    case 0xc6:
      return F_MODRM | F_IMM8;
    case 0xc7:
      return F_MODRM | F_IMMZ;
    case 0xc8:
      return F_IMM16 | F_IMM8; /* enter */
    case 0xc9:
      return 0;
    case 0xca:
      return F_IMM16;
    case 0xcb:
    case 0xcc:
      return 0;
    case 0xcd:
      return F_IMM8;
    case 0xcf:
      return 0;
    case 0xd7:
      return 0;
    case 0xe8:
    case 0xe9:
      return F_REL32;
    case 0xeb:
      return F_IMM8;
    case 0xf1:
    case 0xf4:
    case 0xf5:
      return 0;
    case 0xf6:
    case 0xf7:
      return F_MODRM; /* immediate depends on ModRM.reg */
    case 0xfe:
    case 0xff:
      return F_MODRM;
    default:
      return F_BAD; /* 60 61 82 9A CE D4 D5 D6 EA and what is handled elsewhere */
  }
}

static unsigned two_byte_flags(uint8_t op) {
  if (op >= 0x10 && op <= 0x1f) return F_MODRM;
  if (op >= 0x20 && op <= 0x23) return F_MODRM;
  if (op >= 0x28 && op <= 0x2f) return F_MODRM;
  if (op >= 0x30 && op <= 0x37) return op == 0x36 ? F_BAD : 0;
  if (op >= 0x40 && op <= 0x6f) return F_MODRM;
  if (op >= 0x70 && op <= 0x73) return F_MODRM | F_IMM8;
  if (op >= 0x74 && op <= 0x76) return F_MODRM;
  if (op >= 0x80 && op <= 0x8f) return F_REL32;
  if (op >= 0x90 && op <= 0x9f) return F_MODRM;
  if (op >= 0xb0 && op <= 0xb9) return F_MODRM;
  if (op >= 0xbb && op <= 0xc1) return F_MODRM;
  if (op >= 0xc2 && op <= 0xc6) return op == 0xc3 ? F_MODRM : F_MODRM | F_IMM8;
  if (op >= 0xc8 && op <= 0xcf) return 0; /* bswap */
  if (op >= 0xd0) return F_MODRM;
  switch (op) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x03:
      return F_MODRM;
    case 0x05:
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0b:
    case 0x0e:
      return 0;
    case 0x0d:
      return F_MODRM;
    case 0x77:
      return 0;
    case 0x78:
    case 0x79:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f:
      return F_MODRM;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa8:
    case 0xa9:
    case 0xaa:
      return 0;
    case 0xa3:
    case 0xa5:
    case 0xab:
    case 0xad:
    case 0xae:
    case 0xaf:
      return F_MODRM;
    case 0xa4:
    case 0xac:
    case 0xba:
      return F_MODRM | F_IMM8;
    case 0xc7:
      return F_MODRM;
    default:
      return F_BAD;
  }
}

/* Immediate of a VEX/EVEX instruction in map 1 (0F): the same opcodes as
 * the legacy 0F map carry an imm8. */
static int vex_map1_has_imm8(uint8_t op) {
  return (op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6);
}

/* Bytes of ModRM, SIB and displacement starting at p[0] (the ModRM byte). */
static int modrm_bytes(const uint8_t* p, size_t avail) {
  if (avail < 1) return -1;
  const uint8_t modrm = p[0];
  const uint8_t mod = modrm >> 6, rm = modrm & 7;
  int n = 1;
  if (mod == 3) return n;
  if (rm == 4) {
    if (avail < 2) return -1;
    const uint8_t base = p[1] & 7;
    n += 1;
    if (mod == 0 && base == 5) n += 4;
  } else if (mod == 0 && rm == 5) {
    n += 4; /* RIP-relative */
  }
  if (mod == 1) n += 1;
  if (mod == 2) n += 4;
  return n;
}

int insn_decode(const uint8_t* p, size_t avail, struct insn* out) {
  struct insn in;
  memset(&in, 0, sizeof(in));
  if (avail > 15) avail = 15;
  size_t i = 0;
  int lock_or_repne = 0;
  /* Legacy prefixes, then at most one REX right before the opcode. */
  for (;; ++i) {
    if (i >= avail) return 0;
    const uint8_t b = p[i];
    if (b == 0x66) {
      in.opsize16 = 1;
    } else if (b == 0x67) {
      in.addrsize32 = 1;
    } else if (b == 0xf3) {
      in.rep = 1;
      in.other_prefixes = 1;
    } else if (b == 0xf0 || b == 0xf2) {
      lock_or_repne = 1;
      in.other_prefixes = 1;
    } else if (b == 0x2e || b == 0x3e) {
      /* segment overrides / branch hints, also used in long nops */
    } else if (b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65) {
      in.other_prefixes = 1;
    } else if ((b & 0xf0) == 0x40) {
      in.rex = b; /* a legacy prefix after REX cancels it, hence the reset below */
      if (i + 1 >= avail) return 0;
      const uint8_t next = p[i + 1];
      if (next == 0x66 || next == 0x67 || next == 0xf3 || next == 0xf2 || next == 0xf0 ||
          next == 0x2e || next == 0x3e || next == 0x26 || next == 0x36 || next == 0x64 ||
          next == 0x65 || (next & 0xf0) == 0x40) {
        in.rex = 0;
        continue;
      }
      ++i;
      break;
    } else {
      break;
    }
  }
  const int legacy_prefixes = in.opsize16 || in.rep || lock_or_repne || in.rex;
  if (i >= avail) return 0;
  uint8_t op = p[i++];
  unsigned flags;
  int imm = 0;

  if (op == 0xc4 || op == 0xc5 || op == 0x62 || (op == 0x8f && i < avail && (p[i] & 0x1f) >= 8)) {
    /* VEX (C4 3-byte, C5 2-byte), EVEX (62) or AMD XOP (8F, map >= 8). */
    if (legacy_prefixes) return 0; /* #UD with 66/F2/F3/REX */
    size_t payload;
    uint8_t map;
    if (op == 0xc5) {
      payload = 1;
      map = 1;
      in.encoding = INSN_VEX;
    } else if (op == 0xc4) {
      payload = 2;
      if (i >= avail) return 0;
      map = p[i] & 0x1f;
      if (map < 1 || map > 3) return 0;
      in.encoding = INSN_VEX;
    } else if (op == 0x62) {
      payload = 3;
      if (i + 1 >= avail) return 0;
      map = p[i] & 0x07;
      if (map == 0 || map == 4 || map == 7) return 0;
      if (!(p[i + 1] & 0x04)) return 0; /* the fixed 1 bit in P1 */
      in.encoding = INSN_EVEX;
    } else {
      payload = 2;
      map = p[i] & 0x1f;
      if (map > 10) return 0;
      in.encoding = INSN_XOP;
    }
    i += payload;
    if (i >= avail) return 0;
    in.map = map;
    in.opcode = p[i++];
    if (in.encoding == INSN_VEX && map == 1 && in.opcode == 0x77) {
      flags = 0; /* vzeroupper / vzeroall */
    } else {
      flags = F_MODRM;
      if (in.encoding == INSN_XOP) {
        if (map == 8) flags |= F_IMM8;
        if (map == 10) imm = 4;
      } else if (map == 3 || (map == 1 && vex_map1_has_imm8(in.opcode))) {
        flags |= F_IMM8;
      }
    }
  } else if (op == 0x0f) {
    if (i >= avail) return 0;
    const uint8_t op2 = p[i++];
    if (op2 == 0x38 || op2 == 0x3a) {
      if (i >= avail) return 0;
      in.map = op2 == 0x38 ? 2 : 3;
      in.opcode = p[i++];
      flags = F_MODRM | (op2 == 0x3a ? F_IMM8 : 0);
    } else if (op2 == 0x0f) {
      in.map = 1;
      in.opcode = op2;
      flags = F_MODRM | F_IMM8; /* 3DNow!: the suffix byte decodes like an imm8 */
    } else {
      in.map = 1;
      in.opcode = op2;
      flags = two_byte_flags(op2);
    }
  } else {
    in.map = 0;
    in.opcode = op;
    flags = one_byte_flags(op);
  }
  if (flags & F_BAD) return 0;

  if (flags & F_MODRM) {
    const int n = modrm_bytes(p + i, avail - i);
    if (n < 0) return 0;
    in.has_modrm = 1;
    in.modrm = p[i];
    i += (size_t)n;
    if (in.map == 0 && (op == 0xf6 || op == 0xf7) && ((in.modrm >> 3) & 7) < 2)
      flags |= op == 0xf6 ? F_IMM8 : F_IMMZ; /* test r/m, imm */
  }
  if (flags & F_REL32) imm += 4;
  if (flags & F_IMM8) imm += 1;
  if (flags & F_IMM16) imm += 2;
  if (flags & F_IMMZ) imm += in.opsize16 ? 2 : 4;
  if (flags & F_IMMV) imm += (in.rex & 8) ? 8 : in.opsize16 ? 2 : 4;
  if (flags & F_MOFFS) imm += in.addrsize32 ? 4 : 8;
  i += (size_t)imm;
  if (i > avail) return 0;
  in.len = (uint8_t)i;
  if (out) *out = in;
  return (int)i;
}

int insn_is_dead_end(const struct insn* in) {
  if (in->encoding != INSN_LEGACY) return 0;
  if (in->map == 0) {
    switch (in->opcode) {
      case 0xc2:
      case 0xc3:
      case 0xca:
      case 0xcb: /* ret, lret */
      case 0xe9:
      case 0xeb: /* jmp rel32, rel8 */
        return 1;
      case 0xff: {
        const int reg = (in->modrm >> 3) & 7;
        return reg == 4 || reg == 5; /* jmp r/m, ljmp m */
      }
      default:
        return 0;
    }
  }
  return in->map == 1 && in->opcode == 0x0b; /* ud2 */
}

int insn_is_padding(const struct insn* in) {
  if (in->encoding != INSN_LEGACY || in->other_prefixes) return 0;
  if (in->map == 0 && in->opcode == 0xcc) return !in->rex && !in->opsize16;
  if (in->map == 0 && in->opcode == 0x90) return !(in->rex & 1); /* REX.B 90 is xchg r8 */
  if (in->map == 1 && in->opcode == 0x1f) return ((in->modrm >> 3) & 7) == 0; /* nop r/m */
  return 0;
}
