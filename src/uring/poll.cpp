// Polling (io_uring/poll.c): POLL_ADD, POLL_REMOVE and the internal poll
// that parks a read or write on a pipe or socket until it can make progress
// (FEAT_FAST_POLL). The kernel hooks a wait queue of the file; here one
// service thread owns an epoll instance in which every armed poll registers
// a private dup of its descriptor.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <thread>
#include <utility>
#include <vector>

#include "core/epoll_drain.hpp"
#include "core/eventfd_info.hpp"
#include "core/fd_high.hpp"
#include "core/internal_thread.hpp"
#include "core/mutex.hpp"
#include "core/process.hpp"
#include "uring/engine.hpp"
#include "uring/io_wq.hpp"
#include "uring/tw_internal.hpp"

namespace iostack::uring {

namespace {

// The request whose IoKiocb::poll `pe` is (the lists hold the entries).
IoKiocb* req_of(PollEntry* pe) {
  // IoKiocb is not standard-layout: offsetof does not apply.
  static const std::size_t off = [] {
    IoKiocb probe;
    return static_cast<std::size_t>(reinterpret_cast<char*>(&probe.poll) -
                                    reinterpret_cast<char*>(&probe));
  }();
  return reinterpret_cast<IoKiocb*>(reinterpret_cast<char*>(pe) - off);
}

}  // namespace

PollLock poll_lock;

namespace {

// kPollParked: a multishot request's internal poll that fired; its
// registration (disarmed by EPOLLONESHOT) and descriptor stay for the next
// arming, which then costs one EPOLL_CTL_MOD.
enum PollState : int { kPollIdle = 0, kPollArmed = 1, kPollDone = 2, kPollParked = 3 };

// EPOLLERR | EPOLLHUP | EPOLLNVAL | EPOLLRDHUP: reported whether asked or not.
constexpr std::uint32_t kPollUnmask = EPOLLERR | EPOLLHUP | POLLNVAL | EPOLLRDHUP;

// The events a writer's wakeup does not carry: a reader's wakes its writers
// with them (pipe_read, eventfd_read), a writer's its readers without.
constexpr std::uint32_t kPollOutGroup = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

// Whether a poll registers its output events apart (PollEntry::dup_fd2).
bool poll_split(const PollEntry& pe) {
  return pe.multishot && !pe.apoll && !pe.on_ring && (pe.events & kPollOutGroup) &&
         (pe.events & ~(kPollOutGroup | EPOLLERR | EPOLLHUP));
}

// What registration `which` (0: dup_fd, 1: dup_fd2) asks epoll for.
std::uint32_t reg_events(const PollEntry& pe, int which) {
  std::uint32_t ev = pe.events & ~static_cast<std::uint32_t>(EPOLLONESHOT | EPOLLET);
  if (poll_split(pe))
    ev = which == 0 ? ev & ~kPollOutGroup : (ev & kPollOutGroup) | EPOLLERR | EPOLLHUP;
  return ev | (pe.multishot ? EPOLLET : EPOLLONESHOT);
}

class PollService;

// An internal poll's retry, queued by its wakeup.
void tw_apoll_retry(IoKiocb* req);
void tw_mshot_retry(IoKiocb* req);  // the same for a multishot request
// A woken one-shot POLL_ADD's completion.
void tw_poll_woken(IoKiocb* req);

// Holds PollService::mu; the analysis sees poll_lock taken.
class SCOPED_CAPABILITY PollGuard {
 public:
  explicit PollGuard(PollService& ps) ACQUIRE(poll_lock);
  ~PollGuard() RELEASE();

 private:
  core::Mutex& mu_;
};

class PollService {
 public:
  // One per process; never destroyed: its thread outlives statics.
  static PollService& get() { return core::Process::current().state<PollService>(); }
  // Null until something was armed: then nothing can be found either.
  static PollService* find() { return core::Process::current().find_state<PollService>(); }

  PollService() {
    epfd_ = core::move_high(epoll_create1(EPOLL_CLOEXEC));
    core::start_internal_thread(core::ThreadKind::kPoll, [this] { run(); }).detach();
  }

  core::Mutex mu;
  // Armed polls of ring descriptors or rings' eventfds (PollEntry::on_ring).
  std::atomic<int> ring_polls{0};
  // Entries registered with epoll (armed or parked), of every ring.
  std::atomic<int> registered{0};

  // Registers `req`'s poll entry; false (and nothing registered) on failure.
  // `ready`: what the file reported just before (a multishot poll's arming
  // posts that itself, so epoll's first event for it is no wakeup).
  bool add(IoKiocb* req, std::uint32_t ready = 0) {
    PollEntry& pe = req->poll;
    PollGuard lock(*this);
    // A worker arming its request's poll after a cancel found the request
    // running: that cancel has looked at the armed polls already (under mu)
    // and would leave this one armed; the worker ends the request instead.
    if (IoWq::cancelled_running(&req->work)) return false;
    pe.gen = ++next_gen_;
    pe.skip_initial = 0;
    pe.evfd_signals_seen = req->ctx->evfd_signals.load(std::memory_order_seq_cst);
    if (!add_reg(req, 0)) return false;
    if (poll_split(pe) && !add_reg(req, 1)) {
      // The caller closes dup_fd.
      epoll_ctl(epfd_, EPOLL_CTL_DEL, pe.dup_fd, nullptr);
      table_[static_cast<std::size_t>(pe.dup_fd)] = nullptr;
      return false;
    }
    // (A ring's readiness is not its descriptor's in epoll: no such event.)
    if (ready && pe.multishot && !pe.on_ring) {
      for (int which = 0; which < 2; ++which)
        if ((which == 0 || pe.dup_fd2 >= 0) && (ready & reg_events(pe, which)))
          pe.skip_initial |= static_cast<std::uint8_t>(1u << which);
      // Read after the registrations: the next dispatch to start collects
      // their first events.
      pe.skip_epoch = epoch_.load(std::memory_order_seq_cst);
      pe.skip_reader_wakes = req->ctx->reader_wakes.load(std::memory_order_seq_cst);
      pe.skip_writer_wakes = req->ctx->writer_wakes.load(std::memory_order_seq_cst);
      if (pe.skip_initial) skip_until_.store(pe.skip_epoch + 1, std::memory_order_seq_cst);
    }
    pe.state.store(kPollArmed, std::memory_order_relaxed);
    count_armed(req, 1);
    if (pe.ring_self) req->ctx->self_polls.fetch_add(1, std::memory_order_seq_cst);
    if (pe.on_ring) ring_polls.fetch_add(1, std::memory_order_relaxed);
    pe.node.add_tail(&req->ctx->poll_list);
    // Newest first in its bucket, as io_poll_req_insert hashes it.
    if (!pe.apoll) pe.hash.add_head(bucket(req->ctx, req->user_data));
    return true;
  }

  // Arms `req` without an epoll registration: cancels and POLL_REMOVE find
  // it, no wakeup comes (until poll_activate_run arms it again).
  void add_unregistered(IoKiocb* req) {
    PollEntry& pe = req->poll;
    PollGuard lock(*this);
    pe.gen = ++next_gen_;
    pe.skip_initial = 0;
    pe.state.store(kPollArmed, std::memory_order_relaxed);
    count_armed(req, 1);
    pe.node.add_tail(&req->ctx->poll_list);
    if (!pe.apoll) pe.hash.add_head(bucket(req->ctx, req->user_data));
  }

  // The first armed poll of `ctx` that `cd` matches (io_poll_find for
  // cancels; `poll_only` skips internal polls).
  IoKiocb* find_armed(IoRingCtx* ctx, CancelMatch* cd, bool poll_only) REQUIRES(poll_lock);

