// Every job option iostack accepts, with fio's names and parsing.
#include "job/option_table.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string_view>

#include "job/now.hpp"
#include "job/parse.hpp"
#include "job/verify_pattern.hpp"
#include "task/blkcg.hpp"
#include "task/ioprio.hpp"

namespace iostack::job {
namespace {

// A handler returns an empty string on success, else what was expected.
using Handler = std::function<std::string(JobOptions*, const OptEntry&)>;

struct OptionDef {
  OptionDef(std::vector<std::string> n, Handler f, std::string h = {})
      : names(std::move(n)), fn(std::move(f)), help(std::move(h)) {}
  std::vector<std::string> names;
  Handler fn;
  std::string help;  // one line for option_help(); empty for fio's common options
};

std::string set_uint(const OptEntry& e, unsigned lo, unsigned hi, unsigned* out) {
  std::uint64_t v;
  if (!parse_size(e.value, &v) || v < lo || v > hi)
    return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  *out = static_cast<unsigned>(v);
  return {};
}

std::string set_bool(const OptEntry& e, bool* out) {
  if (!parse_bool(e.value, out)) return "a boolean (0 or 1)";
  return {};
}

std::string set_time(const OptEntry& e, std::uint64_t* out) {
  if (!parse_time_ns(e.value, 1000000000ull, out)) return "a time such as 10, 10s, 500ms or 2m";
  return {};
}

// write_*_log: the flag, and the file prefix (any value; empty: the job name).
Handler set_log(bool JobOptions::*flag, std::string JobOptions::*prefix) {
  return [flag, prefix](JobOptions* o, const OptEntry& e) {
    o->*flag = true;
    o->*prefix = e.value;
    return std::string();
  };
}

// fio's per-direction lists "read,write,trim": a value that is not followed
// by a comma also applies to the directions after it.
template <typename Fn>
std::string per_ddir(const std::string& v, Fn&& fn) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto c = v.find(',', start);
    parts.push_back(v.substr(start, c == std::string::npos ? c : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  if (parts.size() > kRwDirs) return "at most three comma-separated values (read,write,trim)";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (trim(parts[i]).empty()) continue;
    const bool last = i + 1 == parts.size();
    for (std::size_t d = i; d < (last ? kRwDirs : i + 1); ++d) {
      const std::string r = fn(static_cast<int>(d), std::string(trim(parts[i])));
      if (!r.empty()) return r;
    }
  }
  return {};
}

std::string check_bs(std::uint64_t v) {
  if (v == 0 || v % 512 != 0 || v > (16u << 20))
    return "a block size that is a multiple of 512 bytes, at most 16m";
  return {};
}

// rw=<mode>[:<n>] (str_rw_cb): for random modes n is how many I/Os share
// one random offset; for sequential ones a size skipped after each I/O.
std::string set_rw(JobOptions* o, const OptEntry& e) {
  const std::string v(trim(e.value));
  const auto colon = v.find(':');
  const std::string mode = v.substr(0, colon);
  struct M {
    const char* n;
    bool r, w, t, rnd;
  };
  static const M kModes[] = {
      {"read", true, false, false, false},        {"write", false, true, false, false},
      {"randread", true, false, false, true},     {"randwrite", false, true, false, true},
      {"rw", true, true, false, false},           {"readwrite", true, true, false, false},
      {"randrw", true, true, false, true},        {"trim", false, false, true, false},
      {"randtrim", false, false, true, true},     {"trimwrite", false, true, true, false},
      {"randtrimwrite", false, true, true, true},
  };
  for (const auto& m : kModes) {
    if (mode != m.n) continue;
    o->rw = mode;
    o->dir_read = m.r;
    o->dir_write = m.w;
    o->dir_trim = m.t;
    o->random = m.rnd;
    o->seq_nr = 1;
    o->seq_add = 0;
    if (colon == std::string::npos) return {};
    const std::string n(trim(v.substr(colon + 1)));
    if (m.rnd) {
      std::uint64_t nr;
      if (!parse_uint(n, &nr) || nr > 1000000000) return "a count after ':', as in randread:8";
      o->seq_nr = static_cast<unsigned>(nr);
      return {};
    }
    const bool neg = !n.empty() && n[0] == '-';
    std::uint64_t add;
    if (!parse_size(neg ? n.substr(1) : n, &add))
      return "a size after ':', as in read:4k or write:-8k";
    o->seq_add = neg ? -static_cast<std::int64_t>(add) : static_cast<std::int64_t>(add);
    return {};
  }
  return "one of read, write, randread, randwrite, rw, readwrite, randrw, trim, randtrim, "
         "trimwrite, randtrimwrite (with an optional :<n>)";
}

// random_distribution=random|zipf[:theta[:center]]|pareto[:h[:center]]|
// normal[:dev[:center]]|zoned:a/s:...|zoned_abs:a/size:... (per direction
// after commas), as str_random_distribution_cb and zone_split_ddir check.
std::string set_random_distribution(JobOptions* o, const OptEntry& e) {
  const std::string v(trim(e.value));
  const auto colon = v.find(':');
  const std::string kind = v.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : v.substr(colon + 1);
  for (auto& z : o->zone_split) z.clear();
  o->dist_center = -1;
  if (kind == "random") {
    o->random_distribution = RandDist::kRandom;
    return {};
  }
  if (kind == "zipf" || kind == "pareto" || kind == "normal") {
    double val = kind == "zipf" ? 1.1 : kind == "pareto" ? 0.2 : 0.0;
    double center = -1;
    if (!rest.empty()) {
      const auto c2 = rest.find(':');
      char* end = nullptr;
      const std::string a = rest.substr(0, c2);
      val = std::strtod(a.c_str(), &end);
      if (a.empty() || *end) return "a number after " + kind + ":";
      if (c2 != std::string::npos) {
        const std::string b = rest.substr(c2 + 1);
        center = std::strtod(b.c_str(), &end);
        if (b.empty() || *end || center < 0 || center > 1) return "a center from 0 to 1";
      }
    }
    if (kind == "zipf") {
      if (val == 1.0) return "a zipf theta other than 1.0";
      o->random_distribution = RandDist::kZipf;
    } else if (kind == "pareto") {
      if (val <= 0 || val >= 1) return "a pareto h with 0 < h < 1";
      o->random_distribution = RandDist::kPareto;
    } else {
      if (val < 0 || val >= 100) return "a normal deviation from 0 to 100 (percent)";
      o->random_distribution = RandDist::kNormal;
    }
    o->dist_param = val;
    o->dist_center = center;
    return {};
  }
  if (kind != "zoned" && kind != "zoned_abs")
    return "one of random, zipf, pareto, normal, zoned, zoned_abs";
  const bool abs = kind == "zoned_abs";
  o->random_distribution = abs ? RandDist::kZonedAbs : RandDist::kZoned;
  const std::string what = abs ? "zones like 60/1g:40/2g (access%/size)"
                               : "zones like 60/10:30/20:10/70 (access%/size%)";
  return per_ddir(rest, [&](int d, const std::string& s) -> std::string {
    std::vector<ZoneSplit> list;
    unsigned perc = 0, sperc = 0, pmiss = 0, smiss = 0;
    std::vector<bool> amiss, szmiss;
    std::size_t start = 0;
    for (;;) {
      const auto c = s.find(':', start);
      const std::string item(trim(s.substr(start, c == std::string::npos ? c : c - start)));
      const auto slash = item.find('/');
      if (item.empty() || slash == std::string::npos) return what;
      const std::string a(trim(item.substr(0, slash))), z(trim(item.substr(slash + 1)));
      ZoneSplit ent;
      std::uint64_t x;
      amiss.push_back(a.empty());
      if (a.empty()) {
        ++pmiss;
      } else {
        if (!parse_uint(a, &x) || x > 100) return what;
        ent.access_perc = static_cast<unsigned>(x);
        perc += ent.access_perc;
      }
      szmiss.push_back(!abs && z.empty());
      if (abs) {
        if (!parse_size(z, &ent.size) || !ent.size) return what;
      } else if (z.empty()) {
        ++smiss;
      } else {
        if (!parse_uint(z, &x) || x > 100) return what;
        ent.size_perc = static_cast<unsigned>(x);
        sperc += ent.size_perc;
      }
      list.push_back(ent);
      if (list.size() > 256) return "at most 256 zones";
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (perc > 100 || sperc > 100) return "zone percentages adding up to at most 100";
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (amiss[i]) list[i].access_perc = (list.size() == 1 ? 100 : 100 - perc) / pmiss;
      if (szmiss[i]) list[i].size_perc = (list.size() == 1 ? 100 : 100 - sperc) / smiss;
    }
    unsigned total = 0;
    for (const auto& z : list) total += z.access_perc;
    if (total != 100) return "access percentages adding up to 100";
    o->zone_split[d] = std::move(list);
    return {};
  });
}

std::string set_bs(JobOptions* o, const OptEntry& e) {
  o->bs_loc = e.loc;
  return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
    std::uint64_t v;
    if (!parse_size(s, &v)) return "a size such as 4k";
    if (auto r = check_bs(v); !r.empty()) return r;
    o->min_bs[d] = o->max_bs[d] = static_cast<std::uint32_t>(v);
    o->bssplit[d].clear();
    return {};
  });
}

