/* The function around a code address, from the loaded object's
 * .eh_frame_hdr search table (every gcc/clang function has an FDE), so that
 * decoding can start at a real instruction boundary before the address. */
#define _GNU_SOURCE
#include "eh_range.h"

#include <link.h>
#include <stdint.h>
#include <string.h>

/* DWARF pointer encodings (DW_EH_PE_*) this reader understands. */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_UDATA4 0x03
#define PE_SDATA4 0x0b
#define PE_UDATA8 0x04
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30

static uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t rd64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Reads one encoded pointer at *pp (advancing it); `data` is the base for
 * datarel. Returns 0 for encodings not handled here. */
static int read_ptr(const uint8_t** pp, uint8_t enc, uintptr_t data, uintptr_t* out) {
  const uint8_t* p = *pp;
  uintptr_t v;
  switch (enc & 0x0f) {
    case PE_UDATA4:
      v = rd32(p);
      *pp = p + 4;
      break;
    case PE_SDATA4:
      v = (uintptr_t)(intptr_t)(int32_t)rd32(p);
      *pp = p + 4;
      break;
    case PE_ABSPTR:
    case PE_UDATA8:
    case PE_SDATA8:
      v = (uintptr_t)rd64(p);
      *pp = p + 8;
      break;
    default:
      return 0;
  }
  switch (enc & 0x70) {
    case 0:
      break;
    case PE_PCREL:
      v += (uintptr_t)p;
      break;
    case PE_DATAREL:
      v += data;
      break;
    default:
      return 0;
  }
  *out = v;
  return 1;
}

static uintptr_t uleb(const uint8_t** pp) {
  uintptr_t v = 0;
  int shift = 0;
  const uint8_t* p = *pp;
  uint8_t b;
  do {
    b = *p++;
    if (shift < 64) v |= (uintptr_t)(b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  *pp = p;
  return v;
}

/* The FDE pointer encoding ('R' augmentation) of the CIE at `cie`. */
static int cie_fde_encoding(const uint8_t* cie, uint8_t* enc) {
  if (rd32(cie) == 0xffffffffu || rd32(cie + 4) != 0) return 0;
  const uint8_t* p = cie + 8;
  const uint8_t version = *p++;
  const char* aug = (const char*)p;
  p += strlen(aug) + 1;
  uleb(&p); /* code alignment */
  uleb(&p); /* data alignment (sleb: only skipped) */
  if (version == 1)
    ++p;
  else
    uleb(&p); /* return address register */
  *enc = PE_ABSPTR;
  if (aug[0] != 'z') return aug[0] == 0;
  uleb(&p); /* augmentation data length */
  for (const char* a = aug + 1; *a; ++a) {
    if (*a == 'R') {
      *enc = *p;
      return 1;
    } else if (*a == 'L') {
      ++p;
    } else if (*a == 'P') {
      const uint8_t penc = *p++;
      uintptr_t ignored;
      if (!read_ptr(&p, penc, 0, &ignored)) return 0;
    } else if (*a != 'S' && *a != 'B') {
      return 0;
    }
  }
  return 1;
}

struct query {
  uintptr_t pc;
  struct eh_range* out;
  int found;
};

static int lookup_object(struct dl_phdr_info* info, size_t size, void* arg) {
  (void)size;
  struct query* q = arg;
  const ElfW(Phdr)* eh = NULL;
  uintptr_t seg_end = 0;
  int inside = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && q->pc >= start && q->pc < start + ph->p_memsz) {
      inside = 1;
      seg_end = start + ph->p_memsz;
    }
    if (ph->p_type == PT_GNU_EH_FRAME) eh = ph;
  }
  if (!inside) return 0;
  if (!eh) return 1;
  const uint8_t* hdr = (const uint8_t*)(info->dlpi_addr + eh->p_vaddr);
  if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4)) return 1;
  const uint8_t* p = hdr + 4;
  uintptr_t eh_frame, count;
  if (!read_ptr(&p, hdr[1], (uintptr_t)hdr, &eh_frame)) return 1;
  if (hdr[2] == PE_OMIT || !read_ptr(&p, hdr[2], (uintptr_t)hdr, &count) || count == 0) return 1;
  /* Sorted (initial location, FDE) pairs, both relative to hdr. */
  const uint8_t* table = p;
  const intptr_t rel = (intptr_t)(q->pc - (uintptr_t)hdr);
  size_t lo = 0, hi = count;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    if ((int32_t)rd32(table + mid * 8) <= rel)
      lo = mid;
    else
      hi = mid;
  }
  if ((int32_t)rd32(table + lo * 8) > rel) return 1;
  const uint8_t* fde = hdr + (int32_t)rd32(table + lo * 8 + 4);
  uint8_t enc;
  if (rd32(fde) == 0xffffffffu || !cie_fde_encoding(fde + 4 - rd32(fde + 4), &enc)) return 1;
  const uint8_t* f = fde + 8;
  uintptr_t begin, range;
  if (!read_ptr(&f, enc, (uintptr_t)hdr, &begin)) return 1;
  if (!read_ptr(&f, enc & 0x0f, 0, &range)) return 1;
  if (q->pc < begin || q->pc >= begin + range) return 1; /* not covered by any FDE */
  q->out->start = begin;
  q->out->end = begin + range;
  /* Up to the next function: the filler after this one is dead too. */
  q->out->next = lo + 1 < count ? (uintptr_t)hdr + (int32_t)rd32(table + (lo + 1) * 8) : seg_end;
  if (q->out->next < q->out->end || q->out->next > seg_end) q->out->next = q->out->end;
  q->found = 1;
  return 1;
}

int eh_range_find(uintptr_t pc, struct eh_range* out) {
  struct query q = {pc, out, 0};
  dl_iterate_phdr(lookup_object, &q);
  return q.found;
}