  // io_poll_find: POLL_REMOVE's target by user_data, without walking every
  // armed poll of the ring.
  IoKiocb* find_by_data(IoRingCtx* ctx, std::uint64_t user_data) REQUIRES(poll_lock) {
    core::ListHead* b = bucket(ctx, user_data);
    for (core::ListHead* n = b->first(); n != b; n = n->next) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::hash>(n);
      IoKiocb* req = req_of(pe);
      if (req->ctx == ctx && req->user_data == user_data) return req;
    }
    return nullptr;
  }

  // The target of an update changes its user_data: it moves bucket.
  void rehash(IoKiocb* req) REQUIRES(poll_lock) {
    req->poll.hash.del();
    req->poll.hash.add_head(bucket(req->ctx, req->user_data));
  }

  // Registration `which` of `req` (a dup of its descriptor), in the table.
  bool add_reg(IoKiocb* req, int which) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    int& fd = which == 0 ? pe.dup_fd : pe.dup_fd2;
    if (which == 1) {
      fd = core::dup_high(pe.dup_fd);
      if (fd < 0) return false;
    }
    struct epoll_event ev {};
    ev.events = reg_events(pe, which);
    ev.data.u64 = tag(pe.gen, fd);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      if (which == 1) {
        close(fd);
        fd = -1;
      }
      return false;
    }
    if (static_cast<std::size_t>(fd) >= table_.size())
      table_.resize(static_cast<std::size_t>(fd) + 1, nullptr);
    table_[static_cast<std::size_t>(fd)] = req;
    return true;
  }

  // Unregisters and closes a registration's descriptor.
  void del_reg(int& fd) REQUIRES(poll_lock) {
    if (fd < 0) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    table_[static_cast<std::size_t>(fd)] = nullptr;
    close(fd);
    fd = -1;
  }

  // Whether a request that wakes what `events` waits for (readers for
  // POLLIN, writers for POLLOUT) was issued on req's ring since it armed.
  static bool woken_since_arming(IoKiocb* req, std::uint32_t events) REQUIRES(poll_lock) {
    const PollEntry& pe = req->poll;
    const IoRingCtx* ctx = req->ctx;
    const bool readers = events & ~(kPollOutGroup | EPOLLERR | EPOLLHUP | EPOLLET | EPOLLONESHOT);
    return (readers && ctx->reader_wakes.load(std::memory_order_seq_cst) != pe.skip_reader_wakes) ||
           ((events & kPollOutGroup) &&
            ctx->writer_wakes.load(std::memory_order_seq_cst) != pe.skip_writer_wakes);
  }

  // Whether a registration armed ready still has its first event in epoll:
  // then the submitter collects it before returning (catch_up), where the
  // kernel's arming would not leave a wakeup behind to merge with the next.
  bool initial_pending() const {
    return skip_until_.load(std::memory_order_seq_cst) > epoch_.load(std::memory_order_seq_cst);
  }

  // Takes an armed entry out.
  void remove(IoKiocb* req) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    del_reg(pe.dup_fd);
    del_reg(pe.dup_fd2);
    drop_self(req);
    pe.node.del();
    if (pe.hash.linked()) pe.hash.del();
    pe.state.store(kPollDone, std::memory_order_relaxed);
    count_armed(req, -1);
  }

  static void drop_self(IoKiocb* req) {
    if (req->poll.on_ring) {
      req->poll.on_ring = false;
      get().ring_polls.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!req->poll.ring_self) return;
    req->poll.ring_self = false;
    req->ctx->self_polls.fetch_sub(1, std::memory_order_seq_cst);
  }

  static void count_armed(IoKiocb* req, int d) {
    get().registered.fetch_add(d, std::memory_order_relaxed);
    if (req->poll.apoll) return;
    (req->poll.multishot ? req->ctx->mshot_polls : req->ctx->oneshot_polls)
        .fetch_add(d, std::memory_order_relaxed);
  }

  // poll_sweep_oneshot: the ring's armed one-shot POLL_ADDs whose
  // descriptor is ready are taken out into `done`, with their masks.
  void take_ready_oneshots(IoRingCtx* ctx, std::vector<std::pair<IoKiocb*, std::uint32_t>>* done)
      REQUIRES(poll_lock) {
    std::vector<struct pollfd> fds;
    std::vector<IoKiocb*> reqs;
    for (core::ListHead* n = ctx->poll_list.first(); n != &ctx->poll_list; n = n->next) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
      IoKiocb* req = req_of(pe);
      if (pe->apoll || pe->multishot) continue;
      fds.push_back({pe->dup_fd, static_cast<short>(pe->events & 0xffff), 0});
      reqs.push_back(req);
    }
    if (fds.empty() || ::poll(fds.data(), fds.size(), 0) <= 0) return;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      IoKiocb* req = reqs[i];
      const std::uint32_t mask =
          static_cast<std::uint16_t>(fds[i].revents) & (req->poll.events | kPollUnmask);
      remove(req);
      done->emplace_back(req, mask);
    }
  }

  // A fired internal poll of a multishot request leaves the ring's list
  // (it runs now, nothing may cancel it as armed) but keeps its descriptor.
  void park(IoKiocb* req) REQUIRES(poll_lock) {
    req->poll.node.del();
    req->poll.state.store(kPollParked, std::memory_order_relaxed);
  }

  bool rearm_parked(IoKiocb* req) {
    PollGuard lock(*this);
    PollEntry& pe = req->poll;
    if (pe.state.load(std::memory_order_relaxed) != kPollParked) return false;
    pe.state.store(kPollArmed, std::memory_order_relaxed);
    pe.node.add_tail(&req->ctx->poll_list);
    rearm(req);
    return true;
  }

  // The request ends: its parked registration goes.
  void release_parked(IoKiocb* req) {
    PollGuard lock(*this);
    PollEntry& pe = req->poll;
    if (pe.state.load(std::memory_order_relaxed) != kPollParked) return;
    del_reg(pe.dup_fd);
    del_reg(pe.dup_fd2);
    drop_self(req);
    pe.state.store(kPollDone, std::memory_order_relaxed);
    count_armed(req, -1);
  }

  // For a uring_wake poll: whether this wakeup is an eventfd write of the
  // program's, not a CQE posting's (none since the poll last looked).
  static bool woken_by_program(IoKiocb* req) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    if (!pe.folds_own_wakes) return false;  // a ring's descriptor: only CQEs wake it
    const std::uint64_t now = req->ctx->evfd_signals.load(std::memory_order_seq_cst);
    if (now != pe.evfd_signals_seen) {
      pe.evfd_signals_seen = now;
      return false;
    }
    return true;
  }

  // io_poll_check_events for a multishot POLL_ADD: its CQE carries
  // IORING_CQE_F_MORE only while the CQ ring has room (io_req_post_cqe);
  // otherwise the poll ends, its final CQE (without F_MORE) going to the
  // overflow list. False when it ended (taken out, completion up to the caller).
  bool post_mshot(IoKiocb* req, std::uint32_t mask) REQUIRES(poll_lock) {
    if (req->poll.multishot && !(mask & (EPOLLERR | EPOLLHUP)) &&
        try_post_cqe(req->ctx, req->user_data, static_cast<int>(mask), IORING_CQE_F_MORE))
      return true;
    remove(req);
    return false;
  }

  // __io_poll_execute: the event is handled by task work holding a request
  // reference, with the wakeup's mask; one is queued at a time, and when
  // more wakeups fold into it, it asks the descriptor instead (poll_refs).
  void queue_mshot(IoKiocb* req, std::uint32_t mask, bool at_arm = false) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    if (pe.tw_queued.load(std::memory_order_relaxed)) {
      pe.tw_wakeups++;
      pe.tw_at_arm |= at_arm;
      return;
    }
    pe.tw_queued.store(true, std::memory_order_relaxed);
    pe.tw_at_arm = at_arm;
    pe.tw_mask = mask;
    pe.tw_wakeups = 1;
    const unsigned slot = fd_wake_slot(req);
    pe.tw_reader_wakes = req->ctx->fd_reader_wakes[slot].load(std::memory_order_seq_cst);
    pe.tw_writer_wakes = req->ctx->fd_writer_wakes[slot].load(std::memory_order_seq_cst);
    req->refs.fetch_add(1, std::memory_order_relaxed);
    pe.tw.fn = mshot_tw;
    pe.tw.req = req;
    // mu is held: the task work cannot finish the request before it is queued.
    tw_add_node(req->ctx, &pe.tw);
  }

  void rearm(IoKiocb* req) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    pe.skip_initial = 0;
    struct epoll_event ev {};
    ev.events = reg_events(pe, 0);
    ev.data.u64 = tag(pe.gen, pe.dup_fd);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, pe.dup_fd, &ev);
    // New events may split or join the registrations.
    if (!poll_split(pe)) {
      del_reg(pe.dup_fd2);
    } else if (pe.dup_fd2 < 0) {
      add_reg(req, 1);
    } else {
      ev.events = reg_events(pe, 1);
      ev.data.u64 = tag(pe.gen, pe.dup_fd2);
      epoll_ctl(epfd_, EPOLL_CTL_MOD, pe.dup_fd2, &ev);
    }
  }

  // The kernel handles a wakeup inside the write that caused it. Here the
  // poll thread sees it a moment later, so a submitter about to run its
  // task work first handles what epoll has collected: every wakeup that
  // happened before its wait. Events are only taken out of epoll under
  // dispatch_mu, so none is in flight on the poll thread meanwhile.
  void catch_up() {
    core::LockGuard lock(dispatch_mu_);
    dispatch();
  }

  // Waits for the dispatch under way, if any: the task work its wakeups
  // queue runs only once every wakeup of its batch has been handled.
  void settle() { core::LockGuard lock(dispatch_mu_); }

  // catch_up after a send or write: a wakeup the poll thread took out just before
  // (its entry no longer counted) is finished once dispatch_mu is ours, so
  // the count is looked at only then.
  void catch_up_after_send() {
    core::LockGuard lock(dispatch_mu_);
    if (registered.load(std::memory_order_relaxed) > 0 || initial_pending()) dispatch();
  }

  // take_ready_oneshots, once a wakeup the poll thread is handling has been
  // posted: a poll it took out is complete before the wait looks.
  void sweep(IoRingCtx* ctx, std::vector<std::pair<IoKiocb*, std::uint32_t>>* done) {
    core::LockGuard d(dispatch_mu_);
    PollGuard lock(*this);
    take_ready_oneshots(ctx, done);
  }

 private:
  // io_poll_task_func for a multishot POLL_ADD (uring_lock held): ask the
  // descriptor now and post what it reports.
  static void mshot_tw(IoKiocb* req) {
    IoRingCtx* ctx = req->ctx;
    core::lockdep_assert_held(ctx->uring_lock);
    // Completions batched before this CQE go first (io_req_post_cqe).
    const bool flush_posts = posts_a_cqe(ctx->st.compl_first);
    if (ctx->st.compl_first) flush_completions(ctx);
    PollService& ps = get();
    std::uint32_t mask = 0;
    bool ended = false, woken_later = false;
    // A ring's readiness is io_uring_poll's, not its descriptor's.
    int ring_now = -1;
    if (req->poll.uring_wake) {
      core::FileRef f = ring_file_get(req->os_fd);
      if (IoRingCtx* rctx = req->poll.ring_self ? ctx : ring_of(f))
        ring_now = static_cast<int>(ring_poll_mask(rctx));
    }
    {
      PollGuard lock(ps);
      PollEntry& pe = req->poll;
      pe.tw_queued.store(false, std::memory_order_relaxed);
      if (pe.state.load(std::memory_order_relaxed) == kPollArmed && !pe.apoll) {
        // One wakeup: its mask (io_poll_wake's key); several: what the
        // descriptor says now. Wakeups before this point were collected
        // (catch_up runs before task work), so none is folded in late.
        mask = pe.tw_wakeups > 1 || ps.folded_unseen(req) ? 0 : pe.tw_mask;
        if (!mask) {
          const int now = ring_now >= 0 ? ring_now : poll_now(pe.dup_fd, pe.events);
          if (now > 0) mask = static_cast<std::uint32_t>(now) & (pe.events | kPollUnmask);
        }
        if (mask) ended = !ps.post_mshot(req, mask);
        if (mask && !ended && flush_posts && pe.ring_self && ring_now >= 0) {
          // Those CQEs woke this poll of their ring while its task work
          // owned it: that wakeup only took a reference, so the task work
          // asks the ring again and posts once more (fuzz seed 491106).
          const std::uint32_t again =
              static_cast<std::uint32_t>(ring_now) & (pe.events | kPollUnmask);
          if (again) ended = !ps.post_mshot(req, again);
        }
        if (mask && !ended && pe.uring_wake && (pe.events & EPOLLIN)) {
          // Its own CQE wakes it (EPOLLIN | EPOLL_URING_WAKE), which makes
          // it one-shot: it ends with that key's EPOLLIN. The wakeup comes
          // when the batch's CQEs are flushed: after the rest of the batch,
          // which may cancel it (a zero LINK_TIMEOUT's: fuzz seed 683949).
          ps.remove(req);
          if (ctx->tw_batch_more.load(std::memory_order_relaxed)) {
            park_woken(req, EPOLLIN);
            woken_later = true;
          } else {
            mask = EPOLLIN;
            ended = true;
          }
        }
      }
    }
    if (woken_later) tw_add(req, tw_poll_woken);
    if (ended) {
      req_set_res(req, static_cast<int>(mask), 0);
      req_complete_defer(req);
    }
    req_put(req, true);
  }

  // Whether a request of the ring that ran before this task work (a READ of
  // the eventfd retried by task work queued ahead) woke the poll while the
  // task work was queued, its epoll event not handled yet: the kernel's
  // wakeup only took a reference, so the task work asks the file, and that
  // event is skipped (fuzz seed 816763). The registrations it reached are
  // the ones with events of its kind.
  bool folded_unseen(IoKiocb* req) REQUIRES(poll_lock) {
    PollEntry& pe = req->poll;
    if (!pe.folds_own_wakes) return false;
    const IoRingCtx* ctx = req->ctx;
    const unsigned slot = fd_wake_slot(req);
    std::uint32_t woken = 0;
    if (ctx->fd_reader_wakes[slot].load(std::memory_order_seq_cst) != pe.tw_reader_wakes)
      woken |= pe.events & ~(kPollOutGroup | kPollUnmask);
    if (ctx->fd_writer_wakes[slot].load(std::memory_order_seq_cst) != pe.tw_writer_wakes)
      woken |= pe.events & kPollOutGroup;
    if (!woken) return false;
    for (int which = 0; which < 2; ++which)
      if ((which == 0 || pe.dup_fd2 >= 0) && (woken & reg_events(pe, which)))
        pe.skip_initial |= static_cast<std::uint8_t>(1u << which);
    pe.skip_epoch = epoch_.load(std::memory_order_seq_cst);
    skip_until_.store(pe.skip_epoch + 1, std::memory_order_seq_cst);
    return true;
  }

  // Whether completing the batched requests from `first` on posts a CQE.
  static bool posts_a_cqe(const IoKiocb* first) {
    for (const IoKiocb* r = first; r; r = r->comp_next)
      if (!(r->flags & kReqCqeSkip)) return true;
    return false;
  }

  void run() {
    for (;;) {
      core::wait_epoll_ready(epfd_);  // events are taken under dispatch_mu
      core::LockGuard lock(dispatch_mu_);
      dispatch();
    }
  }

  // A poll armed ready meanwhile (by a retry's task work) has its first
  // event taken before the dispatch ends, not merged with a later wakeup.
  void dispatch() REQUIRES(dispatch_mu_) {
    do {
      epoch_.fetch_add(1, std::memory_order_seq_cst);
      core::drain_epoll(epfd_, [this](const epoll_event& ev) { handle(ev.data.u64, ev.events); });
    } while (initial_pending());
  }

  // The epoll data of an entry: its descriptor and arming generation, so an
  // event of a registration since replaced under the same number is ignored.
  static std::uint64_t tag(std::uint32_t gen, int fd) {
    return (std::uint64_t{gen} << 32) | static_cast<std::uint32_t>(fd);
  }

  void handle(std::uint64_t data, std::uint32_t events) {
    const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
    IoKiocb* req;
    std::uint32_t mask;
    bool woken = false;  // a POLL_ADD completed by tw_poll_woken
    // An internal poll's: read and changed under the lock, where a cancel
    // of the woken request (cancel_woken) sets its flags.
    bool mshot = false, here = false;
    {
      PollGuard lock(*this);
      if (fd < 0 || static_cast<std::size_t>(fd) >= table_.size()) return;
      req = table_[static_cast<std::size_t>(fd)];
      if (!req || req->poll.state.load(std::memory_order_relaxed) != kPollArmed) return;
      if (req->poll.gen != static_cast<std::uint32_t>(data >> 32)) return;
      if (req->poll.apoll) {
        // Only a retry follows, as from the kernel's wakeup, and a stale
        // event makes it find -EAGAIN and poll again: no need to ask the
        // descriptor (which may be drained again by then: a ring's CQE reaped).
        mshot = req->flags & kReqApollMultishot;
        // Behind task work already queued (a past LINK_TIMEOUT's, which
        // cancels it: fuzz seed 617310) the retry is task work too.
        here = retried_here(req) && !tw_pending(req->ctx);
        req->flags &= ~kReqPolled;
        if (mshot)
          park(req);
        else
          remove(req);
        // io_apoll_task_func takes it out of the hash table only when it
        // runs: until then a cancel finds it (fuzz seed 232265), a
        // multishot one too (seed 277905: a READ_MULTISHOT of a
        // DEFER_TASKRUN ring's own descriptor, woken by a CQE, retried
        // only when the program waits).
        if (!here) {
          req->poll.woken_cancelled = false;
          req->poll.node.add_tail(&req->ctx->poll_woken);
        }
        mask = 0;
        goto fired;
      }
      if (req->poll.multishot && !req->poll.apoll) {
        PollEntry& pe = req->poll;
        const std::uint8_t reg = fd == pe.dup_fd ? 1 : 2;
        if (pe.skip_initial & reg) {
          pe.skip_initial &= static_cast<std::uint8_t>(~reg);
          // The arming's readiness, posted by its own task work. When a
          // request whose wakeup this registration takes (a READ of the
          // eventfd, for POLLOUT) was issued since, while that task work is
          // queued, the event may hold that wakeup: it folds in, and the
          // task work asks the file (io_poll_check_events).
          if (epoch_.load(std::memory_order_relaxed) <= pe.skip_epoch + 1 &&
              !(pe.tw_queued.load(std::memory_order_relaxed) && pe.tw_at_arm &&
                woken_since_arming(req, reg_events(pe, reg - 1))))
            return;
        }
        // io_poll_wake: the wakeup's mask is what a multishot poll posts;
        // its registration tells whether a reader or a writer woke it.
        mask = events & (pe.events | kPollUnmask);
        if (!mask) return;
        if ((mask & (EPOLLERR | EPOLLHUP)) && pe.dup_fd2 >= 0) {
          // A hangup wakes without a key: the kernel asks the file.
          const int now = poll_now(pe.dup_fd, pe.events);
          if (now > 0) mask |= static_cast<std::uint32_t>(now) & (pe.events | kPollUnmask);
        }
        // A ring's CQE posted while the arming's task work is queued only
        // takes a reference (io_poll_get_ownership fails): that task work
        // asks the ring again and goes on multishot.
        if (req->poll.uring_wake && !(mask & (EPOLLERR | EPOLLHUP)) &&
            pe.tw_queued.load(std::memory_order_relaxed)) {
          pe.tw_wakeups++;
          return;
        }
        // io_poll_wake: a wakeup from the ring's own CQE posting
        // (EPOLL_URING_WAKE) turns it one-shot, or each CQE would wake it.
        // The program's own write of the ring's eventfd is an ordinary one.
        if ((mask & (EPOLLERR | EPOLLHUP)) || (pe.uring_wake && !woken_by_program(req))) {
          remove(req);
          woken = behind_task_work(req, mask);  // fuzz seed 481897, as 53897 below
          goto fired;
        }
        // A DEFER_TASKRUN ring posts from its submitter's task work; so does
        // any ring whose task work for this poll is queued already, or with
        // task work queued ahead of it (a READ of the same eventfd woken
        // first, as the wait queue's newest waiter: fuzz seed 816763).
        if ((req->ctx->flags & IORING_SETUP_DEFER_TASKRUN) ||
            req->poll.tw_queued.load(std::memory_order_relaxed) || tw_ahead(req->ctx)) {
          queue_mshot(req, mask);
          return;
        }
        if (!post_mshot(req, mask)) goto fired;
        // When that CQE signalled the ring's eventfd, the signal's wakeup
        // ends the poll with a last EPOLLIN, as mshot_tw's does.
        if (!pe.uring_wake || !(pe.events & EPOLLIN) || woken_by_program(req)) return;
        mask = EPOLLIN;
        remove(req);
        woken = behind_task_work(req, mask);
        goto fired;
      }
      // The event is from epoll's view when it was collected: ask again.
      struct pollfd pfd {
        fd, static_cast<short>(req->poll.events & 0xffff), 0
      };
      if (::poll(&pfd, 1, 0) <= 0 || !pfd.revents) {
        if (!req->poll.multishot) rearm(req);
        return;
      }
      mask = static_cast<std::uint16_t>(pfd.revents) & (req->poll.events | kPollUnmask);
      remove(req);
      woken = behind_task_work(req, mask);
    }
  fired:
    if (woken) {
      IoRingCtx* ctx = req->ctx;
      ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
      tw_add(req, tw_poll_woken);
      ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    if (req->poll.apoll) {
      if (here) {
        retry_here(req);
        return;
      }
      // Once queued, the request may run, complete and its ring be closed
      // before tw_add returns (it still wakes the ring): teardown waits for
      // `recycling` to drop.
      IoRingCtx* ctx = req->ctx;
      ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
      {
        // The wakeup of the ring's own eventfd (its CQEs signal it).
        EventfdWakeScope scope((ctx->flags & IORING_SETUP_DEFER_TASKRUN) &&
                               is_ring_eventfd(ctx, req->os_fd));
        tw_add(req, mshot ? tw_mshot_retry : tw_apoll_retry);
      }
      ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    // As above: a DEFER_TASKRUN ring's completion is task work, which its
    // teardown may run and finish before the wakeup here returns.
    IoRingCtx* ctx = req->ctx;
    ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
    req_set_res(req, static_cast<int>(mask), 0);
    req_complete_post(req);
    ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
  }

  // io_poll_task_func posts an ending poll behind the task work queued
  // before its wakeup (a zero LINK_TIMEOUT's, which cancels it: fuzz seed
  // 53897); until then it waits on ctx->poll_woken, where a cancel finds it
  // as in the kernel's hash table. False when no task work is ahead (tw_ahead).
  static bool behind_task_work(IoKiocb* req, std::uint32_t mask) REQUIRES(poll_lock) {
    if (!tw_ahead(req->ctx)) return false;
    park_woken(req, mask);
    return true;
  }

  // A removed poll that ends with `mask` from tw_poll_woken, found by cancels meanwhile.
  static void park_woken(IoKiocb* req, std::uint32_t mask) REQUIRES(poll_lock) {
    req_set_res(req, static_cast<int>(mask), 0);
    req->poll.woken_cancelled = false;
    req->poll.node.add_tail(&req->ctx->poll_woken);
  }

  // A multishot request is retried by the poll's task work itself
  // (io_poll_issue), IOSQE_ASYNC or not; a one-shot one is resubmitted.
  // DEFER_TASKRUN rings run such work only when their task waits.
  static bool retried_here(IoKiocb* req) {
    const bool mshot = req->flags & kReqApollMultishot;
    return op_def(req->opcode)->poll_direct && (mshot || !(req->flags & kReqForceAsync)) &&
           !(req->ctx->flags & IORING_SETUP_DEFER_TASKRUN);
  }

  // A socket op or multishot READ whose file became ready is retried on
  // this thread (the poll thread, or a program's write catching up), as
  // the kernel retries it from the poll wakeup's task work: a hop through
  // the submitter's task work would cost two more wakeups per event.
  // It runs as task work would (uring_lock held, completions batched), so
  // buffer selection and posting behave the same.
  static void retry_here(IoKiocb* req) {
    IoRingCtx* ctx = req->ctx;
    // The request may complete and the ring be closed meanwhile: teardown
    // waits for `recycling` to drop before freeing the ring.
    ctx->recycling.fetch_add(1, std::memory_order_seq_cst);
    {
      core::LockGuard lock(ctx->uring_lock);
      RunningCtxScope scope(ctx);
      queue_sqe(req);
      flush_completions(ctx);
    }
    if (tw_pending(ctx)) tw_run(ctx);
    ctx->recycling.fetch_sub(1, std::memory_order_seq_cst);
  }

  static constexpr std::size_t kBuckets = 1u << 12;
  core::ListHead* bucket(const IoRingCtx* ctx, std::uint64_t user_data) {
    std::uint64_t h = user_data ^ (reinterpret_cast<std::uintptr_t>(ctx) >> 4);
    h *= 0x9e3779b97f4a7c15ull;
    return &buckets_[h >> (64 - 12)];
  }

  int epfd_ = -1;
  // Held while events are taken out of epoll and handled (lock order:
  // before mu and before any ring's uring_lock).
  core::Mutex dispatch_mu_;
  std::uint32_t next_gen_ GUARDED_BY(poll_lock) = 0;
  // Dispatches started (each takes what epoll has collected until then),
  // and the first one that finds every ready-armed registration's event.
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> skip_until_{0};
  std::vector<IoKiocb*> table_ GUARDED_BY(poll_lock);       // dup fd -> request
  core::ListHead buckets_[kBuckets] GUARDED_BY(poll_lock);  // armed POLL_ADDs by (ring, user_data)
};

PollGuard::PollGuard(PollService& ps) NO_THREAD_SAFETY_ANALYSIS : mu_(ps.mu) { mu_.lock(); }
PollGuard::~PollGuard() NO_THREAD_SAFETY_ANALYSIS { mu_.unlock(); }

bool arm(IoKiocb* req, std::uint32_t ready = 0) {
  PollEntry& pe = req->poll;
  // Only a poll the ring's CQE posting wakes (EPOLLIN, io_poll_wake's
  // event match) holds the ring's readiness for itself: one waiting for no
  // event, or for POLLOUT alone, would keep a reaped CQE's readiness for
  // every later poll of the ring (fuzz seeds 491901, 491902, 491968).
  const core::FileRef ring = ring_file_get(req->os_fd);
  IoRingCtx* rctx = ring_of(ring);
  pe.ring_self = (pe.events & EPOLLIN) && req->os_fd == req->ctx->fd && rctx == req->ctx;
  pe.on_ring = is_ring_fd(req->os_fd) || is_ring_eventfd(req->ctx, req->os_fd);
  // A ring's descriptor is readable for epoll until the ring looks at its
  // CQ again: a CQE the program reaped without entering must not wake the
  // poll being armed (a READ_MULTISHOT would then find no buffer).
  if (rctx) ring_poll_mask(rctx);
  pe.dup_fd = core::dup_high(req->os_fd);
  pe.dup_fd2 = -1;
  if (pe.dup_fd < 0) return false;
  if (!PollService::get().add(req, ready)) {
    close(pe.dup_fd);
    pe.dup_fd = -1;
    return false;
  }
  return true;
}

IoKiocb* PollService::find_armed(IoRingCtx* ctx, CancelMatch* cd, bool poll_only) {
  for (core::ListHead* n = ctx->poll_list.first(); n != &ctx->poll_list; n = n->next) {
    PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
    IoKiocb* req = req_of(pe);
    if (poll_only && pe->apoll) continue;
    // Not in the kernel's poll table: io-wq's cancel finds it (poll_signal_worker_waits).
    if (req->flags & kReqWorkerWait) continue;
    if (cancel_req_match(req, cd)) return req;
  }
  return nullptr;
}

}  // namespace