std::string set_bsrange(JobOptions* o, const OptEntry& e) {
  o->bs_loc = e.loc;
  return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
    std::uint64_t lo, hi;
    if (!parse_size_range(s, &lo, &hi)) return "a range such as 4k-64k";
    if (auto r = check_bs(lo); !r.empty()) return r;
    if (auto r = check_bs(hi); !r.empty()) return r;
    o->min_bs[d] = static_cast<std::uint32_t>(lo);
    o->max_bs[d] = static_cast<std::uint32_t>(hi);
    o->bssplit[d].clear();
    return {};
  });
}

// bssplit=4k/10:64k/50:32k/40, blank weights share what is left evenly.
std::string set_bssplit(JobOptions* o, const OptEntry& e) {
  o->bs_loc = e.loc;
  return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
    std::vector<BsSplitEntry> list;
    std::vector<std::size_t> blanks;
    unsigned total = 0;
    std::size_t start = 0;
    for (;;) {
      const auto c = s.find(':', start);
      const std::string item = s.substr(start, c == std::string::npos ? c : c - start);
      const auto slash = item.find('/');
      std::uint64_t bs;
      if (!parse_size(item.substr(0, slash), &bs)) return "entries like 4k/50:64k/50";
      if (auto r = check_bs(bs); !r.empty()) return r;
      BsSplitEntry ent{static_cast<std::uint32_t>(bs), 0};
      const std::string w =
          slash == std::string::npos ? "" : std::string(trim(item.substr(slash + 1)));
      if (w.empty()) {
        blanks.push_back(list.size());
      } else {
        std::uint64_t p;
        if (!parse_uint(w, &p) || p > 100) return "weights from 0 to 100 percent";
        ent.perc = static_cast<std::uint32_t>(p);
        total += ent.perc;
      }
      list.push_back(ent);
      if (list.size() > 64) return "at most 64 block sizes";
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (total > 100) return "weights that add up to at most 100 percent";
    if (!blanks.empty()) {
      const unsigned share = (100 - total) / static_cast<unsigned>(blanks.size());
      for (auto i : blanks) list[i].perc = share;
      list[blanks.back()].perc += (100 - total) - share * static_cast<unsigned>(blanks.size());
    } else if (total != 100) {
      return "weights that add up to 100 percent";
    }
    std::erase_if(list, [](const BsSplitEntry& x) { return x.perc == 0; });
    auto mm =
        std::minmax_element(list.begin(), list.end(), [](auto& a, auto& b) { return a.bs < b.bs; });
    o->min_bs[d] = mm.first->bs;
    o->max_bs[d] = mm.second->bs;
    o->bssplit[d] = std::move(list);
    return {};
  });
}

