// Singly linked FIFO lists kept as head and tail pointers (the kernel's bio_list).
#pragma once

namespace iostack::core {

// Appends `node` to the list `head`..`tail` linked through T::*Next.
template <typename T, T* T::*Next>
inline void slist_add_tail(T*& head, T*& tail, T* node) {
  node->*Next = nullptr;
  if (tail)
    tail->*Next = node;
  else
    head = node;
  tail = node;
}

// The list `head` linked through T::*Next in reverse order: a lock-free
// stack, newest first, made oldest first (the kernel's llist_reverse_order).
template <typename T, T* T::*Next>
inline T* slist_reverse(T* head) {
  T* rev = nullptr;
  while (head) {
    T* next = head->*Next;
    head->*Next = rev;
    rev = head;
    head = next;
  }
  return rev;
}

}  // namespace iostack::core