int poll_now(int fd, std::uint32_t events) {
  // A ring's readiness is io_uring_poll's: its descriptor's stays set after
  // the program reaped a CQE without entering (fuzz seed 680452).
  if (core::FileRef f = ring_file_get(fd); IoRingCtx* rctx = ring_of(f))
    return static_cast<int>(ring_poll_mask(rctx) & (events | POLLERR | POLLHUP));
  struct pollfd pfd {
    fd, static_cast<short>(events & 0xffff), 0
  };
  const int r = ::poll(&pfd, 1, 0);
  if (r < 0) return -errno;
  return r ? static_cast<std::uint16_t>(pfd.revents) : 0;
}

namespace {

// Whether a character device's driver has a poll method (/dev/null and
// /dev/zero have none, a tty has one). epoll refuses a file without one
// (EPERM); the answer belongs to the driver, so it is kept per device number.
class ChrdevPollCache {
 public:
  static ChrdevPollCache& get() { return core::Process::current().state<ChrdevPollCache>(); }

  bool can_poll(int fd, dev_t rdev) {
    core::LockGuard lock(mu_);
    for (const Entry& e : known_)
      if (e.rdev == rdev) return e.can_poll;
    if (probe_fd_ < 0) probe_fd_ = core::move_high(epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event ev {};
    const bool can = epoll_ctl(probe_fd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
    epoll_ctl(probe_fd_, EPOLL_CTL_DEL, fd, nullptr);
    known_.push_back({rdev, can});
    return can;
  }

 private:
  struct Entry {
    dev_t rdev;
    bool can_poll;
  };
  core::Mutex mu_;
  int probe_fd_ GUARDED_BY(mu_) = -1;
  std::vector<Entry> known_ GUARDED_BY(mu_);
};

}  // namespace

// Regular files, directories and block devices are always "ready" (poll
// tells nothing), and so is a character device without a poll method.
bool fd_can_poll(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  if (S_ISCHR(st.st_mode)) return ChrdevPollCache::get().can_poll(fd, st.st_rdev);
  return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISDIR(st.st_mode);
}

bool file_can_poll(IoKiocb* req) { return !req->bdev && fd_can_poll(req->os_fd); }

namespace {

// __io_arm_poll_handler: a one-shot poll whose file is ready when armed is
// not left armed, so no cancel finds it (fuzz seed 52102: a POLL_FIRST send
// on a writable socket, then a cancel of anything in the same batch). The
// submitter retries the request from task work; a worker (false) at once,
// without the poll. Once only: a retry that meets -EAGAIN again waits on the
// poll.
bool ready_at_arming(IoKiocb* req) {
  if (req->flags & (kReqApollMultishot | kReqApollReady)) return false;
  if (poll_now(req->os_fd, req->poll.events) <= 0) return false;
  req->flags |= kReqApollReady;
  if (!IoWq::current_is_worker()) tw_add(req, tw_req_submit);
  return true;
}

}  // namespace

bool arm_apoll(IoKiocb* req) {
  const IoOpDef* def = op_def(req->opcode);
  if (!def || !(def->pollin || def->pollout)) return false;
  if (req->flags & kReqNoApoll) return false;
  PollEntry& pe = req->poll;
  if (pe.dup_fd >= 0 && pe.state.load(std::memory_order_relaxed) == kPollParked) {
    req->flags |= kReqPolled;
    if (PollService::get().rearm_parked(req)) return true;
    req->flags &= ~kReqPolled;
  }
  if (!req->file_assigned || !file_can_poll(req)) return false;
  // The retry must find the file the request was issued on, whatever the
  // program closes meanwhile (a recv on a socket closed under it goes on).
  // (An op without a file waits on a descriptor of its own.)
  if (def->needs_file) hold_file(req);
  pe.events = (def->pollin ? EPOLLIN | EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM) | EPOLLERR | EPOLLHUP;
  // A read of its own DEFER_TASKRUN ring before that ring's poll wait queue
  // is activated: __io_arm_poll_handler asks the ring after the linked
  // timeout was started, and a zero one's pending task work makes the ring
  // readable (io_has_work). Then the request is not armed, a cancel does not
  // find it, and its retry is task work behind the timeout's (fuzz seed
  // 803591: the timeout ends -ENOENT).
  const bool wants_activation = std::exchange(pe.wants_activation, false);
  if (ready_at_arming(req)) return !IoWq::current_is_worker();
  if (wants_activation) {
    arm_apoll_awaiting_activation(req);
    return true;
  }
  pe.multishot = false;
  pe.apoll = true;
  req->flags |= kReqPolled;
  if (!arm(req)) {
    req->flags &= ~kReqPolled;
    return false;
  }
  return true;
}

namespace {

void add_poll_activation(IoRingCtx* ctx) {
  tw_add(&ctx->poll_activate_req, [](IoKiocb* r) { poll_activate_run(r->ctx); });
}

// io_activate_pollwq's task work, queued once until it runs. The kernel
// adds it to the submitter's task_work, which runs when the submitter's
// call returns: held until then when the submitter asked.
void queue_poll_activation(IoRingCtx* ctx) {
  if (ctx->poll_activation_pending.exchange(true, std::memory_order_relaxed)) return;
  if (ctx->submitter_tid.load(std::memory_order_relaxed) == core::current_tid())
    ctx->poll_activation_held.store(true, std::memory_order_relaxed);
  else
    add_poll_activation(ctx);
}

}  // namespace

void poll_activation_release(IoRingCtx* ctx) {
  if (ctx->poll_activation_held.load(std::memory_order_relaxed) &&
      ctx->submitter_tid.load(std::memory_order_relaxed) == core::current_tid() &&
      ctx->poll_activation_held.exchange(false, std::memory_order_relaxed))
    add_poll_activation(ctx);
}

void arm_apoll_awaiting_activation(IoKiocb* req) {
  PollEntry& pe = req->poll;
  const IoOpDef* def = op_def(req->opcode);
  pe.events = (def->pollin ? EPOLLIN | EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM) | EPOLLERR | EPOLLHUP;
  pe.multishot = false;
  pe.apoll = true;
  pe.dup_fd = -1;
  pe.dup_fd2 = -1;
  pe.awaiting_activation = true;
  pe.armed_in = req->ctx->submit_calls.load(std::memory_order_relaxed);
  req->flags |= kReqPolled;
  PollService::get().add_unregistered(req);
  queue_poll_activation(req->ctx);
}

bool arm_apoll_if_idle(IoKiocb* req) {
  const IoOpDef* def = op_def(req->opcode);
  const std::uint32_t want = (def && def->pollin ? POLLIN : POLLOUT) | POLLERR | POLLHUP;
  if (poll_now(req->os_fd, want) != 0) return false;
  return arm_apoll(req);
}

void apoll_release(IoKiocb* req) {
  if (req->poll.dup_fd < 0) return;
  if (PollService* ps = PollService::find()) ps->release_parked(req);
}

namespace {

// io_cancel_match_sequence: an ALL or ANY cancel matches a request once.
bool cancel_seq_matched(PollEntry& pe, const CancelMatch* cd) REQUIRES(poll_lock) {
  if (!(cd->flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY))) return false;
  if (pe.cancel_seq == cd->seq) return true;
  pe.cancel_seq = cd->seq;
  return false;
}

// A cancelled poll whose CQE is still to come: the kernel's io_poll_find
// finds it in the hash table, and its cancel answers 0 again, as the first
// one's task work has not run (fuzz seed 174663).
bool find_cancelled(IoRingCtx* ctx, CancelMatch* cd) REQUIRES(poll_lock) {
  for (core::ListHead* n = ctx->poll_cancelled.first(); n != &ctx->poll_cancelled; n = n->next) {
    PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
    IoKiocb* req = req_of(pe);
    if (req->opcode != uapi::kOpWaitid && cancel_req_match(req, cd) && !cancel_seq_matched(*pe, cd))
      return true;
  }
  return false;
}

// A POLL_ADD of `ctx` with `user_data` that was woken or cancelled and
// whose task work is still to run: the kernel's io_poll_find finds it in the
// hash table and io_poll_disarm cannot take it from that task work, so a
// POLL_REMOVE answers -EALREADY (fuzz seed 474380: after an ASYNC_CANCEL of
// it in the same batch).
bool owned_by_task_work(IoRingCtx* ctx, std::uint64_t user_data) REQUIRES(poll_lock) {
  for (core::ListHead* list : {&ctx->poll_cancelled, &ctx->poll_woken}) {
    for (core::ListHead* n = list->first(); n != list; n = n->next) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
      IoKiocb* req = req_of(pe);
      if (req->opcode == IORING_OP_POLL_ADD && req->user_data == user_data) return true;
    }
  }
  return false;
}

// The task work of a cancelled poll: off the ring's list, then its CQE.
void tw_poll_cancelled(IoKiocb* req) {
  if (PollService* ps = PollService::find()) {
    PollGuard lock(*ps);
    req->poll.node.del();
  }
  tw_req_cancel(req);
}

// A woken poll (internal, or a POLL_ADD) that `cd` matches: cancelled, it
// ends in the task work its wakeup queued, as io_poll_cancel_req leaves it
// to that task work, which then sees the cancel.
bool cancel_woken(IoRingCtx* ctx, CancelMatch* cd) REQUIRES(poll_lock) {
  for (core::ListHead* n = ctx->poll_woken.first(); n != &ctx->poll_woken; n = n->next) {
    PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
    IoKiocb* req = req_of(pe);
    if (!cancel_req_match(req, cd)) continue;
    pe->node.del();
    pe->node.add_tail(&ctx->poll_cancelled);  // later cancels answer 0 too
    pe->cancel_seq = cd->seq;
    pe->woken_cancelled = true;
    req_set_fail(req);
    req_set_res(req, -ECANCELED, 0);
    return true;
  }
  return false;
}

// Off ctx->poll_woken (or ctx->poll_cancelled): whether it was cancelled.
bool take_woken(IoKiocb* req) {
  PollService* ps = PollService::find();
  if (!ps) return false;
  PollGuard lock(*ps);
  req->poll.node.del();
  return std::exchange(req->poll.woken_cancelled, false);
}

void tw_apoll_retry(IoKiocb* req) {
  if (take_woken(req))
    tw_req_cancel(req);
  else
    tw_req_submit(req);
}

// A woken multishot request's retry: it goes on from its poll (parked).
void tw_mshot_retry(IoKiocb* req) {
  if (take_woken(req))
    tw_req_cancel(req);
  else
    tw_req_issue(req);
}

void tw_poll_woken(IoKiocb* req) {
  if (take_woken(req))
    tw_req_cancel(req);
  else
    req_complete_defer(req);
}

}  // namespace