std::string set_size_or_percent(const OptEntry& e, std::uint64_t* bytes, double* pct) {
  double p;
  if (parse_percent(e.value, &p)) {
    *pct = p;
    *bytes = 0;
    return {};
  }
  std::uint64_t v;
  if (!parse_size(e.value, &v)) return "a size such as 64m, or a percentage such as 50%";
  *bytes = v;
  *pct = 0;
  return {};
}

std::string set_verify(JobOptions* o, const OptEntry& e) {
  const std::string& v = e.value;
  if (v == "0" || v == "none" || v.empty())
    o->verify = VerifyType::kNone;
  else if (v == "crc32c" || v == "crc32c-intel")
    o->verify = VerifyType::kCrc32c;
  else if (v == "md5")
    o->verify = VerifyType::kMd5;
  else if (v == "pattern")
    o->verify = VerifyType::kPattern;
  else if (v == "meta")
    o->verify = VerifyType::kMeta;
  else
    return "one of crc32c, crc32c-intel, md5, meta, pattern, 0";
  o->verify_name = v;  // crc32c-intel is written as fio's VERIFY_CRC32C_INTEL
  return {};
}

std::string set_queue_attr(JobOptions* o, const OptEntry& e, const std::string& attr) {
  if (!e.has_value || e.value.empty()) return "a value";
  o->queue_settings.push_back(QueueSetting{attr, e.value, e.key, e.loc});
  return {};
}

// fio's FIO_OPT_STR_SET: the name alone sets the flag, a value gives it.
std::string set_flag(const OptEntry& e, bool* out) {
  if (!e.has_value) return *out = true, std::string();
  return set_bool(e, out);
}

// An option that only one engine (or two) understands: noted so that the
// builder can reject it for any other ioengine, as fio does.
Handler engine_opt(Handler fn) {
  return [fn = std::move(fn)](JobOptions* o, const OptEntry& e) {
    std::string r = fn(o, e);
    if (r.empty()) o->engine_options.emplace_back(e.key, e.loc);
    return r;
  };
}

// cmdprio_percentage / cmdprio_class / cmdprio: "read,write" or one value
// for both (fio's FIO_OPT_INT with off1 and off2).
std::string set_rw_pair(const OptEntry& e, unsigned lo, unsigned hi, unsigned (*out)[2]) {
  return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
    std::uint64_t v;
    if (!parse_uint(s, &v) || v < lo || v > hi)
      return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
             ", or two as read,write";
    if (d < 2) (*out)[d] = static_cast<unsigned>(v);
    return {};
  });
}

