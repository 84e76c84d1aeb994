// Naming a difference between the kernel's and iostack's io_uring runs.
#include <linux/io_uring.h>

#include <cstdlib>

#include "campaign.hpp"
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

// The SQE a submission stopped at (the `count`-th of the step's batch),
// with the CQEs both runs gave it.
std::string stop_op(const UringProgram& p, const Log& klog, const Log& ilog, unsigned step,
                    long count) {
  unsigned n = 0;
  for (const Step& st : p.steps) {
    if (st.kind != Step::kSubmit) continue;
    if (n++ != step) continue;
    if (count >= 1 && static_cast<std::size_t>(count) <= st.sqes.size()) {
      const SqeSpec& s = st.sqes[static_cast<std::size_t>(count) - 1];
      const std::string key = "cqe " + std::to_string(s.user_data) + "#0";
      return uring_op_name(s.opcode) + " (kernel " + res_of(log_value(klog, key)) + ", iostack " +
             res_of(log_value(ilog, key)) + ")";
    }
  }
  return "?";
}

}  // namespace

std::string uring_classify(const UringProgram& p, const Log& klog, const Log& ilog, const std::string& key, const std::string& kval,
                           const std::string& ival) {
  if (key.rfind("enter ", 0) == 0 && key != "enter cancel") {
    const unsigned step = static_cast<unsigned>(std::atoi(key.c_str() + 6));
    const long k = std::atol(kval.c_str());
    const long i = std::atol(ival.c_str());
    if (k < i) return "submit count: kernel stops at " + stop_op(p, klog, ilog, step, k);
    return "submit count: iostack stops at " + stop_op(p, klog, ilog, step, i);
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
