/* A program of the installed package's users: built against the installed
 * headers and libiostack.so.0 (through pkg-config or find_package), it sets
 * up an io_uring with iostack_io_uring_setup, maps its rings, submits a NOP
 * and reads the NOP's CQE. Prints "nop res 0 user_data 42"; exit 0 then. */
#include <iostack/iostack.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define AT(base, off) ((unsigned*)((char*)(base) + (off)))

int main(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  const int fd = iostack_io_uring_setup(4, &p);
  if (fd < 0) {
    printf("iostack_io_uring_setup %d\n", fd);
    return 1;
  }
  size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  const int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
  void* sq = iostack_io_uring_mmap(fd, IORING_OFF_SQ_RING, sq_len);
  void* cq = single ? sq : iostack_io_uring_mmap(fd, IORING_OFF_CQ_RING, cq_len);
  const size_t sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  struct io_uring_sqe* sqes = iostack_io_uring_mmap(fd, IORING_OFF_SQES, sqes_len);
  if (IOSTACK_URING_IS_ERR(sq) || IOSTACK_URING_IS_ERR(cq) || IOSTACK_URING_IS_ERR(sqes)) {
    printf("iostack_io_uring_mmap failed\n");
    return 1;
  }

  /* One NOP: fill the SQE, point the array slot at it, publish the tail. */
  const unsigned tail = *AT(sq, p.sq_off.tail);
  const unsigned idx = tail & *AT(sq, p.sq_off.ring_mask);
  memset(&sqes[idx], 0, sizeof(sqes[idx]));
  sqes[idx].opcode = IORING_OP_NOP;
  sqes[idx].user_data = 42;
  AT(sq, p.sq_off.array)[idx] = idx;
  __atomic_store_n(AT(sq, p.sq_off.tail), tail + 1, __ATOMIC_RELEASE);

  const int ret = iostack_io_uring_enter(fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8);
  if (ret != 1) {
    printf("iostack_io_uring_enter %d\n", ret);
    return 1;
  }
  const unsigned head = *AT(cq, p.cq_off.head);
  if (__atomic_load_n(AT(cq, p.cq_off.tail), __ATOMIC_ACQUIRE) == head) {
    printf("no CQE\n");
    return 1;
  }
  const struct io_uring_cqe* cqes = (const void*)((char*)cq + p.cq_off.cqes);
  const struct io_uring_cqe cqe = cqes[head & *AT(cq, p.cq_off.ring_mask)];
  __atomic_store_n(AT(cq, p.cq_off.head), head + 1, __ATOMIC_RELEASE);
  printf("nop res %d user_data %llu\n", cqe.res, (unsigned long long)cqe.user_data);

  iostack_io_uring_munmap(sqes, sqes_len);
  if (!single) iostack_io_uring_munmap(cq, cq_len);
  iostack_io_uring_munmap(sq, sq_len);
  iostack_io_uring_close(fd);
  return cqe.res == 0 && cqe.user_data == 42 ? 0 : 1;
}
