// The kyber scheduler: domains, tokens and the latency timer.
#include "sched/kyber.hpp"

#include <cassert>
#include <cstdint>

#include "block/blk_mq.hpp"
#include "block/hctx.hpp"
#include "block/merge.hpp"
#include "block/request_queue.hpp"
#include "core/clock.hpp"
#include "core/mutex.hpp"
#include "core/sbitmap.hpp"

namespace iostack::sched {

using block::Request;

namespace {

// The timer runs this long after the first completion it has not seen, on
// a clock without ticks.
constexpr std::uint64_t kTimerDelayNs = 100 * core::kNsPerMs;
// A percentile is computed once this many samples are in, or after
// kPercentileWindowNs since the first of them.
constexpr unsigned kPercentileSamples = 500;
constexpr std::uint64_t kPercentileWindowNs = core::kNsPerSec;

// sbitmap's wait queue constants: SBQ_WAIT_QUEUES and SBQ_WAKE_BATCH.
constexpr unsigned kSbqWaitQueues = 8;
constexpr unsigned kSbqWakeBatch = 8;

// sbq_calc_wake_batch with no shallow user: depth / 8, within [1, 8].
unsigned calc_wake_batch(unsigned depth) {
  unsigned batch = depth / kSbqWaitQueues;
  if (batch < 1) batch = 1;
  if (batch > kSbqWakeBatch) batch = kSbqWakeBatch;
  return batch;
}

// The token a request holds, kept in elv_priv[0]; -1 for none.
int rq_token(const Request* rq) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(rq->elv_priv[0]));
}
void rq_set_token(Request* rq, int token) {
  rq->elv_priv[0] = reinterpret_cast<void*>(static_cast<std::intptr_t>(token));
}

// time_is_after_jiffies(t) on a wrapping clock: t is still in the future.
bool still_ahead(std::uint64_t t, std::uint64_t now) {
  return static_cast<std::int64_t>(now - t) < 0;
}

// When the timer armed at `now` for jiffies + HZ / 10 runs. It is a
// timer_list: the wheel files it one jiffy past that expiry, on its finest
// level, so that it never fires early, and runs it on that tick (at HZ=250,
// the 26th tick after the one `now` falls in: 100-104 ms later). A clock
// without ticks runs it 100 ms from now.
std::uint64_t timer_expiry(const core::Clock* clock, std::uint64_t now) {
  const core::Nanos tick = clock->jiffy();
  if (!tick) return now + kTimerDelayNs;
  const std::uint64_t hz = core::kNsPerSec / tick;
  return (now / tick + hz / 10 + 1) * tick;
}

}  // namespace

KyberDomain kyber_sched_domain(std::uint32_t opf) {
  switch (block::req_op(opf)) {
    case block::REQ_OP_READ:
      return KYBER_READ;
    case block::REQ_OP_WRITE:
      return KYBER_WRITE;
    case block::REQ_OP_DISCARD:
      return KYBER_DISCARD;
    default:
      return KYBER_OTHER;
  }
}

const char* kyber_domain_name(unsigned domain) {
  static constexpr const char* kNames[kKyberNumDomains] = {"READ", "WRITE", "DISCARD", "OTHER"};
  return domain < kKyberNumDomains ? kNames[domain] : "?";
}

unsigned kyber_latency_bucket(std::uint64_t target, std::uint64_t latency) {
  if (latency == 0) return 0;
  std::uint64_t width = target >> kKyberLatencyShift;
  if (width < 1) width = 1;
  const std::uint64_t b = (latency - 1) / width;
  return b < kKyberLatencyBuckets - 1 ? static_cast<unsigned>(b) : kKyberLatencyBuckets - 1;
}

// --- KyberTokens ---

KyberTokens::KyberTokens(unsigned max_depth)
    : max_depth_(max_depth),
      shift_(core::sbitmap_calculate_shift(max_depth)),
      depth_(max_depth),
      wake_batch_(calc_wake_batch(max_depth)) {
  assert(core::sbitmap_nr_words(max_depth, shift_) <= kMaxWords);
}

unsigned KyberTokens::busy() const { return core::sbitmap_weight(words_); }

