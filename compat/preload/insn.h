/* x86-64 instruction length decoder: just enough structure (prefixes,
 * opcode map, ModRM) to walk machine code and recognise the instructions
 * the call-site rewriter cares about. */
#ifndef IOSTACK_COMPAT_PRELOAD_INSN_H
#define IOSTACK_COMPAT_PRELOAD_INSN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum insn_encoding { INSN_LEGACY, INSN_VEX, INSN_EVEX, INSN_XOP };

struct insn {
  uint8_t len;      /* total length in bytes, 1..15 */
  uint8_t encoding; /* enum insn_encoding */
  uint8_t map;      /* 0: one-byte, 1: 0F, 2: 0F38, 3: 0F3A; VEX/EVEX/XOP map number */
  uint8_t opcode;
  uint8_t has_modrm;
  uint8_t modrm;
  uint8_t rex;            /* 0 when absent */
  uint8_t opsize16;       /* 66 prefix */
  uint8_t addrsize32;     /* 67 prefix */
  uint8_t rep;            /* F3 prefix */
  uint8_t other_prefixes; /* any prefix besides 66, 67, 2E and 3E */
};

/* Decodes the instruction at `p` (at most `avail` readable bytes). Returns
 * its length, or 0 when the bytes are not a valid 64-bit mode instruction
 * or run past `avail`. */
int insn_decode(const uint8_t* p, size_t avail, struct insn* out);

/* Control never reaches the next instruction: ret, jmp (direct or
 * indirect), ud2. */
int insn_is_dead_end(const struct insn* in);

/* An alignment filler: nop in its one- and multi-byte forms, or int3. */
int insn_is_padding(const struct insn* in);

#ifdef __cplusplus
}
#endif

#endif