// cmdprio_bssplit=bs/perc[/class/level]:...[,...] (parse_cmdprio_bssplit_entry,
// split_parse_prio_ddir): zero-percent entries are dropped, the rest sorted
// by block size; a block size's percentages may add up to at most 100.
std::string set_cmdprio_bssplit(JobOptions* o, const OptEntry& e) {
  if (trim(e.value).empty()) return "entries like 4k/50:64k/10/1/0";
  std::vector<CmdprioSplitEntry> parsed[2];
  const std::string r = per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
    if (d >= 2) return {};  // trim values are ignored
    std::vector<CmdprioSplitEntry> list;
    std::size_t start = 0;
    for (;;) {
      const auto c = s.find(':', start);
      const std::string item = s.substr(start, c == std::string::npos ? c : c - start);
      if (item.empty()) break;
      std::vector<std::string> f;
      std::size_t p = 0;
      for (;;) {
        const auto sl = item.find('/', p);
        f.push_back(std::string(trim(item.substr(p, sl == std::string::npos ? sl : sl - p))));
        if (sl == std::string::npos) break;
        p = sl + 1;
      }
      if (f.size() == 2 && f[1].empty()) f.pop_back();  // "bs/": no priority
      if (f.size() != 1 && f.size() != 2 && f.size() != 4)
        return "entries like 4k/50 or 4k/50/class/level";
      CmdprioSplitEntry ent;
      std::uint64_t bs, perc = 0, cls = 0, lvl = 0;
      if (!parse_size(f[0], &bs) || bs == 0 || bs > (16u << 20))
        return "entries like 4k/50 or 4k/50/class/level";
      if (f.size() >= 2 && (!parse_uint(f[1], &perc) || perc > 100))
        return "percentages from 0 to 100";
      if (f.size() == 4) {
        if (!parse_uint(f[2], &cls) || cls < 1 || cls > 3 || !parse_uint(f[3], &lvl) || lvl > 7)
          return "a class from 1 to 3 and a level from 0 to 7";
        ent.ioprio = task::prio_value(static_cast<int>(cls), static_cast<int>(lvl));
      }
      ent.bs = static_cast<std::uint32_t>(bs);
      ent.perc = static_cast<std::uint32_t>(perc);
      if (ent.perc) list.push_back(ent);
      if (list.size() > 64) return "at most 64 entries";
      if (c == std::string::npos) break;
      start = c + 1;
    }
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.bs < b.bs; });
    for (std::size_t i = 0; i < list.size();) {
      std::uint32_t tot = 0;
      std::size_t j = i;
      for (; j < list.size() && list[j].bs == list[i].bs; ++j) tot += list[j].perc;
      if (tot > 100) return "percentages of one block size adding up to at most 100";
      i = j;
    }
    parsed[d] = std::move(list);
    return {};
  });
  if (!r.empty()) return r;
  for (int d = 0; d < 2; ++d) o->cmdprio_bssplit[d] = std::move(parsed[d]);
  o->has_cmdprio_bssplit = !o->cmdprio_bssplit[0].empty() || !o->cmdprio_bssplit[1].empty();
  return {};
}

// replay_skip=read,write,trim,sync: directions dropped from the replay.
std::string set_replay_skip(JobOptions* o, const OptEntry& e) {
  unsigned mask = 0;
  std::size_t start = 0;
  for (;;) {
    const auto c = e.value.find(',', start);
    const std::string w(trim(e.value.substr(start, c == std::string::npos ? c : c - start)));
    if (w == "read")
      mask |= 1u << kRead;
    else if (w == "write")
      mask |= 1u << kWrite;
    else if (w == "trim")
      mask |= 1u << kTrim;
    else if (w == "sync")
      mask |= 1u << kSync;
    else
      return "a comma-separated list of read, write, trim and sync";
    if (c == std::string::npos) break;
    start = c + 1;
  }
  o->replay_skip = mask;
  return {};
}