int KyberTokens::get() {
  const unsigned depth = depth_.load(std::memory_order_acquire);
  for (unsigned w = 0; w < kMaxWords; ++w) {
    const std::uint64_t mask = core::sbitmap_word_mask(depth, shift_, w);
    if (!mask) break;
    // Sequentially consistent against clear(): a waiter that registered and
    // then finds no token is seen by the next clear (no lost wake-up).
    const int nr = core::sbitmap_word_get(words_[w], mask, std::memory_order_seq_cst);
    if (nr >= 0) return static_cast<int>((w << shift_) + static_cast<unsigned>(nr));
  }
  return -1;
}

void KyberTokens::clear(int nr) {
  core::sbitmap_clear_bit(words_, shift_, static_cast<unsigned>(nr), std::memory_order_seq_cst);
  wake_up();
}

// sbitmap_queue_wake_up: count frees only while someone waits; each full
// wake_batch of them wakes that many waiters.
void KyberTokens::wake_up() {
  if (ws_active_.load(std::memory_order_seq_cst) == 0) return;
  const unsigned batch = wake_batch_.load(std::memory_order_relaxed);
  completion_cnt_.fetch_add(1, std::memory_order_acq_rel);
  unsigned wakeups = wakeup_cnt_.load(std::memory_order_acquire);
  do {
    if (completion_cnt_.load(std::memory_order_acquire) - wakeups < batch) return;
  } while (!wakeup_cnt_.compare_exchange_weak(wakeups, wakeups + batch, std::memory_order_acq_rel));

  block::HwCtx* run[kSbqWakeBatch];
  unsigned n = 0;
  {
    core::LockGuard g(wait_mu_);
    while (n < batch && !waiters_.empty()) {
      Waiter* w = core::list_entry<Waiter, &Waiter::entry>(waiters_.first());
      w->entry.del();
      w->queued.store(false, std::memory_order_release);
      ws_active_.fetch_sub(1, std::memory_order_seq_cst);
      run[n++] = w->hctx;
    }
  }
  // kyber_domain_wake: run the hardware queue that waited, without our lock.
  for (unsigned i = 0; i < n; ++i) block::blk_mq_run_hw_queue(run[i]);
}

void KyberTokens::resize(unsigned depth) {
  if (depth > max_depth_) depth = max_depth_;
  wake_batch_.store(calc_wake_batch(depth), std::memory_order_relaxed);
  depth_.store(depth, std::memory_order_release);
}

void KyberTokens::add_wait(Waiter* w) {
  core::LockGuard g(wait_mu_);
  if (w->queued.load(std::memory_order_relaxed)) return;
  w->entry.add_tail(&waiters_);
  w->queued.store(true, std::memory_order_release);
  ws_active_.fetch_add(1, std::memory_order_seq_cst);
}

void KyberTokens::del_wait(Waiter* w) {
  core::LockGuard g(wait_mu_);
  if (!w->queued.load(std::memory_order_relaxed)) return;
  w->entry.del();
  w->queued.store(false, std::memory_order_release);
  ws_active_.fetch_sub(1, std::memory_order_seq_cst);
}

// --- set-up ---

Kyber::Kyber(block::RequestQueue* q) : Elevator(q) {
  for (unsigned d = 0; d < kKyberNumDomains; ++d)
    tokens_[d] = std::make_unique<KyberTokens>(kKyberDepth[d]);
  for (unsigned d = 0; d < KYBER_OTHER; ++d)
    latency_targets_[d].store(kKyberLatencyTarget[d], std::memory_order_relaxed);
  timer_.fn = &Kyber::timer_cb;
  timer_.priv = this;
  if (q) {
    q->stat_enable();  // kyber_init_sched: blk_stat_enable_accounting
    clock_ = q->clock();
    khds_.resize(q->nr_hw_queues());
    // init_hctx / depth_updated set this again once the tags exist.
    async_depth_.store(q->nr_requests() * kKyberAsyncPercent / 100u, std::memory_order_relaxed);
  }
}

Kyber::~Kyber() {
  // timer_shutdown_sync: after cancel() the callback is neither running nor
  // armed.
  if (clock_) clock_->cancel(&timer_);
  if (queue()) queue()->stat_disable();
  for (auto& khd : khds_) {
    if (!khd) continue;
    for (unsigned d = 0; d < kKyberNumDomains; ++d) tokens_[d]->del_wait(&khd->domain_wait[d]);
    block::HwCtx* hctx = khd->domain_wait[0].hctx;
    if (hctx && hctx->sched_data == khd.get()) hctx->sched_data = nullptr;
  }
}

