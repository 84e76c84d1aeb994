// struct kyber_queue_data / kyber_hctx_data (block/kyber-iosched.c): the
// Kyber I/O scheduler. Requests are sorted into four scheduling domains, each
// with a device-wide pool of dispatch tokens; latency histograms sampled at
// completion drive a timer that shrinks the depth of domains with good
// latency when the device looks congested and grows it back for domains
// that miss their target.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "block/elevator.hpp"
#include "block/request.hpp"
#include "core/clock.hpp"
#include "core/list.hpp"
#include "core/mutex.hpp"

namespace iostack::sched {

// The scheduling domains, in the kernel's order (dispatch rotates through
// them in this order).
enum KyberDomain : unsigned { KYBER_READ = 0, KYBER_WRITE = 1, KYBER_DISCARD = 2, KYBER_OTHER = 3 };
constexpr unsigned kKyberNumDomains = 4;

// The two latency histograms kept per domain (all but OTHER).
enum KyberLatencyType : unsigned { KYBER_TOTAL_LATENCY = 0, KYBER_IO_LATENCY = 1 };

// Buckets are a quarter of the target wide; the first four are "good".
constexpr unsigned kKyberLatencyShift = 2;
constexpr unsigned kKyberGoodBuckets = 1u << kKyberLatencyShift;
constexpr unsigned kKyberLatencyBuckets = 2u << kKyberLatencyShift;
constexpr unsigned kKyberAsyncPercent = 75;

// Maximum (and initial) token depth and batch size of each domain.
constexpr unsigned kKyberDepth[kKyberNumDomains] = {256, 128, 64, 16};
constexpr unsigned kKyberBatchSize[kKyberNumDomains] = {16, 8, 1, 1};
// Default latency targets (DISCARD's is fixed; only READ and WRITE are tunable).
constexpr std::uint64_t kKyberLatencyTarget[KYBER_OTHER] = {2 * core::kNsPerMs, 10 * core::kNsPerMs,
                                                            5 * core::kNsPerSec};

// Domain of an operation: by op code only (kyber_sched_domain).
KyberDomain kyber_sched_domain(std::uint32_t opf);
const char* kyber_domain_name(unsigned domain);
// The histogram bucket a latency falls into for `target` (add_latency_sample).
unsigned kyber_latency_bucket(std::uint64_t target, std::uint64_t latency);

// The part of struct sbitmap_queue the domain tokens use: a bitmap whose
// usable depth can be resized below its allocated size, and a list of
// hardware queues waiting for a token, woken in batches of wake_batch frees.
class KyberTokens {
 public:
  // One hardware queue's wait entry for one domain (struct sbq_wait).
  struct Waiter {
    core::ListHead entry;
    block::HwCtx* hctx = nullptr;
    std::atomic<bool> queued{false};
  };

  explicit KyberTokens(unsigned max_depth);
  KyberTokens(const KyberTokens&) = delete;
  KyberTokens& operator=(const KyberTokens&) = delete;

  unsigned depth() const { return depth_.load(std::memory_order_acquire); }
  unsigned max_depth() const { return max_depth_; }
  unsigned bits_per_word() const { return 1u << shift_; }
  unsigned wake_batch() const { return wake_batch_.load(std::memory_order_relaxed); }
  // Tokens held now (may exceed depth() for a while after a shrink).
  unsigned busy() const;

  // __sbitmap_queue_get: a free token below depth(), or -1.
  int get();
  // sbitmap_queue_clear: frees `nr`; every wake_batch frees while someone
  // waits, up to wake_batch waiting hardware queues are taken off the list
  // and run.
  void clear(int nr);
  // sbitmap_queue_resize: new usable depth (at most max_depth()).
  void resize(unsigned depth);

  void add_wait(Waiter* w);
  void del_wait(Waiter* w);

 private:
  static constexpr unsigned kMaxWords = 8;
  void wake_up();

  const unsigned max_depth_;
  const unsigned shift_;
  std::atomic<unsigned> depth_;
  std::atomic<unsigned> wake_batch_;
  std::array<std::atomic<std::uint64_t>, kMaxWords> words_{};

  core::Mutex wait_mu_;
  core::ListHead waiters_ GUARDED_BY(wait_mu_);
  std::atomic<int> ws_active_{0};
  std::atomic<unsigned> completion_cnt_{0};
  std::atomic<unsigned> wakeup_cnt_{0};
};

class Kyber final : public block::Elevator {
 public:
  explicit Kyber(block::RequestQueue* q);
  ~Kyber() override;

  const char* name() const override { return "kyber"; }

