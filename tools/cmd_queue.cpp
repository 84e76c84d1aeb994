// iostack queue SPEC [ATTR [VALUE]]: the device's /sys/block/<dev>/queue
// attributes. With no ATTR every attribute is shown, with ATTR its value,
// with VALUE it is stored (validated as sysfs does) and shown again.
// iostack queue SPEC message MSG...: sends each MSG (one argument of words,
// e.g. "addbadblock 5") to the stacking targets in order, as dmsetup
// message does, printing each answer. iostack queue SPEC powercut is
// "message powercut" (for a wcache target).
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "dev/device.hpp"

namespace iostack::tool {

namespace {

int send_messages(dev::BlockDevice* d, const std::vector<std::string>& args) {
  for (std::size_t i = 2; i < args.size(); ++i) {
    std::vector<std::string> argv;
    std::istringstream words(args[i]);
    for (std::string w; words >> w;) argv.push_back(w);
    std::string result;
    const int r = d->message(argv, &result);
    if (r < 0) {
      std::fprintf(stderr, "iostack queue: message \"%s\" to %s: %s\n", args[i].c_str(),
                   d->name().c_str(), std::strerror(-r));
      return 1;
    }
    if (r == 1) {
      if (!result.empty() && result.back() == '\n') result.pop_back();  // listbadblocks
      std::printf("%s\n", result.c_str());
    }
  }
  return 0;
}

}  // namespace

int cmd_queue(const std::vector<std::string>& args) {
  const bool message = args.size() >= 3 && args[1] == "message";
  if (args.empty() || (args.size() > 3 && !message)) {
    std::fputs(
        "usage: iostack queue SPEC [ATTR [VALUE]]   (SPEC e.g. ram:64M)\n"
        "       iostack queue SPEC message MSG...   (MSG e.g. \"addbadblock 5\")\n",
        stderr);
    return 1;
  }
  std::string err;
  auto d = dev::create_device(args[0], nullptr, &err);
  if (!d) {
    std::fprintf(stderr, "iostack queue: %s\n", err.c_str());
    return 1;
  }
  if (message) return send_messages(d.get(), args);
  if (args.size() == 2 && args[1] == "powercut")
    return send_messages(d.get(), {args[0], "message", "powercut"});
  auto* q = d->queue();
  const std::string base = "/sys/block/" + d->name() + "/queue/";
  if (args.size() == 1) {
    for (const auto& name : q->attr_names()) {
      std::string v;
      if (q->attr_show(name, &v) == 0)
        std::printf("%s%s:%s\n", base.c_str(), name.c_str(), v.c_str());
    }
    return 0;
  }
  const std::string& attr = args[1];
  if (args.size() == 3) {
    const int rc = q->attr_store(attr, args[2]);
    if (rc < 0) {
      std::fprintf(stderr, "iostack queue: %s%s: cannot store '%s': %s\n", base.c_str(),
                   attr.c_str(), args[2].c_str(),
                   rc == -ENOENT ? "no such attribute" : std::strerror(-rc));
      return 1;
    }
  }
  std::string v;
  const int rc = q->attr_show(attr, &v);
  if (rc < 0) {
    std::fprintf(stderr, "iostack queue: %s%s: %s\n", base.c_str(), attr.c_str(),
                 rc == -ENOENT ? "no such attribute" : std::strerror(-rc));
    return 1;
  }
  std::printf("%s\n", v.c_str());
  return 0;
}

}  // namespace iostack::tool