void Kyber::init_hctx(block::HwCtx* hctx) {
  if (hctx->queue_num >= khds_.size()) khds_.resize(hctx->queue_num + 1);
  auto& khd = khds_[hctx->queue_num];
  if (!khd) {
    khd = std::make_unique<HctxData>();
    for (auto& w : khd->domain_wait) w.hctx = hctx;
  }
  hctx->sched_data = khd.get();
  depth_updated(hctx);
}

Kyber::HctxData* Kyber::khd_of(block::HwCtx* hctx) const {
  return static_cast<HctxData*>(hctx->sched_data);
}

void Kyber::depth_updated(block::HwCtx* hctx) {
  async_depth_.store(hctx->queue->nr_requests() * kKyberAsyncPercent / 100u,
                     std::memory_order_relaxed);
}

void Kyber::limit_depth(block::AllocData* data) {
  // Scheduler tags are the per-queue budget; only async requests are held
  // to async_depth of them.
  if (block::op_is_sync(data->cmd_flags)) return;
  // sbitmap_get_shallow counts bits per tag word here: scale the request
  // count by bits_per_word / nr_requests, rounding up (at least one bit).
  block::HwCtx* hctx = data->hctx ? data->hctx : data->q->hctx(0);
  const unsigned nrr = data->q->nr_requests();
  const unsigned bpw = hctx->sched_tags ? hctx->sched_tags->bits_per_word() : 64;
  unsigned shallow =
      core::sbitmap_word_depth(async_depth_.load(std::memory_order_relaxed), bpw, nrr);
  if (shallow < 1) shallow = 1;
  data->shallow_depth = shallow;
}

// --- merging and insertion ---

bool Kyber::bio_merge(block::Bio* bio, unsigned nr_segs) {
  block::HwCtx* hctx = queue()->map_queue();
  HctxData* khd = khd_of(hctx);
  if (!khd) return false;
  CtxQueue& kcq = khd->kcq;
  core::LockGuard g(kcq.lock);
  // Only requests still waiting for a token (in the software queue of their
  // domain) can take the bio.
  return block::blk_bio_list_merge(queue(), &kcq.rq_list[kyber_sched_domain(bio->bi_opf)], bio,
                                   nr_segs);
}

void Kyber::prepare_request(Request* rq) { rq_set_token(rq, -1); }

void Kyber::insert_requests(block::HwCtx* hctx, core::ListHead* list, unsigned flags) {
  HctxData* khd = khd_of(hctx);
  CtxQueue& kcq = khd->kcq;
  while (!list->empty()) {
    Request* rq = block::rq_from_queuelist(list->first());
    const unsigned d = kyber_sched_domain(rq->cmd_flags);
    {
      core::LockGuard g(kcq.lock);
      block::blk_trace_rq_insert(rq);
      rq->queuelist.del();
      if (flags & block::INSERT_AT_HEAD)
        rq->queuelist.add_head(&kcq.rq_list[d]);
      else
        rq->queuelist.add_tail(&kcq.rq_list[d]);
      kcq.busy[d].store(true, std::memory_order_release);
      // Counted before a dispatcher can flush it (the flush takes kcq.lock).
      khd->nr_queued.fetch_add(1, std::memory_order_release);
    }
  }
}

// --- tokens and completion ---

void Kyber::clear_domain_token(Request* rq) {
  const int nr = rq_token(rq);
  if (nr == -1) return;
  // Forget it, so a request requeued past the scheduler does not free it twice.
  rq_set_token(rq, -1);
  tokens_[kyber_sched_domain(rq->cmd_flags)]->clear(nr);
}

void Kyber::finish_request(Request* rq) { clear_domain_token(rq); }

void Kyber::requeue_request(Request* rq) { clear_domain_token(rq); }