int poll_cancel(IoRingCtx* ctx, CancelMatch* cd) {
  PollService* found = PollService::find();
  if (!found) return -ENOENT;
  PollService& ps = *found;
  IoKiocb* req;
  const bool waitid = [&] {
    PollGuard lock(ps);
    req = ps.find_armed(ctx, cd, false);
    if (!req) return false;
    ps.remove(req);
    req->poll.cancel_seq = cd->seq;
    return req->opcode == uapi::kOpWaitid;
  }();
  if (!req) {
    PollGuard lock(ps);
    return cancel_woken(ctx, cd) || find_cancelled(ctx, cd) ? 0 : -ENOENT;
  }
  req->flags &= ~kReqPolled;
  req_set_fail(req);
  req_set_res(req, -ECANCELED, 0);
  // io_waitid_cancel counts what it cancelled: the cancel reports 1. Its
  // wait queue entry goes at once, so no later cancel finds it.
  if (waitid) {
    tw_add(req, tw_req_cancel);
    return 1;
  }
  {
    PollGuard lock(ps);
    req->poll.node.add_tail(&ctx->poll_cancelled);
  }
  tw_add(req, tw_poll_cancelled);
  return 0;
}

void poll_catch_up(IoRingCtx* ctx) {
  PollService* found = PollService::find();
  if (!found) return;
  if (ctx->mshot_polls.load(std::memory_order_relaxed) ||
      found->ring_polls.load(std::memory_order_relaxed))
    found->catch_up();
}

