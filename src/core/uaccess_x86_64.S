/* The user-memory accessors of core/uaccess.hpp (arch/x86/lib/copy_user_64.S,
 * lib/strncpy_from_user.c, mm/gup.c fault_in_*): every instruction that
 * touches the program's memory is listed in iostack_uaccess_extable with the
 * place to resume at when it faults. core/uaccess.cpp's SIGSEGV/SIGBUS
 * handler does the resuming, so a bad pointer ends as a return value.
 *
 * Table entries are pairs of 32-bit offsets relative to the entry itself
 * (faulting instruction, fixup), so the table needs no relocation. */
#if !defined(__x86_64__)
#error "uaccess_x86_64.S is x86-64 only"
#endif

#ifdef __CET__
#define ENTRY_BRANCH endbr64
#else
#define ENTRY_BRANCH
#endif

/* One table entry: a fault at `insn` resumes at `fixup`. */
#define EXTABLE(insn, fixup)            \
  .pushsection .rodata.iostack_uaccess, "a"; \
  .balign 4;                            \
  .long (insn) - .;                     \
  .long (fixup) - .;                    \
  .popsection

#define FUNC(name)          \
  .globl name;              \
  .hidden name;             \
  .type name, @function;    \
  .balign 16;               \
name:                       \
  ENTRY_BRANCH

/* The table's bounds come first and last in the section: the linker keeps
 * the input order of one object file's pieces of a section. */
  .pushsection .rodata.iostack_uaccess, "a"
  .balign 4
  .globl iostack_uaccess_extable
  .hidden iostack_uaccess_extable
iostack_uaccess_extable:
  .popsection

  .text

/* size_t iostack_copy_user(void* dst, const void* src, size_t n)
 * Copies n bytes; returns how many were NOT copied (0 on success). After a
 * fault the bytes before the faulting byte have been copied, exactly: the
 * word and string paths fall back to the byte loop, which stops on the byte
 * that faults. Short copies (iovecs, iocbs, timespecs) take the word loop;
 * rep movsb pays off from a few hundred bytes. */
FUNC(iostack_copy_user)
  movq %rdx, %rcx
  cmpq $256, %rcx
  jb .Lcopy_words
.Lcopy_rep:
  rep movsb
  xorl %eax, %eax
  ret
.Lcopy_words:
  cmpq $8, %rcx
  jb .Lcopy_bytes
.Lcopy_load_word:
  movq (%rsi), %rax
.Lcopy_store_word:
  movq %rax, (%rdi)
  addq $8, %rsi
  addq $8, %rdi
  subq $8, %rcx
  jmp .Lcopy_words
.Lcopy_bytes:
  testq %rcx, %rcx
  jz .Lcopy_done
.Lcopy_load_byte:
  movb (%rsi), %al
.Lcopy_store_byte:
  movb %al, (%rdi)
  incq %rsi
  incq %rdi
  decq %rcx
  jnz .Lcopy_load_byte
.Lcopy_done:
  movq %rcx, %rax
  ret
  .size iostack_copy_user, . - iostack_copy_user

  EXTABLE(.Lcopy_rep, .Lcopy_bytes)
  EXTABLE(.Lcopy_load_word, .Lcopy_bytes)
  EXTABLE(.Lcopy_store_word, .Lcopy_bytes)
  EXTABLE(.Lcopy_load_byte, .Lcopy_done)
  EXTABLE(.Lcopy_store_byte, .Lcopy_done)

/* long iostack_strncpy_user(char* dst, const char* src, long count)
 * Copies bytes up to and including a NUL, at most `count`. Returns the
 * length without the NUL, `count` when no NUL came within `count` bytes,
 * -EFAULT (-14) when reading `src` faulted first. */
FUNC(iostack_strncpy_user)
  xorl %eax, %eax
  testq %rdx, %rdx
  jle .Lstr_done
.Lstr_load:
  movb (%rsi,%rax), %cl
  movb %cl, (%rdi,%rax)
  testb %cl, %cl
  jz .Lstr_done
  incq %rax
  cmpq %rdx, %rax
  jb .Lstr_load
.Lstr_done:
  ret
.Lstr_fault:
  movq $-14, %rax
  ret
  .size iostack_strncpy_user, . - iostack_strncpy_user

  EXTABLE(.Lstr_load, .Lstr_fault)

/* size_t iostack_probe_user(const void* p, size_t n, int write)
 * Touches the first byte of [p, p+n) and then the first byte of every later
 * page: a load, or for write access an atomic OR of zero, which needs write
 * permission yet changes nothing (another thread's store to the same byte
 * cannot be lost). Returns how many bytes from p lie in pages that allowed
 * the access: n, or the offset of the first page that faulted. The caller
 * makes sure p + n does not wrap. */
FUNC(iostack_probe_user)
  movq %rdi, %r8
  leaq (%rdi,%rsi), %r9
  movq %rsi, %rax
  testq %rsi, %rsi
  jz .Lprobe_done
  movq %rdi, %rcx
.Lprobe_next:
  testl %edx, %edx
  jnz .Lprobe_write
.Lprobe_read:
  movb (%rcx), %al
  jmp .Lprobe_advance
.Lprobe_write:
  lock orb $0, (%rcx)
.Lprobe_advance:
  andq $-4096, %rcx
  addq $4096, %rcx
  cmpq %r9, %rcx
  jb .Lprobe_next
  movq %rsi, %rax
.Lprobe_done:
  ret
.Lprobe_fault:
  movq %rcx, %rax
  subq %r8, %rax
  ret
  .size iostack_probe_user, . - iostack_probe_user

  EXTABLE(.Lprobe_read, .Lprobe_fault)
  EXTABLE(.Lprobe_write, .Lprobe_fault)

  .pushsection .rodata.iostack_uaccess, "a"
  .globl iostack_uaccess_extable_end
  .hidden iostack_uaccess_extable_end
iostack_uaccess_extable_end:
  .popsection

  .section .note.GNU-stack, "", @progbits