void Kyber::completed_request(Request* rq, std::uint64_t now) {
  const unsigned d = kyber_sched_domain(rq->cmd_flags);
  if (d == KYBER_OTHER) return;
  const std::uint64_t target = latency_targets_[d].load(std::memory_order_relaxed);
  cpu_buckets_[d][KYBER_TOTAL_LATENCY][kyber_latency_bucket(target, now - rq->start_time_ns)]
      .fetch_add(1, std::memory_order_relaxed);
  cpu_buckets_[d][KYBER_IO_LATENCY][kyber_latency_bucket(target, now - rq->io_start_time_ns)]
      .fetch_add(1, std::memory_order_relaxed);

  // timer_reduce: arm for jiffies + HZ / 10, or keep an earlier expiry.
  if (!clock_) return;
  const std::uint64_t expires = timer_expiry(clock_, now);
  core::LockGuard g(timer_mu_);
  if (timer_armed_ && !still_ahead(timer_expires_, expires)) return;
  timer_armed_ = true;
  timer_expires_ = expires;
  clock_->arm(&timer_, expires);
}

// --- dispatch ---

int Kyber::get_domain_token(HctxData* khd, unsigned domain) {
  KyberTokens& tokens = *tokens_[domain];
  KyberTokens::Waiter* wait = &khd->domain_wait[domain];
  int nr = tokens.get();
  // No token: make sure a free one reruns this hardware queue, then try once
  // more in case it was freed before we were on the wait list.
  if (nr < 0 && !wait->queued.load(std::memory_order_acquire)) {
    tokens.add_wait(wait);
    nr = tokens.get();
  }
  // Holding a token, we must not also take a wake-up others need.
  if (nr >= 0 && wait->queued.load(std::memory_order_acquire)) tokens.del_wait(wait);
  return nr;
}

Request* Kyber::dispatch_cur_domain(HctxData* khd) {
  const unsigned d = khd->cur_domain;
  core::ListHead* rqs = &khd->rqs[d];
  CtxQueue& kcq = khd->kcq;
  if (rqs->empty()) {
    // Requests stay in the software queue (where bios can still merge into
    // them) until a token is in hand; only then is the queue flushed.
    if (!kcq.busy[d].load(std::memory_order_acquire)) return nullptr;
    const int nr = get_domain_token(khd, d);
    if (nr < 0) return nullptr;
    {
      core::LockGuard g(kcq.lock);
      kcq.rq_list[d].splice_tail_init(rqs);
      kcq.busy[d].store(false, std::memory_order_release);
    }
    return take_first(khd, rqs, nr);
  }
  const int nr = get_domain_token(khd, d);
  if (nr < 0) return nullptr;
  return take_first(khd, rqs, nr);
}

// The first request of `rqs`, dispatched in the current batch with token `nr`.
Request* Kyber::take_first(HctxData* khd, core::ListHead* rqs, int nr) {
  Request* rq = block::rq_from_queuelist(rqs->first());
  khd->batching++;
  rq_set_token(rq, nr);
  rq->queuelist.del();
  khd->nr_queued.fetch_sub(1, std::memory_order_release);
  return rq;
}

Request* Kyber::dispatch_request(block::HwCtx* hctx) {
  HctxData* khd = khd_of(hctx);
  core::LockGuard g(khd->lock);
  // Carry on with the current domain while its batch lasts.
  if (khd->batching < kKyberBatchSize[khd->cur_domain]) {
    if (Request* rq = dispatch_cur_domain(khd)) return rq;
  }
  // Batch over, or the domain is empty or out of tokens: start a new batch
  // with the next domain that can dispatch, wrapping round to this one.
  khd->batching = 0;
  for (unsigned i = 0; i < kKyberNumDomains; ++i) {
    khd->cur_domain = khd->cur_domain == kKyberNumDomains - 1 ? 0 : khd->cur_domain + 1;
    if (Request* rq = dispatch_cur_domain(khd)) return rq;
  }
  return nullptr;
}

bool Kyber::has_work(block::HwCtx* hctx) {
  HctxData* khd = khd_of(hctx);
  return khd && khd->nr_queued.load(std::memory_order_acquire) != 0;
}

// --- the latency timer (kyber_timer_fn) ---

void Kyber::timer_cb(core::Timer* t) { static_cast<Kyber*>(t->priv)->timer_fn(); }

void Kyber::flush_latency_buckets(unsigned domain, unsigned type) {
  for (unsigned b = 0; b < kKyberLatencyBuckets; ++b)
    latency_buckets_[domain][type][b] +=
        cpu_buckets_[domain][type][b].exchange(0, std::memory_order_relaxed);
}

