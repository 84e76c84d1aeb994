// Reading fio job files into sections.
#include "job/job_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "job/parse.hpp"

namespace iostack::job {
namespace {

OptEntry make_entry(std::string_view line, const SrcLoc& loc) {
  OptEntry e;
  e.loc = loc;
  const auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    e.key = std::string(trim(line));
  } else {
    e.key = std::string(trim(line.substr(0, eq)));
    e.value = std::string(trim(line.substr(eq + 1)));
    e.has_value = true;
  }
  return e;
}

// fio's option_dup_subs: ${NAME} is the environment variable's value,
// empty when it is not set.
std::string expand_env(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    const auto close = in.compare(i, 2, "${") == 0 ? in.find('}', i + 2) : std::string::npos;
    if (close != std::string::npos && close > i + 2) {
      if (const char* v = std::getenv(in.substr(i + 2, close - i - 2).c_str())) out += v;
      i = close + 1;
    } else {
      out += in[i++];
    }
  }
  return out;
}

}  // namespace

bool parse_job_text(const std::string& text, const std::string& file, JobFileSet* out,
                    std::string* err) {
  JobFileSet set = *out;
  std::vector<OptEntry> globals = set.defaults;
  JobSection* cur = nullptr;
  bool in_global = false;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    const SrcLoc loc{file, lineno};
    // fio's strip_blank_end: a ';' or '#' anywhere starts a comment.
    raw = expand_env(raw.substr(0, raw.find_first_of(";#")));
    std::string_view line = trim(raw);
    if (line.empty()) continue;
    if (line[0] == '[') {
      if (line.back() != ']') {
        *err =
            loc.str() + ": malformed section header '" + std::string(line) + "' (expected [name])";
        return false;
      }
      const std::string name(trim(line.substr(1, line.size() - 2)));
      if (name.empty()) {
        *err = loc.str() + ": empty section name '[]'";
        return false;
      }
      if (name == "global") {
        in_global = true;
        cur = nullptr;
        continue;
      }
      in_global = false;
      set.jobs.push_back(JobSection{name, loc, globals, {}});
      cur = &set.jobs.back();
      continue;
    }
    OptEntry e = make_entry(line, loc);
    if (e.key.empty()) {
      *err = loc.str() + ": malformed line '" + std::string(line) + "' (expected option=value)";
      return false;
    }
    if (in_global) {
      globals.push_back(e);
      set.global_opts.push_back(e);
    } else if (cur) {
      cur->opts.push_back(e);
    } else {
      *err = loc.str() + ": option '" + e.key + "' is outside of any [section]";
      return false;
    }
  }
  *out = std::move(set);
  return true;
}

bool parse_job_file(const std::string& path, JobFileSet* out, std::string* err) {
  std::ifstream f(path);
  if (!f) {
    *err = "job file '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_job_text(ss.str(), path, out, err);
}

bool parse_job_args(const std::vector<std::string>& args, JobFileSet* out, std::string* err) {
  JobFileSet set = *out;
  JobSection* cur = nullptr;
  for (const auto& a : args) {
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      *err = "command line: '" + a + "' is not an option (expected --option=value)";
      return false;
    }
    OptEntry e = make_entry(std::string_view(a).substr(2), SrcLoc{});
    if (e.key == "name") {
      if (e.value.empty()) {
        *err = "command line: --name needs a value";
        return false;
      }
      set.jobs.push_back(JobSection{e.value, SrcLoc{}, set.defaults, {}});
      cur = &set.jobs.back();
      continue;
    }
    if (cur)
      cur->opts.push_back(e);
    else
      set.defaults.push_back(e);
  }
  *out = std::move(set);
  return true;
}

}  // namespace iostack::job