void poll_settle(IoRingCtx* ctx) {
  if (!ctx->mshot_polls.load(std::memory_order_relaxed) || core::holds_locks()) return;
  if (PollService* found = PollService::find()) found->settle();
}

void poll_run_wakeups() {
  // Not from inside the engine (a write it makes with its locks held, or
  // on its own threads): the poll thread handles those wakeups.
  if (core::holds_locks() || core::on_internal_thread()) return;
  if (PollService* found = PollService::find()) {
    found->catch_up_after_send();
    tw_run_submitted();
  }
}

void poll_run_submit_wakeups() {
  // A caller inside the engine (the poll thread's own dispatch) leaves them
  // to the pass it is in.
  if (core::holds_locks()) return;
  if (PollService* found = PollService::find()) found->catch_up_after_send();
}

void poll_wq_wake_skipped(IoRingCtx* ctx) {
  PollService* found = PollService::find();
  if (found && found->ring_polls.load(std::memory_order_relaxed)) ring_ready_signal(ctx);
}

void poll_catch_up_rings() {
  PollService* found = PollService::find();
  if (found && (found->ring_polls.load(std::memory_order_relaxed) || found->initial_pending()))
    found->catch_up();
}

void poll_collect_initial() {
  // Not while dispatching (a retry's task work).
  if (core::holds_locks()) return;
  PollService* found = PollService::find();
  if (found && found->initial_pending()) found->catch_up();
}