const std::vector<OptionDef>& table() {
  static const std::vector<OptionDef> t = {
      {{"name"},
       [](JobOptions* o, const OptEntry& e) {
         o->name = e.value;
         return std::string();
       }},
      {{"description"},
       [](JobOptions* o, const OptEntry& e) {
         o->description = e.value;
         return std::string();
       }},
      {{"rw", "readwrite"}, set_rw},
      {{"rwmixread"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 100, &o->rwmixread); }},
      {{"rwmixwrite"},
       [](JobOptions* o, const OptEntry& e) {
         unsigned w;
         auto r = set_uint(e, 0, 100, &w);
         if (r.empty()) o->rwmixread = 100 - w;
         return r;
       }},
      {{"bs", "blocksize"}, set_bs},
      {{"bsrange", "blocksize_range"}, set_bsrange},
      {{"bssplit"}, set_bssplit},
      {{"blockalign", "ba"},
       [](JobOptions* o, const OptEntry& e) {
         return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
           std::uint64_t v;
           if (!parse_size(s, &v)) return "a size such as 4k";
           if (auto r = check_bs(v); !r.empty()) return r;
           o->ba[d] = static_cast<std::uint32_t>(v);
           return {};
         });
       }},
      {{"size"},
       [](JobOptions* o, const OptEntry& e) {
         o->size_loc = e.loc;
         o->size_str = e.value;
         return set_size_or_percent(e, &o->size, &o->size_percent);
       }},
      {{"offset", "fileoffset"},
       [](JobOptions* o, const OptEntry& e) {
         o->offset_loc = e.loc;
         return set_size_or_percent(e, &o->offset, &o->offset_percent);
       }},
      {{"io_size", "io_limit"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->io_size)) return std::string("a size such as 1g");
         return std::string();
       }},
      {{"number_ios"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->number_ios)) return std::string("a count");
         return std::string();
       }},
      {{"filename"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value.empty()) return std::string("a device such as ram:64M or null:1G");
         o->filename = e.value;
         o->filename_loc = e.loc;
         return std::string();
       }},
      {{"ioengine"},
       [](JobOptions* o, const OptEntry& e) {
         static const char* const kKnown[] = {"bio",    "psync",    "sync",   "pvsync2",
                                              "pvsync", "io_uring", "libaio", "null"};
         if (std::find(std::begin(kKnown), std::end(kKnown), e.value) == std::end(kKnown))
           return std::string("one of bio, psync, sync, pvsync, pvsync2, io_uring, libaio, null");
         o->ioengine = e.value;
         o->engine_loc = e.loc;
         return std::string();
       }},
      {{"iodepth"},
       [](JobOptions* o, const OptEntry& e) {
         o->iodepth_set = true;
         return set_uint(e, 1, 65536, &o->iodepth);
       }},
      {{"iodepth_batch_submit", "iodepth_batch"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 65536, &o->iodepth_batch); }},
      {{"iodepth_batch_complete_min", "iodepth_batch_complete"},
       [](JobOptions* o, const OptEntry& e) {
         return set_uint(e, 0, 65536, &o->iodepth_batch_complete_min);
       }},
      {{"iodepth_low"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 65536, &o->iodepth_low); }},
      {{"numjobs"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 1, 4096, &o->numjobs); }},
      {{"runtime", "timeout"},
       [](JobOptions* o, const OptEntry& e) { return set_time(e, &o->runtime_ns); }},
      {{"time_based"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->time_based); }},
      {{"ramp_time"},
       [](JobOptions* o, const OptEntry& e) { return set_time(e, &o->ramp_time_ns); }},
      {{"startdelay"},
       [](JobOptions* o, const OptEntry& e) { return set_time(e, &o->startdelay_ns); }},
      {{"direct"}, [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->direct); }},
      {{"buffered"},
       [](JobOptions* o, const OptEntry& e) {
         bool b;
         auto r = set_bool(e, &b);
         if (r.empty()) o->direct = !b;
         return r;
       }},
      {{"fsync"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 1u << 30, &o->fsync_blocks); }},
      {{"fdatasync"},
       [](JobOptions* o, const OptEntry& e) {
         return set_uint(e, 0, 1u << 30, &o->fdatasync_blocks);
       }},
      {{"end_fsync"}, [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->end_fsync); }},
      {{"prio"},
       [](JobOptions* o, const OptEntry& e) {
         unsigned v;
         auto r = set_uint(e, 0, 7, &v);
         if (r.empty()) o->prio = static_cast<int>(v);
         return r;
       }},
      {{"prioclass"},
       [](JobOptions* o, const OptEntry& e) {
         unsigned v;
         auto r = set_uint(e, 0, 3, &v);
         if (r.empty()) o->prioclass = static_cast<int>(v);
         return r;
       }},
      // fio puts the job in this cgroup (created if missing) and writes
      // cgroup_weight, which fio takes from 100 to 1000, as its weight.
      {{"cgroup"},
       [](JobOptions* o, const OptEntry& e) {
         task::Blkcg* cg;
         if (e.value.empty() || task::blkcg_lookup_create(e.value, &cg) < 0)
           return std::string("a cgroup path such as a or a/b");
         o->cgroup = e.value;
         return std::string();
       },
       "run the job in this io cgroup (a model: bfq schedules a group per cgroup)"},
      {{"cgroup_weight"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 100, 1000, &o->cgroup_weight); },
       "the cgroup's io.bfq.weight, 100 to 1000 (with cgroup=)"},
      {{"cgroup_nodelete"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->cgroup_nodelete); }},
      {{"rate_iops"},
       [](JobOptions* o, const OptEntry& e) {
         return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
           std::uint64_t v;
           if (!parse_size(s, &v)) return "an I/O rate such as 1000 or 10k";
           o->rate_iops[d] = v;
           return {};
         });
       }},
      {{"rate"},
       [](JobOptions* o, const OptEntry& e) {
         return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
           std::uint64_t v;
           if (!parse_size(s, &v)) return "a rate in bytes per second such as 500k or 1m";
           o->rate_bps[d] = v;
           return {};
         });
       }},
      // fio's thinktime and thinktime_spin count microseconds by default.
      {{"thinktime"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_time_ns(e.value, 1000, &o->thinktime_ns))
           return std::string("a time such as 100 (us), 10ms or 1s");
         return std::string();
       }},
      {{"thinktime_spin"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_time_ns(e.value, 1000, &o->thinktime_spin_ns))
           return std::string("a time such as 100 (us), 10ms or 1s");
         return std::string();
       }},
      {{"thinktime_blocks"},
       [](JobOptions* o, const OptEntry& e) {
         return set_uint(e, 1, 1u << 30, &o->thinktime_blocks);
       }},
      {{"thinktime_blocks_type"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value != "complete" && e.value != "issue") return std::string("complete or issue");
         o->thinktime_blocks_issue = e.value == "issue";
         return std::string();
       }},
      // The run's clock: in [global] (job_builder checks), or --clock.
      {{"clock"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value != "real" && e.value != "virtual") return std::string("real or virtual");
         o->virtual_clock = e.value == "virtual";
         o->clock_loc = e.loc;
         return std::string();
       }},
      {{"clocksource"},
       [](JobOptions* o, const OptEntry& e) {
         ClockSource s;
         if (!parse_clock_source(e.value, &s)) return std::string("cpu, clock_gettime or gettimeofday");
         o->clocksource = e.value;
         o->clocksource_loc = e.loc;
         return std::string();
       },
       "the source of real-time timestamps; by default cpu (the TSC) where it is invariant"},
      {{"randseed"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->randseed)) return std::string("an integer seed");
         o->randseed_set = true;
         return std::string();
       }},
      {{"rw_sequencer"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value == "sequential")
           o->rw_seq = 0;
         else if (e.value == "identical")
           o->rw_seq = 1;
         else
           return std::string("sequential or identical");
         return std::string();
       }},
      {{"percentage_random", "percentage_sequential"},
       [](JobOptions* o, const OptEntry& e) {
         const bool inv = e.key == "percentage_sequential";
         return per_ddir(e.value, [&](int d, const std::string& s) -> std::string {
           std::uint64_t v;
           if (!parse_uint(s, &v) || v > 100) return "a percentage from 0 to 100";
           o->perc_rand[d] = static_cast<unsigned>(inv ? 100 - v : v);
           return {};
         });
       }},
      {{"random_distribution"}, set_random_distribution},
      {{"random_generator"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value == "tausworthe")
           o->random_generator = RandGen::kTausworthe;
         else if (e.value == "lfsr")
           o->random_generator = RandGen::kLfsr;
         else if (e.value == "tausworthe64")
           o->random_generator = RandGen::kTausworthe64;
         else
           return std::string("one of tausworthe, lfsr, tausworthe64");
         return std::string();
       }},
      {{"offset_increment"},
       [](JobOptions* o, const OptEntry& e) {
         return set_size_or_percent(e, &o->offset_increment, &o->offset_increment_percent);
       }},
      {{"fill_device", "fill_fs"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->fill_device); }},
      {{"zonemode"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value == "none") {
           o->zone_strided = false;
         } else if (e.value == "strided") {
           o->zone_strided = true;
         } else if (e.value == "zbd") {
           return std::string(
               "none or strided (zonemode=zbd needs a zoned block device, which iostack does "
               "not model)");
         } else {
           return std::string("none, strided or zbd");
         }
         return std::string();
       }},
      {{"zonesize"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->zone_size)) return std::string("a size such as 1m");
         return std::string();
       }},
      {{"zonerange"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->zone_range)) return std::string("a size such as 4m");
         return std::string();
       }},
      {{"zoneskip"},
       [](JobOptions* o, const OptEntry& e) {
         if (!parse_size(e.value, &o->zone_skip)) return std::string("a size such as 1m");
         return std::string();
       }},
      {{"randrepeat"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->randrepeat); }},
      {{"norandommap"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->norandommap); }},
      {{"verify"}, set_verify},
      {{"verify_pattern"},
       [](JobOptions* o, const OptEntry& e) {
         std::string why;
         if (!parse_verify_pattern(e.value, &o->verify_pattern, &why)) return why;
         // fio: a pattern without a checksum method verifies a header and
         // the pattern (VERIFY_PATTERN; verify=pattern has no header).
         if (o->verify == VerifyType::kNone) {
           o->verify = VerifyType::kPatternHdr;
           o->verify_name = "pattern";
         }
         return std::string();
       }},
      {{"do_verify"}, [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->do_verify); }},
      {{"verify_fatal"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->verify_fatal); }},
      {{"verify_only"},
       [](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->verify_only); }},
      {{"verify_interval"},
       [](JobOptions* o, const OptEntry& e) {
         std::uint64_t v;
         if (!parse_size(e.value, &v) || v % 512 || v > (16u << 20))
           return std::string("a multiple of 512 bytes, at most 16m");
         o->verify_interval = static_cast<std::uint32_t>(v);
         return std::string();
       }},
      {{"group_reporting"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->group_reporting); }},
      {{"stonewall", "wait_for_previous"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->stonewall); }},
      {{"new_group"}, [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->new_group); }},
      // Engine options (fio's FIO_OPT_C_ENGINE): io_uring, libaio, cmdprio.
      {{"fixedbufs"},
       engine_opt([](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->fixedbufs); }),
       "[io_uring] register the job's I/O buffers (IORING_REGISTER_BUFFERS) and issue "
       "READ_FIXED/WRITE_FIXED with buf_index"},
      {{"registerfiles"},
       engine_opt([](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->registerfiles); }),
       "[io_uring] register the device's descriptor (IORING_REGISTER_FILES) and issue SQEs "
       "with IOSQE_FIXED_FILE"},
      {{"sqthread_poll"},
       engine_opt([](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->sqthread_poll); }),
       "[io_uring] IORING_SETUP_SQPOLL: a polling thread submits; the job enters only to "
       "wake it (IORING_SQ_NEED_WAKEUP) and reaps by polling the CQ ring; implies "
       "registerfiles"},
      {{"sqthread_poll_cpu"},
       engine_opt([](JobOptions* o, const OptEntry& e) {
         unsigned v;
         auto r = set_uint(e, 0, 65535, &v);
         if (r.empty()) o->sqthread_poll_cpu = static_cast<int>(v);
         return r;
       }),
       "[io_uring] with sqthread_poll: the CPU of the polling thread (IORING_SETUP_SQ_AFF)"},
      // io_uring polled completion: iostack's devices have no poll queues,
      // so as with a kernel device without them, hipri changes nothing.
      {{"hipri"},
       engine_opt([](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->hipri); }),
       "[io_uring] accepted and ignored: iostack's devices have no poll queues, so "
       "completions are never polled (IORING_SETUP_IOPOLL is not set)"},
      {{"userspace_reap"},
       engine_opt([](JobOptions* o, const OptEntry& e) { return set_flag(e, &o->userspace_reap); }),
       "[libaio] when reaping with a minimum of 0 (iodepth_batch_complete_min=0), read "
       "completions from the AIO ring in user space instead of calling io_getevents"},
      {{"cmdprio_percentage"},
       engine_opt([](JobOptions* o, const OptEntry& e) {
         return set_rw_pair(e, 0, 100, &o->cmdprio_percentage);
       }),
       "[io_uring] [libaio] percentage of I/Os (read,write) issued with the priority of "
       "cmdprio_class/cmdprio, set per command (SQE ioprio, IOCB_FLAG_IOPRIO)"},
      {{"cmdprio_class"},
       engine_opt([](JobOptions* o, const OptEntry& e) {
         return set_rw_pair(e, 1, 3, &o->cmdprio_class);
       }),
       "[io_uring] [libaio] priority class (read,write) of those I/Os: 1 RT, 2 BE, 3 IDLE; "
       "default RT"},
      {{"cmdprio"},
       engine_opt([](JobOptions* o, const OptEntry& e) {
         return set_rw_pair(e, 0, 7, &o->cmdprio_level);
       }),
       "[io_uring] [libaio] priority level (read,write) of those I/Os, 0 (highest) to 7; "
       "default 0"},
      {{"cmdprio_bssplit"},
       engine_opt(set_cmdprio_bssplit),
       "[io_uring] [libaio] per block size percentages, bs/perc[/class/level]:...[,writes]; "
       "exclusive with cmdprio_percentage"},
      // fio's log files (iolog.c): write_*_log=prefix, the job name if empty.
      {{"write_lat_log"},
       set_log(&JobOptions::write_lat_log, &JobOptions::lat_log_file),
       "prefix_lat.N.log, prefix_slat.N.log, prefix_clat.N.log: latency of every I/O (ns)"},
      {{"write_bw_log"},
       set_log(&JobOptions::write_bw_log, &JobOptions::bw_log_file),
       "prefix_bw.N.log: bandwidth (KiB/s) per I/O or per log_avg_msec"},
      {{"write_iops_log"},
       set_log(&JobOptions::write_iops_log, &JobOptions::iops_log_file),
       "prefix_iops.N.log: IOPS per I/O or per log_avg_msec"},
      {{"write_hist_log"},
       set_log(&JobOptions::write_hist_log, &JobOptions::hist_log_file),
       "prefix_clat_hist.N.log: completion latency histogram every log_hist_msec"},
      {{"log_avg_msec"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 86400000, &o->log_avg_msec); },
       "average log entries over this many ms (0: one entry per I/O)"},
      {{"log_hist_msec"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 86400000, &o->log_hist_msec); },
       "one histogram log line per this many ms"},
      {{"log_hist_coarseness"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 0, 6, &o->log_hist_coarseness); },
       "merge 2^N histogram buckets per column (0-6)"},
      {{"log_offset"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->log_offset); },
       "add each I/O's offset to the log lines"},
      {{"log_prio"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->log_prio); },
       "log the I/O's full priority (0x%04x) instead of 1 for RT, 0 otherwise"},
      {{"log_max_value"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->log_max_value); },
       "with log_avg_msec, log the window's maximum instead of its mean"},
      {{"per_job_logs"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->per_job_logs); },
       "0: one log file per prefix instead of prefix_type.N.log"},
      // Replay of an iolog or blktrace (iolog.c, blktrace.c).
      {{"read_iolog"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value.empty()) return std::string("a trace file (fio iolog, blktrace or MSR CSV)");
         o->read_iolog = e.value;
         o->read_iolog_loc = e.loc;
         return std::string();
       }},
      {{"write_iolog"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value.empty()) return std::string("a file to append the job's iolog to");
         o->write_iolog = e.value;
         o->write_iolog_loc = e.loc;
         return std::string();
       },
       "append the job's I/O to this file as fio's iolog (version 3)"},
      {{"replay_no_stall"},
       [](JobOptions* o, const OptEntry& e) { return set_bool(e, &o->replay_no_stall); }},
      {{"replay_time_scale"},
       [](JobOptions* o, const OptEntry& e) {
         return set_uint(e, 1, 1000000, &o->replay_time_scale);
       }},
      {{"replay_redirect"},
       [](JobOptions* o, const OptEntry& e) {
         if (e.value.empty()) return std::string("a device such as ram:64M");
         o->replay_redirect = e.value;
         o->filename_loc = e.loc;
         return std::string();
       }},
      {{"replay_align"},
       [](JobOptions* o, const OptEntry& e) {
         std::uint64_t v;
         if (!parse_size(e.value, &v) || v == 0 || (v & (v - 1)) != 0)
           return std::string("a power of 2 such as 4k");
         o->replay_align = v;
         return std::string();
       }},
      {{"replay_scale"},
       [](JobOptions* o, const OptEntry& e) {
         std::uint64_t v;
         if (!parse_size(e.value, &v) || v == 0) return std::string("a divisor of 1 or more");
         o->replay_scale = v;
         return std::string();
       }},
      {{"replay_skip"}, set_replay_skip},
      // iostack always runs jobs as threads; fio's switch is accepted.
      {{"thread", "threads"},
       [](JobOptions*, const OptEntry& e) {
         bool b;
         return set_bool(e, &b);
       }},
      // What fio measures or prints less of, and page cache handling:
      // iostack always measures everything and its devices have no page
      // cache to drop, so these change nothing.
      {{"gtod_reduce", "disable_lat", "disable_clat", "disable_slat", "disable_bw_measurement",
        "disable_bw", "clat_percentiles", "lat_percentiles", "slat_percentiles", "invalidate"},
       [](JobOptions*, const OptEntry& e) {
         bool b;
         return set_flag(e, &b);
       },
       "accepted and ignored: iostack always measures every latency, and its devices have no "
       "page cache to invalidate"},
      {{"create_serialize", "allow_file_create", "create_fsync", "create_only"},
       [](JobOptions*, const OptEntry& e) {
         bool b;
         return set_flag(e, &b);
       },
       "accepted and ignored: iostack's targets are devices, no file is created"},
      {{"loops"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 1, 1u << 30, &o->loops); },
       "run the job's I/O this many times over (a new pass over the range each time)"},
      {{"kb_base"},
       [](JobOptions*, const OptEntry& e) {
         if (e.value != "1024") return std::string("1024 (iostack reads 4k as 4096 bytes)");
         return std::string();
       }},
      // Device options: the queue's /sys/block attributes, stored in order.
      {{"ioscheduler", "scheduler"},
       [](JobOptions* o, const OptEntry& e) { return set_queue_attr(o, e, "scheduler"); }},
      {{"nr_requests"},
       [](JobOptions* o, const OptEntry& e) { return set_queue_attr(o, e, "nr_requests"); }},
      {{"max_sectors_kb"},
       [](JobOptions* o, const OptEntry& e) { return set_queue_attr(o, e, "max_sectors_kb"); }},
      {{"nomerges"},
       [](JobOptions* o, const OptEntry& e) { return set_queue_attr(o, e, "nomerges"); }},
      {{"queue_depth", "hw_queue_depth"},
       [](JobOptions* o, const OptEntry& e) { return set_uint(e, 1, 4096, &o->queue_depth); }},
  };
  return t;
}

