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

}  // namespace iostack::core