bool poll_initial_pending() {
  PollService* found = PollService::find();
  return found && found->initial_pending();
}

void poll_sweep_oneshot(IoRingCtx* ctx) {
  // One poll() over every armed one-shot poll per wait: bounded, so that a
  // ring with thousands armed does not pay for it on each wait (there the
  // poll thread alone reports them).
  constexpr int kSweepMax = 128;
  const int n = ctx->oneshot_polls.load(std::memory_order_relaxed);
  if (n == 0 || n > kSweepMax) return;
  PollService* found = PollService::find();
  if (!found) return;
  std::vector<std::pair<IoKiocb*, std::uint32_t>> done;
  found->sweep(ctx, &done);
  for (auto& [req, mask] : done) {
    req_set_res(req, static_cast<int>(mask), 0);
    req_complete_post(req);
  }
}

void poll_remove_all(IoRingCtx* ctx) {
  PollService* found = PollService::find();
  if (!found) return;
  PollService& ps = *found;
  std::vector<IoKiocb*> dead;
  {
    PollGuard lock(ps);
    while (!ctx->poll_list.empty()) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(ctx->poll_list.first());
      IoKiocb* req = req_of(pe);
      ps.remove(req);
      dead.push_back(req);
    }
    // Woken ones end in the retry's task work queued already.
    CancelMatch any;
    any.ctx = ctx;
    any.flags = IORING_ASYNC_CANCEL_ANY;
    while (cancel_woken(ctx, &any)) {
    }
  }
  for (IoKiocb* req : dead) {
    req_set_fail(req);
    // A request the kernel's worker is blocked in is interrupted by the
    // signal io-wq's cancel sends: -ERESTARTSYS, which io_uring makes -EINTR.
    req_set_res(req, (req->flags & kReqWorkerWait) ? -EINTR : -ECANCELED, 0);
    req_complete_post(req);
  }
}