// fio options that iostack knows but does not implement: say so rather
// than "unknown".
bool is_unsupported_fio_option(const std::string& k) {
  static const char* const kNames[] = {"nrfiles",
                                       "nr_files",
                                       "flow",
                                       "flow_id",
                                       "flow_sleep",
                                       "io_submit_mode",
                                       "latency_target",
                                       "latency_window",
                                       "latency_percentile",
                                       "buffer_pattern",
                                       "buffer_compress_percentage",
                                       "dedupe_percentage",
                                       "dedupe_mode",
                                       "dedupe_working_set_percentage",
                                       "numa_cpu_nodes",
                                       "numa_mem_policy",
                                       "ss",
                                       "steadystate",
                                       "ss_dur",
                                       "ss_ramp",
                                       "wait_for",
                                       "exit_what",
                                       "continue_on_error",
                                       "ignore_error",
                                       "inplace",
                                       "unlink",
                                       "mem",
                                       "iomem",
                                       "scramble_buffers",
                                       "rate_process",
                                       "ratemin",
                                       "cpumode",
                                       "cpuload",
                                       "cpus_allowed_policy",
                                       "verify_dump",
                                       "percentile_list",
                                       "read_beyond_wp",
                                       "max_open_zones",
                                       "nfs_url",
                                       "rate_min",
                                       "thinktime_iotime",
                                       "iodepth_batch_complete_max",
                                       "ioscheduler_opts",
                                       "filesize",
                                       "file_service_type",
                                       "openfiles",
                                       "rwmixcycle",
                                       "unified_rw_reporting",
                                       "verify_offset",
                                       "verify_backlog",
                                       "verify_async",
                                       "experimental_verify",
                                       "create_on_open",
                                       "fallocate",
                                       "lockmem",
                                       "cpus_allowed",
                                       "cpumask",
                                       "nice",
                                       "exitall",
                                       "exec_prerun",
                                       "exec_postrun"};
  return std::find(std::begin(kNames), std::end(kNames), k) != std::end(kNames);
}

}  // namespace

