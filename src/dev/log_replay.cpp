// Reading and replaying dm-log-writes logs.
#include "dev/log_replay.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "block/bio.hpp"
#include "block/blk_mq.hpp"
#include "dev/device.hpp"
#include "dev/log_format.hpp"

namespace iostack::dev {

bool read_log(const std::string& path, std::vector<LogEntry>* entries, std::uint32_t* sectorsize,
              std::string* err) {
  auto fail = [&](const std::string& why) {
    if (err) *err = path + ": " + why;
    return false;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::string("cannot open: ") + std::strerror(errno));
  const std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LogSuper s;
  if (buf.size() < sizeof(s)) return fail("too short for a log super block");
  std::memcpy(&s, buf.data(), sizeof(s));
  if (s.magic != kLogMagic) return fail("not a dm-log-writes log (bad magic)");
  if (s.version != kLogVersion) return fail("unsupported log version " + std::to_string(s.version));
  if (s.sectorsize < 512 || (s.sectorsize & (s.sectorsize - 1)))
    return fail("bad sector size " + std::to_string(s.sectorsize));
  const std::uint64_t ss = s.sectorsize;
  std::uint64_t at = ss;
  entries->clear();
  for (std::uint64_t i = 0; i < s.nr_entries; ++i) {
    const std::string where = "entry " + std::to_string(i) + ": ";
    if (at + ss > buf.size()) return fail(where + "truncated log");
    LogEntryHeader h;
    std::memcpy(&h, buf.data() + at, sizeof(h));
    LogEntry e;
    e.index = i;
    e.flags = h.flags;
    const std::uint64_t per = ss >> 9;
    e.sector = h.sector * per;
    e.nr_sectors = h.nr_sectors * per;
    at += ss;
    if (h.flags & kLogMark) {
      if (h.data_len > ss - sizeof(h)) return fail(where + "mark longer than its sector");
      e.mark.assign(buf.data() + (at - ss) + sizeof(h), h.data_len);
    } else if (!(h.flags & kLogDiscard) && h.nr_sectors) {
      const std::uint64_t len = h.nr_sectors * ss;
      if (at + len > buf.size()) return fail(where + "truncated data");
      e.data.assign(buf.data() + at, len);
      at += len;
    }
    entries->push_back(std::move(e));
  }
  *sectorsize = s.sectorsize;
  return true;
}

std::int64_t replay_log(const std::string& path, const ReplayLimit& limit, const ReplayWrite& write,
                        std::string* err) {
  std::vector<LogEntry> entries;
  std::uint32_t ss;
  if (!read_log(path, &entries, &ss, err)) return -1;
  if (!limit.end_mark.empty()) {
    bool found = false;
    for (const auto& e : entries) found |= (e.flags & kLogMark) && e.mark == limit.end_mark;
    if (!found) {
      if (err) *err = path + ": no mark \"" + limit.end_mark + "\" in the log";
      return -1;
    }
  }
  std::int64_t applied = 0;
  std::string zeroes;
  for (const auto& e : entries) {
    if (static_cast<std::uint64_t>(applied) >= limit.max_entries) break;
    int r = 0;
    if (e.flags & kLogDiscard) {
      zeroes.assign(1u << 20, '\0');
      for (std::uint64_t done = 0; done < (e.nr_sectors << 9) && !r;) {
        const std::uint64_t n = std::min<std::uint64_t>((e.nr_sectors << 9) - done, zeroes.size());
        r = write((e.sector << 9) + done, zeroes.data(), n);
        done += n;
      }
    } else if (!e.data.empty()) {
      r = write(e.sector << 9, e.data.data(), e.data.size());
    }
    if (r < 0) {
      if (err)
        *err = path + ": entry " + std::to_string(e.index) +
               ": replay write failed: " + std::strerror(-r);
      return -1;
    }
    ++applied;
    if (!limit.end_mark.empty() && (e.flags & kLogMark) && e.mark == limit.end_mark) break;
  }
  return applied;
}

ReplayWrite replay_write_to_fd(int fd) {
  return [fd](std::uint64_t off, const char* p, std::size_t len) {
    while (len) {
      const ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? -errno : -EIO;
      p += n;
      len -= static_cast<std::size_t>(n);
      off += static_cast<std::uint64_t>(n);
    }
    return 0;
  };
}

std::int64_t replay_log_to_path(const std::string& log, const std::string& target,
                                const ReplayLimit& limit, std::string* err) {
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (err) *err = target + ": cannot open: " + std::strerror(errno);
    return -1;
  }
  const std::int64_t r = replay_log(log, limit, replay_write_to_fd(fd), err);
  ::close(fd);
  return r;
}

std::int64_t replay_log_to_device(const std::string& log, BlockDevice* dev,
                                  const ReplayLimit& limit, std::string* err) {
  return replay_log(
      log, limit,
      [dev](std::uint64_t off, const char* p, std::size_t len) {
        // bios of at most 1 MiB, one segment each
        for (std::size_t done = 0; done < len;) {
          const std::size_t n = std::min<std::size_t>(len - done, 1u << 20);
          block::Bio* bio = block::bio_alloc(dev->disk(), 1, block::REQ_OP_WRITE);
          bio->bi_iter.bi_sector = (off + done) >> block::kSectorShift;
          block::bio_add_vec(bio, const_cast<char*>(p + done), static_cast<std::uint32_t>(n));
          bio->bi_iter.bi_size = static_cast<std::uint32_t>(n);
          const int r = block::submit_bio_wait(bio);
          block::bio_put(bio);
          if (r < 0) return r;
          done += n;
        }
        return 0;
      },
      err);
}

std::string describe(const LogEntry& e) {
  std::string flags;
  if (e.flags & kLogFlush) flags += "FLUSH|";
  if (e.flags & kLogFua) flags += "FUA|";
  if (e.flags & kLogDiscard) flags += "DISCARD|";
  if (e.flags & kLogMark) flags += "MARK|";
  if (e.flags & kLogMetadata) flags += "METADATA|";
  if (flags.empty()) flags = "WRITE|";
  flags.pop_back();
  std::string s = std::to_string(e.index) + " " + flags + " " + std::to_string(e.sector) + " " +
                  std::to_string(e.nr_sectors);
  if (e.flags & kLogMark) s += " " + e.mark;
  return s;
}

}  // namespace iostack::dev