bool poll_signal_worker_waits(IoRingCtx* ctx, CancelMatch* cd, bool all) {
  PollService* found = PollService::find();
  if (!found) return false;
  PollService& ps = *found;
  std::vector<IoKiocb*> hit;
  {
    PollGuard lock(ps);
    for (core::ListHead* n = ctx->poll_list.first(); n != &ctx->poll_list; n = n->next) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
      IoKiocb* req = req_of(pe);
      if (!(req->flags & kReqWorkerWait) || !cancel_req_match(req, cd)) continue;
      hit.push_back(req);
      if (!all) break;
    }
    for (IoKiocb* req : hit) ps.remove(req);
  }
  for (IoKiocb* req : hit) {
    req->flags &= ~kReqPolled;
    req_set_fail(req);
    req_set_res(req, -EINTR, 0);
    tw_add(req, tw_req_cancel);
  }
  return !hit.empty();
}

void poll_activate_run(IoRingCtx* ctx) {
  ctx->poll_activation_pending.store(false, std::memory_order_relaxed);
  PollService& ps = PollService::get();
  std::vector<IoKiocb*> again;
  {
    PollGuard lock(ps);
    for (core::ListHead* n = ctx->poll_list.first(); n != &ctx->poll_list; n = n->next) {
      PollEntry* pe = core::list_entry<PollEntry, &PollEntry::node>(n);
      if (pe->awaiting_activation) again.push_back(req_of(pe));
    }
    for (IoKiocb* req : again) {
      req->poll.awaiting_activation = false;
      req->flags &= ~kReqPolled;
      ps.remove(req);
    }
  }
  for (IoKiocb* req : again) queue_sqe(req);  // armed again, or done if the ring is ready
}

int poll_add_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->off || sqe->addr) return -EINVAL;
  const unsigned flags = sqe->len;
  // IORING_POLL_ADD_LEVEL is an internal flag for POLL_ADD: refused.
  if (flags & ~IORING_POLL_ADD_MULTI) return -EINVAL;
  if ((flags & IORING_POLL_ADD_MULTI) && (req->flags & kReqCqeSkip)) return -EINVAL;
  PollEntry& pe = req->poll;
  pe.events = (sqe->poll32_events & 0xffff) | EPOLLERR | EPOLLHUP;
  // io_poll_parse_events: the program's own EPOLLONESHOT makes it one-shot.
  pe.multishot = (flags & IORING_POLL_ADD_MULTI) && !(sqe->poll32_events & EPOLLONESHOT);
  pe.apoll = false;
  pe.uring_wake = false;
  pe.folds_own_wakes = false;
  pe.awaiting_activation = false;
  pe.dup_fd = -1;
  pe.dup_fd2 = -1;
  pe.state.store(kPollIdle, std::memory_order_relaxed);
  return 0;
}

namespace {
bool is_path_only(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_PATH);
}
}  // namespace

