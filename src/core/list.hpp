// Intrusive doubly linked circular list, like the kernel's list_head
// (include/linux/list.h). Objects embed a ListHead; nothing is allocated.
#pragma once

#include <cstddef>

namespace iostack::core {

struct ListHead {
  ListHead* next = this;
  ListHead* prev = this;

  ListHead() = default;
  ListHead(const ListHead&) = delete;
  ListHead& operator=(const ListHead&) = delete;

  void init() { next = prev = this; }
  bool empty() const { return next == this; }
  // True when this node is on some list (nodes are re-initialised on removal).
  bool linked() const { return next != this; }

  void add_after(ListHead* pos) {
    next = pos->next;
    prev = pos;
    pos->next->prev = this;
    pos->next = this;
  }
  void add_tail(ListHead* head) { add_after(head->prev); }
  void add_head(ListHead* head) { add_after(head); }
  void del() {
    next->prev = prev;
    prev->next = next;
    init();
  }
  void move_tail(ListHead* head) {
    del();
    add_tail(head);
  }
  // Moves every node of this list (as a head) to the tail of `head`.
  void splice_tail_init(ListHead* head) {
    if (empty()) return;
    ListHead* first = next;
    ListHead* last = prev;
    first->prev = head->prev;
    head->prev->next = first;
    last->next = head;
    head->prev = last;
    init();
  }
  ListHead* first() const { return next; }
  ListHead* last() const { return prev; }
};

// container_of for a ListHead member.
template <typename T, ListHead T::*Member>
T* list_entry(ListHead* node) {
  const auto offset = reinterpret_cast<std::size_t>(&(static_cast<T*>(nullptr)->*Member));
  return reinterpret_cast<T*>(reinterpret_cast<char*>(node) - offset);
}

}  // namespace iostack::core