bool apply_option(JobOptions* o, const OptEntry& e, std::string* err) {
  const std::string where = e.loc.str() + ": ";
  // iosched/<tunable> (also iosched.<tunable>): the scheduler's own attribute.
  for (const char* pfx : {"iosched/", "iosched."}) {
    if (e.key.rfind(pfx, 0) == 0 && e.key.size() > 8) {
      const std::string r = set_queue_attr(o, e, "iosched/" + e.key.substr(8));
      if (!r.empty()) {
        *err = where + e.key + ": expected " + r;
        return false;
      }
      o->given.emplace_back(e.key, e.value);
      return true;
    }
  }
  for (const auto& def : table()) {
    if (std::find(def.names.begin(), def.names.end(), e.key) == def.names.end()) continue;
    const std::string r = def.fn(o, e);
    if (!r.empty()) {
      *err = where + e.key + "=" + e.value + ": expected " + r;
      return false;
    }
    o->given.emplace_back(e.key, e.value);
    return true;
  }
  if (is_unsupported_fio_option(e.key)) {
    *err = where + e.key + ": fio option not supported by iostack";
    return false;
  }
  *err = where + e.key + ": unknown option";
  return false;
}

OptionStatus option_status(const std::string& key) {
  if ((key.rfind("iosched/", 0) == 0 || key.rfind("iosched.", 0) == 0) && key.size() > 8)
    return OptionStatus::kAccepted;
  for (const auto& def : table())
    if (std::find(def.names.begin(), def.names.end(), key) != def.names.end())
      return OptionStatus::kAccepted;
  return is_unsupported_fio_option(key) ? OptionStatus::kUnsupported : OptionStatus::kUnknown;
}

std::string option_help(const std::string& name) {
  for (const auto& def : table())
    if (std::find(def.names.begin(), def.names.end(), name) != def.names.end()) return def.help;
  return {};
}

std::vector<std::string> option_names() {
  std::vector<std::string> names;
  for (const auto& def : table())
    for (const auto& n : def.names) names.push_back(n);
  names.push_back("iosched/<tunable>");
  return names;
}

}  // namespace iostack::job
