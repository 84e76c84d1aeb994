// Naming a difference between the kernel's and iostack's io_uring runs.
#include <linux/io_uring.h>

#include <cstdlib>

#include "uring_prog.hpp"

namespace fuzz {

namespace {

// "res=-EINVAL flags=0x0" -> "-EINVAL"; positive results -> "+".
std::string res_of(const std::string& v) {
  if (v == "none") return "none";
  const auto b = v.find("res=");
  const auto e = v.find(' ', b);
  std::string r = v.substr(b + 4, e - b - 4);
  if (!r.empty() && (std::isdigit(static_cast<unsigned char>(r[0])) && r != "0")) r = "+";
  return r;
}

// The SQE a submission stopped at: the `count`-th of the step's batch.
std::string stop_op(const UringProgram& p, unsigned step, long count) {
  unsigned n = 0;
  for (const Step& st : p.steps) {
    if (st.kind != Step::kSubmit) continue;
    if (n++ != step) continue;
    if (count >= 1 && static_cast<std::size_t>(count) <= st.sqes.size())
      return uring_op_name(st.sqes[static_cast<std::size_t>(count) - 1].opcode);
  }
  return "?";
}

}  // namespace

std::string uring_classify(const UringProgram& p, const std::string& key, const std::string& kval,
                           const std::string& ival) {
  if (key.rfind("enter ", 0) == 0 && key != "enter cancel") {
    const unsigned step = static_cast<unsigned>(std::atoi(key.c_str() + 6));
    const long k = std::atol(kval.c_str());
    const long i = std::atol(ival.c_str());
    if (k < i) return "submit count: kernel stops at " + stop_op(p, step, k);
    return "submit count: iostack stops at " + stop_op(p, step, i);
  }
  if (key.rfind("cqe ", 0) == 0) {
    const std::uint64_t ud = std::strtoull(key.c_str() + 4, nullptr, 10);
    const std::string op = uring_op_of(p, ud);
    const std::string kr = res_of(kval), ir = res_of(ival);
    if (kr == ir) return op + ": flags " + kval.substr(kval.find("flags=")) + " vs " + ival.substr(ival.find("flags="));
    return op + ": kernel " + kr + ", iostack " + ir;
  }
  return "state: " + key;
}

}  // namespace fuzz
