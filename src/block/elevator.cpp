// The elevator's shared state: last_merge, the request hash and attributes.
#include "block/elevator.hpp"

#include "block/blk_mq_internal.hpp"
#include "block/merge.hpp"

namespace iostack::block {
namespace {

// hash_64 of the golden-ratio kind, as include/linux/hash.h spreads keys.
unsigned hash_sector(sector_t key, unsigned bits) {
  return static_cast<unsigned>((key * 0x61C8864680B583EBull) >> (64 - bits));
}

sector_t rq_hash_key(const Request* rq) { return blk_rq_end_sector(rq); }

}  // namespace

Elevator::Elevator(RequestQueue* q) : q_(q) {}

int Elevator::attr_show(const std::string&, std::string*) const { return -ENOENT; }
int Elevator::attr_store(const std::string&, const std::string&) { return -ENOENT; }

void Elevator::rqhash_add(Request* rq) {
  rq->hash.add_head(&hash_[hash_sector(rq_hash_key(rq), kHashBits)]);
  rq->rq_flags |= RQF_HASHED;
}

void Elevator::rqhash_del(Request* rq) {
  if (!(rq->rq_flags & RQF_HASHED)) return;
  rq->hash.del();
  rq->rq_flags &= ~RQF_HASHED;
}

void Elevator::rqhash_reposition(Request* rq) {
  rqhash_del(rq);
  rqhash_add(rq);
}

Request* Elevator::rqhash_find(sector_t offset) {
  core::ListHead* bucket = &hash_[hash_sector(offset, kHashBits)];
  for (core::ListHead* n = bucket->first(); n != bucket;) {
    Request* rq = core::list_entry<Request, &Request::hash>(n);
    n = n->next;
    if (!rq_mergeable(rq)) {
      rqhash_del(rq);
      continue;
    }
    if (rq_hash_key(rq) == offset) return rq;
  }
  return nullptr;
}

unsigned Elevator::dispatch_batch(HwCtx* hctx, core::ListHead* out, unsigned max, bool* held_back) {
  return elv_dispatch_batch(
      out, max, held_back, [&] { return has_work(hctx); }, [&] { return dispatch_request(hctx); });
}

unsigned Elevator::insert_and_dispatch(HwCtx* hctx, core::ListHead* list, unsigned flags,
                                       core::ListHead* out, unsigned max, bool* held_back) {
  insert_requests(hctx, list, flags);
  return dispatch_batch(hctx, out, max, held_back);
}

void elv_request_removed(Elevator* e, Request* rq) {
  e->rqhash_del(rq);
  if (e->last_merge == rq) e->last_merge = nullptr;
}

}  // namespace iostack::block