int Kyber::calculate_percentile(unsigned domain, unsigned type, unsigned percentile,
                                std::uint64_t now) {
  unsigned* buckets = latency_buckets_[domain][type];
  unsigned samples = 0;
  for (unsigned b = 0; b < kKyberLatencyBuckets; ++b) samples += buckets[b];
  if (!samples) return -1;

  // Wait for enough samples, or for the window that began with the first
  // of them to pass. The window is per domain, shared by both histograms.
  if (!latency_timeout_[domain]) {
    const std::uint64_t t = now + kPercentileWindowNs;
    latency_timeout_[domain] = t ? t : 1;
  }
  if (samples < kPercentileSamples && still_ahead(latency_timeout_[domain], now)) return -1;
  latency_timeout_[domain] = 0;

  unsigned left = (samples * percentile + 99) / 100;
  unsigned bucket;
  for (bucket = 0; bucket < kKyberLatencyBuckets - 1; ++bucket) {
    if (buckets[bucket] >= left) break;
    left -= buckets[bucket];
  }
  for (unsigned b = 0; b < kKyberLatencyBuckets; ++b) buckets[b] = 0;
  return static_cast<int>(bucket);
}

void Kyber::resize_domain(unsigned domain, unsigned depth) {
  if (depth < 1) depth = 1;
  if (depth > kKyberDepth[domain]) depth = kKyberDepth[domain];
  if (depth != tokens_[domain]->depth()) tokens_[domain]->resize(depth);
}

void Kyber::timer_fn() {
  {
    // Samples counted from here on arm the timer again.
    core::LockGuard g(timer_mu_);
    timer_armed_ = false;
  }
  core::LockGuard g(stats_mu_);
  const std::uint64_t now = clock_->now();
  for (unsigned d = 0; d < KYBER_OTHER; ++d) {
    flush_latency_buckets(d, KYBER_TOTAL_LATENCY);
    flush_latency_buckets(d, KYBER_IO_LATENCY);
  }

  // Congestion: some domain's device-side p90 misses its target.
  bool bad = false;
  for (unsigned d = 0; d < KYBER_OTHER; ++d) {
    const int p90 = calculate_percentile(d, KYBER_IO_LATENCY, 90, now);
    if (p90 >= static_cast<int>(kKyberGoodBuckets)) bad = true;
  }

  for (unsigned d = 0; d < KYBER_OTHER; ++d) {
    int p99 = calculate_percentile(d, KYBER_TOTAL_LATENCY, 99, now);
    // A domain without enough samples this time uses the p99 it had when
    // last measured, once, on the next congestion.
    if (bad) {
      if (p99 < 0) p99 = domain_p99_[d];
      domain_p99_[d] = -1;
    } else if (p99 >= 0) {
      domain_p99_[d] = p99;
    }
    if (p99 < 0) continue;
    // Scale the depth by p99 / target: down for good domains under
    // congestion, up for domains missing their target.
    if (bad || p99 >= static_cast<int>(kKyberGoodBuckets)) {
      const unsigned orig = tokens_[d]->depth();
      resize_domain(d, (orig * static_cast<unsigned>(p99 + 1)) >> kKyberLatencyShift);
    }
  }
}

// --- introspection ---

int Kyber::domain_p99(KyberDomain d) const {
  if (d >= KYBER_OTHER) return -1;
  core::LockGuard g(stats_mu_);
  return domain_p99_[d];
}

unsigned Kyber::cur_domain(block::HwCtx* hctx) const {
  HctxData* khd = khd_of(hctx);
  core::LockGuard g(khd->lock);
  return khd->cur_domain;
}

unsigned Kyber::batching(block::HwCtx* hctx) const {
  HctxData* khd = khd_of(hctx);
  core::LockGuard g(khd->lock);
  return khd->batching;
}

bool Kyber::waiting(block::HwCtx* hctx, KyberDomain d) const {
  return khd_of(hctx)->domain_wait[d].queued.load(std::memory_order_acquire);
}

std::array<unsigned, kKyberLatencyBuckets> Kyber::pending_samples(KyberDomain d,
                                                                  KyberLatencyType t) const {
  std::array<unsigned, kKyberLatencyBuckets> out{};
  if (d >= KYBER_OTHER) return out;
  for (unsigned b = 0; b < kKyberLatencyBuckets; ++b)
    out[b] = cpu_buckets_[d][t][b].load(std::memory_order_relaxed);
  return out;
}

bool Kyber::timer_pending() const {
  core::LockGuard g(timer_mu_);
  return timer_armed_;
}

}  // namespace iostack::sched