  // --- elevator_mq_ops ---
  void init_hctx(block::HwCtx* hctx) override;
  void depth_updated(block::HwCtx* hctx) override;
  void limit_depth(block::AllocData* data) override;
  bool bio_merge(block::Bio* bio, unsigned nr_segs) override;
  void prepare_request(block::Request* rq) override;
  void finish_request(block::Request* rq) override;
  void requeue_request(block::Request* rq) override;
  void insert_requests(block::HwCtx* hctx, core::ListHead* list, unsigned flags) override;
  block::Request* dispatch_request(block::HwCtx* hctx) override;
  bool has_work(block::HwCtx* hctx) override;
  void completed_request(block::Request* rq, std::uint64_t now_ns) override;

  // --- iosched/ tunables: read_lat_nsec, write_lat_nsec ---
  std::vector<std::string> attr_names() const override;
  int attr_show(const std::string& name, std::string* out) const override;
  int attr_store(const std::string& name, const std::string& value) override;

  // --- introspection (the debugfs files) ---
  unsigned domain_depth(KyberDomain d) const { return tokens_[d]->depth(); }
  unsigned domain_busy(KyberDomain d) const { return tokens_[d]->busy(); }
  const KyberTokens& tokens(KyberDomain d) const { return *tokens_[d]; }
  // In requests (nr_requests * 75%); limit_depth converts it per tag word.
  unsigned async_depth() const { return async_depth_.load(std::memory_order_relaxed); }
  std::uint64_t latency_target(KyberDomain d) const {
    return latency_targets_[d].load(std::memory_order_relaxed);
  }
  // The p99 bucket remembered for the next congestion, or -1.
  int domain_p99(KyberDomain d) const;
  unsigned cur_domain(block::HwCtx* hctx) const;
  unsigned batching(block::HwCtx* hctx) const;
  // The hardware queue waits for a token of this domain.
  bool waiting(block::HwCtx* hctx, KyberDomain d) const;
  // Samples recorded since the timer last collected them.
  std::array<unsigned, kKyberLatencyBuckets> pending_samples(KyberDomain d,
                                                             KyberLatencyType t) const;
  bool timer_pending() const;

 private:
  // struct kyber_ctx_queue: one per hardware queue here (one software
  // context per hardware queue). Requests wait here, mergeable, until the
  // dispatcher holds a token for their domain.
  struct CtxQueue {
    core::Mutex lock;
    core::ListHead rq_list[kKyberNumDomains] GUARDED_BY(lock);
    std::atomic<bool> busy[kKyberNumDomains] = {};  // kcq_map bit
  };

  // struct kyber_hctx_data.
  struct HctxData {
    mutable core::Mutex lock;  // khd->lock
    core::ListHead rqs[kKyberNumDomains] GUARDED_BY(lock);
    unsigned cur_domain GUARDED_BY(lock) = 0;
    unsigned batching GUARDED_BY(lock) = 0;
    CtxQueue kcq;
    KyberTokens::Waiter domain_wait[kKyberNumDomains];
    std::atomic<unsigned> nr_queued{0};  // in kcq or rqs, for has_work
  };

  HctxData* khd_of(block::HwCtx* hctx) const;
  block::Request* dispatch_cur_domain(HctxData* khd) REQUIRES(khd->lock);
  block::Request* take_first(HctxData* khd, core::ListHead* rqs, int nr) REQUIRES(khd->lock);
  int get_domain_token(HctxData* khd, unsigned domain);
  void clear_domain_token(block::Request* rq);

  static void timer_cb(core::Timer* t);
  void timer_fn();
  void flush_latency_buckets(unsigned domain, unsigned type) REQUIRES(stats_mu_);
  int calculate_percentile(unsigned domain, unsigned type, unsigned percentile, std::uint64_t now)
      REQUIRES(stats_mu_);
  void resize_domain(unsigned domain, unsigned depth);

  std::unique_ptr<KyberTokens> tokens_[kKyberNumDomains];
  std::vector<std::unique_ptr<HctxData>> khds_;
  std::atomic<unsigned> async_depth_{0};
  std::atomic<std::uint64_t> latency_targets_[KYBER_OTHER];

  // Samples not yet collected by the timer (the per-cpu histograms).
  std::atomic<unsigned> cpu_buckets_[KYBER_OTHER][2][kKyberLatencyBuckets] = {};

  // Timer state: the histograms and p99 memory belong to the timer function.
  mutable core::Mutex stats_mu_;
  unsigned latency_buckets_[KYBER_OTHER][2][kKyberLatencyBuckets] GUARDED_BY(stats_mu_) = {};
  std::uint64_t latency_timeout_[KYBER_OTHER] GUARDED_BY(stats_mu_) = {};  // 0: not started
  int domain_p99_[KYBER_OTHER] GUARDED_BY(stats_mu_) = {-1, -1, -1};

  core::Clock* clock_ = nullptr;
  core::Timer timer_;
  mutable core::Mutex timer_mu_;
  bool timer_armed_ GUARDED_BY(timer_mu_) = false;
  std::uint64_t timer_expires_ GUARDED_BY(timer_mu_) = 0;
};

}  // namespace iostack::sched
