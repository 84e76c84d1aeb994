// Request chains (io_req_find_next, io_disarm_next, io_fail_links in
// io_uring/io_uring.c and timeout.c): what happens to the rest of a chain
// when one of its requests completes.
#include <cerrno>

#include "uring/engine.hpp"

namespace iostack::uring {

namespace {

// io_req_tw_fail_links: completes what is left of a broken chain, in order.
void tw_fail_links(IoKiocb* link) {
  while (link) {
    IoKiocb* nxt = link->link;
    int res = -ECANCELED;
    if (link->flags & kReqFail) res = link->res;
    link->link = nullptr;
    req_set_res(link, res, 0);
    req_complete_defer(link);
    link = nxt;
  }
}

void fail_links(IoKiocb* req) {
  IoKiocb* link = req->link;
  if (!link) return;
  const bool ignore_cqes = req->flags & kReqSkipLinkCqes;
  for (IoKiocb* l = link; l; l = l->link) {
    if (ignore_cqes)
      l->flags |= kReqCqeSkip;
    else
      l->flags &= ~kReqCqeSkip;
  }
  req->link = nullptr;
  tw_add(link, tw_fail_links);
}

void disarm_next(IoKiocb* req) {
  if (req->flags & kReqArmLtimeout) {
    // Never issued, so its linked timeout was never armed.
    IoKiocb* lt = req->link;
    req->flags &= ~kReqArmLtimeout;
    if (lt && lt->opcode == IORING_OP_LINK_TIMEOUT) {
      req->link = lt->link;
      lt->link = nullptr;
      req_queue_tw_complete(lt, -ECANCELED);
    }
  } else if (req->flags & kReqLinkTimeout) {
    IoKiocb* lt = disarm_linked_timeout(req);
    if (lt) timeout_finish_cancelled(lt, -ECANCELED);
  }
  if ((req->flags & kReqFail) && !(req->flags & kReqHardlink)) fail_links(req);
}

}  // namespace

IoKiocb* req_find_next(IoKiocb* req, bool /*locked*/) {
  if (req->flags & (kReqArmLtimeout | kReqLinkTimeout | kReqFail)) disarm_next(req);
  IoKiocb* nxt = req->link;
  req->link = nullptr;
  return nxt;
}

}  // namespace iostack::uring
