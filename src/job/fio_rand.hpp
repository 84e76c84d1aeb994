// fio's random numbers, bit for bit, so that a job file gives the same
// offsets on iostack as on fio: the combined Tausworthe generators of
// lib/rand.h (taus88, 32-bit, the default; taus258 for tausworthe64),
// their LCG seeding, the golden-ratio and Jenkins hashes of hash.h, and the
// per-thread seed table of init.c's setup_random_seeds.
#pragma once

#include <cstdint>
#include <string_view>

namespace iostack::job {

// fio's struct frand_state.
class FioRand {
 public:
  FioRand() { seed(1, false); }
  FioRand(std::uint64_t s, bool use64) { seed(s, use64); }
  // init_rand_seed: the 32-bit generator takes the seed's low 32 bits.
  void seed(std::uint64_t s, bool use64);
  bool use64() const { return use64_; }
  std::uint64_t next();  // __rand
  std::uint64_t max() const { return use64_ ? ~0ull : 0xffffffffull; }
  // rand_between: uniform in [lo, hi], by fio's float scaling.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi);

 private:
  std::uint32_t next32();
  std::uint64_t next64();
  bool use64_ = false;
  std::uint32_t s32_[3] = {};
  std::uint64_t s64_[5] = {};
};

// fio's random_generator=lfsr (lib/lfsr.c): a Galois LFSR of the smallest
// maximal-length width above the block count, stepping past values beyond
// it, so that every block comes once per pass without a map.
class FioLfsr {
 public:
  // lfsr_init with no spin: false when there is no LFSR for `nums`.
  bool init(std::uint64_t nums, std::uint64_t seed);
  // lfsr_reset: false for the one illegal (all ones) state.
  bool reset(std::uint64_t seed);
  // lfsr_next: false once every value has been given.
  bool next(std::uint64_t* out);

 private:
  void step();
  std::uint64_t xormask_ = 0, last_ = 0, top_bit_ = 0, max_ = 0, given_ = 0;
  bool first_ = true;  // fio's first call steps twice
};

// The seed slots of fio's td->rand_seeds[] (enum in fio.h), in fio's order.
enum FioSeed : int {
  kSeedBs = 0,
  kSeedBs1,
  kSeedBs2,
  kSeedVer,
  kSeedMix,
  kSeedFile,
  kSeedBlock,
  kSeedFileSize,
  kSeedTrim,
  kSeedBuf,
  kSeedSeqRandRead,
  kSeedSeqRandWrite,
  kSeedSeqRandTrim,
  kSeedStartDelay,
  kSeedDedupe,
  kSeedPoisson,
  kSeedZone,
  kSeedPoisson2,
  kSeedPoisson3,
  kSeedPrioCmds,
  kSeedDedupeIx,
  kSeedCount
};

constexpr std::uint64_t kFioRandSeed = 0xb1899bedull;  // FIO_RANDSEED

// setup_random_seeds for a repeatable seed: slot i of thread `thread_number`.
std::uint64_t fio_rand_seed(std::uint64_t randseed, int thread_number, int slot);

// __hash_u64: multiplication by the 64-bit golden ratio.
inline std::uint64_t fio_hash_u64(std::uint64_t v) { return v * 0x61C8864680B583EBull; }

// fio's jhash() (hash.h), including its byte-wise reads of the 12-byte
// blocks, which is what fio seeds zipf, pareto and normal with.
std::uint32_t fio_jhash(std::string_view key, std::uint32_t initval);

}  // namespace iostack::job
