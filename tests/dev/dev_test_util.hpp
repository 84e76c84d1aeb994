// Helpers for driving devices end to end: bios through submit_bio, waiting
// on the real clock or pumping a virtual one.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "core/virtual_clock.hpp"
#include "dev/device.hpp"
#include "dev/device_spec.hpp"

namespace iostack::dev::test {

// A device from `spec` on `clock` (null: the real one); a failure is the
// test's.
inline std::unique_ptr<BlockDevice> make(const std::string& spec, core::Clock* clock = nullptr) {
  std::string err;
  auto dev = create_device(spec, clock, &err);
  EXPECT_TRUE(dev) << err;
  return dev;
}

// The device counter `name` (as the job report shows it).
inline double counter(const BlockDevice& d, const std::string& name) {
  for (const auto& [k, v] : d.counters())
    if (k == name) return v;
  ADD_FAILURE() << "no counter " << name;
  return -1;
}

// `spec` is refused with one line that says `says`.
inline void expect_bad_spec(const std::string& spec, const std::string& says) {
  std::string err;
  DeviceSpec s;
  EXPECT_FALSE(parse_device_spec(spec, &s, &err)) << spec;
  EXPECT_NE(err.find(says), std::string::npos) << err;
}

struct IoResult {
  std::atomic<bool> done{false};
  std::atomic<int> err{1};  // -errno once done
  std::thread::id thread;
};

inline void end_io(block::Bio* bio) {
  auto* r = static_cast<IoResult*>(bio->bi_private);
  r->thread = std::this_thread::get_id();
  r->err.store(block::blk_status_to_errno(bio->bi_status), std::memory_order_relaxed);
  block::bio_put(bio);
  r->done.store(true, std::memory_order_release);
}

// Submits one bio; data (if any) is cut into up to 4 segments at random
// sector boundaries so segments and pages do not line up.
inline void submit(BlockDevice& dev, std::uint32_t opf, block::sector_t sector, void* buf,
                   std::uint32_t len, IoResult* r, std::mt19937* rng = nullptr) {
  const bool data =
      block::req_op(opf) == block::REQ_OP_READ || block::req_op(opf) == block::REQ_OP_WRITE;
  block::Bio* bio = block::bio_alloc(dev.disk(), data ? 4 : 0, opf);
  bio->bi_iter.bi_sector = sector;
  if (data) {
    auto* p = static_cast<char*>(buf);
    std::uint32_t left = len;
    for (int i = 0; i < 3 && rng && left > block::kSectorSize; ++i) {
      std::uint32_t cut = static_cast<std::uint32_t>((*rng)() % (left / block::kSectorSize));
      cut *= block::kSectorSize;
      if (!cut) continue;
      block::bio_add_vec(bio, p, cut);
      p += cut;
      left -= cut;
    }
    if (left) block::bio_add_vec(bio, p, left);
  } else {
    bio->bi_iter.bi_size = len;
  }
  bio->bi_end_io = &end_io;
  bio->bi_private = r;
  block::submit_bio(bio);
}

// Waits for `r`: pumps `vclock` when given, else polls for up to 10 s.
inline bool wait(IoResult& r, core::VirtualClock* vclock = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!r.done.load(std::memory_order_acquire)) {
    if (vclock) {
      if (!vclock->run_one()) return r.done.load(std::memory_order_acquire);
    } else {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  return true;
}

// Synchronous I/O: -errno, or 1 when it never completed.
inline int io(BlockDevice& dev, std::uint32_t opf, block::sector_t sector, void* buf,
              std::uint32_t len, core::VirtualClock* vclock = nullptr,
              std::mt19937* rng = nullptr) {
  IoResult r;
  submit(dev, opf, sector, buf, len, &r, rng);
  if (!wait(r, vclock)) return 1;
  return r.err.load();
}

inline std::vector<unsigned char> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

}  // namespace iostack::dev::test
