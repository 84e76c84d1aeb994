// The campaign loop, seed comparison and minimisation (templates over the
// interface's program type).
#pragma once

#include <time.h>

#include <cstdio>

#include "campaign.hpp"
#include "child.hpp"

namespace fuzz {

template <typename Prog>
struct Campaign {
  const Target<Prog>& t;
  const Options& o;

  RunResult run(const Prog& p, bool kernel) const {
    return run_in_child(
        o.tmpdir, [&](const std::string& dir) { return t.execute(p, kernel, dir, o.quiet_ms); },
        o.timeout_ms);
  }

  static std::string status_str(const RunResult& r) {
    if (r.status == RunResult::kTimeout) return "timeout";
    if (r.status == RunResult::kCrash) return "crash(" + std::to_string(r.signal) + ")";
    return "ok";
  }

  Outcome compare(const Prog& p, RunResult* k_out = nullptr, RunResult* i_out = nullptr) const {
    Outcome out;
    const RunResult k1 = run(p, true);
    const RunResult k2 = run(p, true);
    if (k1.status != RunResult::kOk || k2.status != RunResult::kOk || k1.log != k2.log) {
      out.kind = Outcome::kUnstable;
      if (k1.status == RunResult::kOk && k2.status == RunResult::kOk)
        for (const auto& [key, v] : log_diff(k1.log, k2.log))
          out.diff.push_back(key + ": kernel=" + v.first + " kernel again=" + v.second);
      return out;
    }
    const RunResult i = run(p, false);
    if (k_out) *k_out = k1;
    if (i_out) *i_out = i;
    if (i.status != RunResult::kOk) {
      out.kind = Outcome::kDivergent;
      out.cls = "iostack " + status_str(i);
      out.diff.push_back(out.cls);
      return out;
    }
    if (i.log == k1.log) return out;
    const auto d = log_diff(k1.log, i.log);
    out.kind = Outcome::kDivergent;
    for (const auto& [key, v] : d)
      out.diff.push_back(key + ": kernel=" + v.first + " iostack=" + v.second);
    // The class of the most telling difference: submission counts first,
    // then CQEs, then state.
    const std::pair<std::string, std::pair<std::string, std::string>>* pick = &d.front();
    auto is_submit = [](const std::string& k) {
      return (k.rfind("enter ", 0) == 0 && k != "enter cancel") || k.rfind("io_submit ", 0) == 0;
    };
    for (const auto& e : d)
      if (is_submit(e.first)) {
        pick = &e;
        break;
      }
    if (!is_submit(pick->first)) {
      for (const auto& e : d)
        if (e.first.rfind("cqe", 0) == 0 || e.first.rfind("ev", 0) == 0) {
          pick = &e;
          break;
        }
    }
    out.cls = t.classify(p, Log::parse(k1.log), Log::parse(i.log), pick->first, pick->second.first,
                         pick->second.second);
    for (const std::string& a : o.allowed)
      if (out.cls.rfind(a, 0) == 0) out.kind = Outcome::kAllowed;
    return out;
  }

  // A difference counts only when it comes back: a seed whose answer
  // changes from one repetition to the next depends on timing (as when the
  // kernel disagrees with itself). Four more looks: on a loaded machine a
  // timing-dependent kernel answer can repeat a few times in a row.
  Outcome confirmed(const Prog& p) const {
    Outcome oc = compare(p);
    for (int i = 0; i < 4 && (oc.kind == Outcome::kDivergent || oc.kind == Outcome::kAllowed);
         ++i) {
      const Outcome again = compare(p);
      if (again.kind != oc.kind || again.cls != oc.cls) {
        oc.kind = Outcome::kUnstable;
        break;
      }
    }
    return oc;
  }

  // Drops items one at a time while the same class of difference remains
  // (at most 150 trials: hangs and crashes make each one slow).
  Prog minimize(Prog p, const std::string& cls) const {
    bool changed = true;
    int budget = cls.rfind("iostack ", 0) == 0 ? 10 : 150;
    while (changed && budget > 0) {
      changed = false;
      for (std::size_t i = t.items(p); i-- > 0 && budget-- > 0;) {
        const Prog q = t.without(p, i);
        const Outcome oc = compare(q);
        if ((oc.kind == Outcome::kDivergent || oc.kind == Outcome::kAllowed) && oc.cls == cls) {
          p = q;
          changed = true;
        }
      }
    }
    return p;
  }

  void show(Prog p) const {
    RunResult k, i;
    Outcome oc = compare(p, &k, &i);
    if (o.minimize && oc.kind == Outcome::kDivergent) {
      p = minimize(p, oc.cls);
      oc = compare(p, &k, &i);
    }
    std::printf("%s", t.print(p).c_str());
    if (oc.kind == Outcome::kUnstable) {
      std::printf("kernel unstable: two kernel runs differ\n");
      for (const auto& l : oc.diff) std::printf("  %s\n", l.c_str());
      return;
    }
    if (oc.kind == Outcome::kIdentical) {
      std::printf("identical\n");
      if (o.verbose) std::printf("%s", k.log.c_str());
      return;
    }
    std::printf("class: %s\n", oc.cls.c_str());
    for (const auto& l : oc.diff) std::printf("  %s\n", l.c_str());
    if (o.verbose) std::printf("--- kernel\n%s--- iostack\n%s", k.log.c_str(), i.log.c_str());
  }

  Summary run_all() const {
    Summary s;
    std::map<std::string, unsigned> shown;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (std::uint64_t seed = o.start; seed < o.start + o.seeds; ++seed) {
      if (o.time_limit_s) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= o.time_limit_s) break;
      }
      const Prog p = t.generate(seed);
      const Outcome oc = confirmed(p);
      s.seeds++;
      switch (oc.kind) {
        case Outcome::kIdentical:
          s.identical++;
          break;
        case Outcome::kUnstable:
          s.unstable++;
          if (o.verbose)
            std::printf("seed %llu: kernel unstable\n", static_cast<unsigned long long>(seed));
          break;
        case Outcome::kDivergent:
        case Outcome::kAllowed: {
          (oc.kind == Outcome::kDivergent ? s.divergent : s.allowed)++;
          if (o.verbose)
            std::printf("seed %llu: %s: %s\n", static_cast<unsigned long long>(seed),
                        oc.kind == Outcome::kDivergent ? "divergent" : "allowed", oc.cls.c_str());
          s.by_class[oc.cls]++;
          auto& v = s.class_seeds[oc.cls];
          if (v.size() < 8) v.push_back(seed);
          if (oc.kind == Outcome::kDivergent && shown[oc.cls]++ < o.examples) {
            std::printf("== %s seed %llu: %s\n", t.name, static_cast<unsigned long long>(seed),
                        oc.cls.c_str());
            const Prog m = o.minimize ? minimize(p, oc.cls) : p;
            std::printf("%s", t.print(m).c_str());
            const Outcome mo = o.minimize ? compare(m) : oc;
            for (const auto& l : mo.diff) std::printf("  ! %s\n", l.c_str());
            std::fflush(stdout);
          }
          break;
        }
      }
      if (o.verbose && s.seeds % 500 == 0)
        std::fprintf(stderr, "%s: %llu seeds, %llu divergent\n", t.name,
                     static_cast<unsigned long long>(s.seeds),
                     static_cast<unsigned long long>(s.divergent));
    }
    return s;
  }
};

}  // namespace fuzz