int poll_add_issue(IoKiocb* req, unsigned) {
  PollEntry& pe = req->poll;
  const std::uint32_t want = pe.events | kPollUnmask;
  int now;
  bool ring = false, activating = false;
  if (core::FileRef f = ring_file_get(req->os_fd); IoRingCtx* rctx = ring_of(f)) {
    // A ring: what io_uring_poll reports (POLLOUT while the SQ ring has room).
    now = static_cast<int>(ring_poll_mask(rctx));
    ring = true;
    // The first poll of a DEFER_TASKRUN ring by itself starts the
    // activation of its poll wait queue; later ones before it ran wait for
    // it too (seed 19580: a second poll of the ring in the same batch).
    const bool first = !rctx->poll_activated.exchange(true, std::memory_order_relaxed);
    activating = rctx == req->ctx && (rctx->flags & IORING_SETUP_DEFER_TASKRUN) &&
                 (first || rctx->poll_activation_pending.load(std::memory_order_relaxed));
  } else {
    now = poll_now(req->os_fd, pe.events);
  }
  if (now < 0) {
    req_set_fail(req);
    req_set_res(req, now, 0);
    return kIouOk;
  }
  // An O_PATH file has no poll method (empty_fops): vfs_poll answers
  // DEFAULT_POLLMASK, where the host's poll() refuses the descriptor. Only
  // a registered slot holds one (fget refuses it), an OPENAT into a slot
  // with O_PATH (fuzz seed 186406).
  const bool path_only =
      (now & POLLNVAL) && (req->flags & kReqFixedFile) && is_path_only(req->os_fd);
  if (path_only) now = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
  if (now & POLLNVAL) {
    req_set_fail(req);
    req_set_res(req, -EBADF, 0);
    return kIouOk;
  }
  const std::uint32_t mask = static_cast<std::uint32_t>(now) & want;
  if (path_only || !file_can_poll(req)) {
    // No wait queue to hook (regular files, directories): what is ready
    // now completes the request, multishot or not; nothing ready is -EINVAL.
    if (!mask) req_set_fail(req);
    req_set_res(req, mask ? static_cast<int>(mask) : -EINVAL, 0);
    return kIouOk;
  }
  if (mask && !pe.multishot) {
    req_set_res(req, static_cast<int>(mask), 0);
    return kIouOk;
  }
  if (activating && !mask) {
    // io_activate_pollwq: a DEFER_TASKRUN ring's first poll of itself
    // activates the ring's poll wait queue from task work when the
    // submitter returns, so CQEs posted before that wake nobody. The
    // activation's wakeup has no mask: the poll looks at the ring again in
    // its task work, which runs when the program next waits (often after it
    // reaped those CQEs). Meanwhile it is armed for cancels.
    pe.awaiting_activation = true;
    pe.armed_in = req->ctx->submit_calls.load(std::memory_order_relaxed);
    PollService::get().add_unregistered(req);
    queue_poll_activation(req->ctx);
    return kIouIssueSkipComplete;
  }
  // A ring's readiness, like its eventfd's, comes from its CQE posting.
  pe.uring_wake = pe.multishot && (ring || is_ring_eventfd(req->ctx, req->os_fd));
  pe.folds_own_wakes = pe.multishot && !ring && core::is_eventfd(req->os_fd);
  if (!arm(req, mask)) {
    req_set_fail(req);
    req_set_res(req, -EBADF, 0);
    return kIouOk;
  }
  // Ready already: armed first (a POLL_REMOVE finds it), then its CQE is
  // posted by task work, as __io_arm_poll_handler queues it.
  if (mask) {
    PollService& ps = PollService::get();
    PollGuard lock(ps);
    if (pe.state.load(std::memory_order_relaxed) == kPollArmed) ps.queue_mshot(req, mask, true);
  }
  return kIouIssueSkipComplete;
}

int poll_remove_prep(IoKiocb* req, const io_uring_sqe* sqe) {
  if (sqe->buf_index || sqe->splice_fd_in) return -EINVAL;
  const unsigned flags = sqe->len;
  if (flags & ~(IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA | IORING_POLL_ADD_MULTI))
    return -EINVAL;
  if (flags == IORING_POLL_ADD_MULTI) return -EINVAL;
  PollOpData& p = req->poll_op;
  p.flags = flags;
  p.old_user_data = sqe->addr;
  p.new_user_data = sqe->off;
  p.new_events = (sqe->poll32_events & 0xffff) | EPOLLERR | EPOLLHUP;
  // A new user_data or events without the flag that applies them is a mistake.
  if (!(flags & IORING_POLL_UPDATE_USER_DATA) && p.new_user_data) return -EINVAL;
  if (!(flags & IORING_POLL_UPDATE_EVENTS) && sqe->poll32_events) return -EINVAL;
  return 0;
}

int poll_remove_issue(IoKiocb* req, unsigned issue_flags) {
  PollOpData& p = req->poll_op;
  IoRingCtx* ctx = req->ctx;
  PollService& ps = PollService::get();
  IoKiocb* target;
  bool updated = false, readd = false;
  {
    PollGuard lock(ps);
    target = ps.find_by_data(ctx, p.old_user_data);
    if (!target && owned_by_task_work(ctx, p.old_user_data)) {
      req_set_fail(req);
      req_set_res(req, -EALREADY, 0);
      return kIouOk;
    }
    if (target && target->poll.tw_queued.load(std::memory_order_relaxed) &&
        target->poll.tw_at_arm) {
      // io_poll_disarm: its task work owns it; it stays armed. Only for
      // work queued when it was armed: the poll thread's may come from a
      // wakeup the kernel would have handled before this request, and an
      // -EALREADY there would leave the poll armed where it ends.
      req_set_fail(req);
      req_set_res(req, -EALREADY, 0);
      return kIouOk;
    }
    if (target && target->poll.awaiting_activation &&
        target->poll.armed_in != ctx->submit_calls.load(std::memory_order_relaxed)) {
      // The activation's maskless wakeup, sent when the call that armed it
      // returned, queued the poll's task work, which owns it until the
      // program waits (seed 23977).
      req_set_fail(req);
      req_set_res(req, -EALREADY, 0);
      return kIouOk;
    }
    if (target && (target->poll.awaiting_activation || is_ring_fd(target->os_fd)) &&
        (p.flags & (IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA))) {
      // io_poll_remove adds the updated poll again (io_poll_add), which asks
      // the file at once: a ring's readiness is io_uring_poll's, not that of
      // the host object behind its descriptor, and is asked before this
      // request's own CQE is posted (fuzz seeds 194644, 194645: POLLOUT
      // alone).
      ps.remove(target);
      target->poll.awaiting_activation = false;
      if (p.flags & IORING_POLL_UPDATE_EVENTS) target->poll.events = p.new_events;
      if (p.flags & IORING_POLL_UPDATE_USER_DATA) target->user_data = p.new_user_data;
      readd = true;
      updated = true;
    } else if (target && (p.flags & (IORING_POLL_UPDATE_EVENTS | IORING_POLL_UPDATE_USER_DATA))) {
      if (p.flags & IORING_POLL_UPDATE_EVENTS) {
        // io_poll_remove replaces the low 16 bits of the events only: the
        // poll stays multishot or one-shot as it was added, whatever the
        // update's IORING_POLL_ADD_MULTI says (fuzz seed 122405).
        target->poll.events = p.new_events;
        ps.rearm(target);
      }
      if (p.flags & IORING_POLL_UPDATE_USER_DATA) {
        target->user_data = p.new_user_data;
        ps.rehash(target);
      }
      updated = true;
    } else if (target) {
      ps.remove(target);
    }
  }
  if (!target) {
    req_set_fail(req);
    req_set_res(req, -ENOENT, 0);
    return kIouOk;
  }
  if (!updated) {
    req_set_fail(target);
    req_set_res(target, -ECANCELED, 0);
    tw_add(target, tw_req_cancel);
  }
  if (readd) {
    if (issue_flags & kIssueLocked)
      queue_sqe(target);
    else
      tw_add(target, tw_req_issue);
  }
  req_set_res(req, 0, 0);
  return kIouOk;
}

}  // namespace iostack::uring
