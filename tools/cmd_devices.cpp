// iostack devices: iostack's devices live inside the process that creates
// them, so this creates each SPEC and shows what a job naming it would get,
// like lsblk plus the queue's scheduler and depth.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "commands.hpp"
#include "dev/device.hpp"
#include "job/num2str.hpp"

namespace iostack::tool {

int cmd_devices(const std::vector<std::string>& specs_in) {
  std::vector<std::string> specs = specs_in;
  if (specs.empty()) specs = {"ram:256M", "null:1G"};
  std::vector<std::unique_ptr<dev::BlockDevice>> devs;
  for (const auto& s : specs) {
    std::string err;
    auto d = dev::create_device(s, nullptr, &err);
    if (!d) {
      std::fprintf(stderr, "iostack devices: %s\n", err.c_str());
      return 1;
    }
    devs.push_back(std::move(d));
  }
  std::printf("%-8s %-8s %8s %-9s %-12s %5s %4s %8s  %s\n", "NAME", "MAJ:MIN", "SIZE", "DRIVER",
              "SCHED", "QD", "HWQ", "MAXSECKB", "SPEC");
  for (std::size_t i = 0; i < devs.size(); ++i) {
    // A stacking target's devices below it follow, indented as lsblk -s does.
    int depth = 0;
    for (const dev::BlockDevice* x = devs[i].get(); x; x = x->lower(), ++depth) {
      const auto& d = *x;
      const auto* q = d.queue();
      const std::uint64_t bytes = d.disk()->capacity() << block::kSectorShift;
      std::string max_kb;
      q->attr_show("max_sectors_kb", &max_kb);
      const std::string name =
          depth ? std::string(2 * (depth - 1), ' ') + "`-" + d.name() : d.name();
      std::string line =
          fmt::format("{:<8} {:<8} {:>8} {:<9} {:<12} {:>5} {:>4} {:>8}  {}", name,
                      fmt::format("{}:{}", d.disk()->major(), d.disk()->minor()),
                      job::num2str(bytes, 4, 1, true, job::N2S::kByte), d.driver()->name(),
                      q->elevator() ? q->elevator()->name() : "none", q->queue_depth(),
                      q->nr_hw_queues(), max_kb, depth ? "" : specs[i]);
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::printf("%s\n", line.c_str());
    }
  }
  return 0;
}

}  // namespace iostack::tool
