// Charts: --plot=DIR on run and replay, iostack plot from saved JSON
// reports (a line per run), well-formed SVG with the expected series and
// labels, and, where a headless Chromium is installed, a picture that is
// not blank (skipped without one: Chromium is not a build dependency).
#include <gtest/gtest.h>

#include "tool_util.hpp"

namespace iostack::tool::test {
namespace {

const char* const kCharts[] = {"clat_cdf.svg", "iops.svg", "bw.svg", "inflight.svg"};

bool have(const char* prog) {
  return std::system((std::string("command -v ") + prog + " >/dev/null 2>&1").c_str()) == 0;
}

// Parses the file with python3's XML parser; "" when well-formed.
std::string xml_error(const std::string& path) {
  if (!have("python3")) return "";
  const std::string cmd =
      "python3 -c 'import sys,xml.etree.ElementTree as E; "
      "r=E.parse(sys.argv[1]).getroot(); "
      "sys.exit(0 if r.tag.endswith(\"svg\") else 3)' " +
      path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int st = p ? pclose(p) : -1;
  return st == 0 ? "" : "not well-formed: " + out;
}

// Minimal structure check that needs nothing installed: one root, every
// element closed in order.
bool tags_balanced(const std::string& s) {
  std::vector<std::string> stack;
  for (std::size_t i = s.find('<'); i != std::string::npos; i = s.find('<', i + 1)) {
    if (s.compare(i, 2, "<?") == 0) continue;
    const std::size_t end = s.find('>', i);
    if (end == std::string::npos) return false;
    const bool closing = s[i + 1] == '/', self = s[end - 1] == '/';
    std::size_t n = i + (closing ? 2 : 1);
    std::size_t e = n;
    while (e < end && s[e] != ' ' && s[e] != '/' && s[e] != '>') ++e;
    const std::string name = s.substr(n, e - n);
    if (closing) {
      if (stack.empty() || stack.back() != name) return false;
      stack.pop_back();
    } else if (!self) {
      stack.push_back(name);
    }
  }
  return stack.empty();
}

void expect_charts(const std::string& dir, const std::vector<std::string>& labels) {
  std::string all;
  for (const char* c : kCharts) {
    const std::string path = dir + "/" + c;
    const std::string svg = slurp(path);
    ASSERT_FALSE(svg.empty()) << path;
    EXPECT_TRUE(tags_balanced(svg)) << path;
    EXPECT_EQ(xml_error(path), "") << path;
    EXPECT_NE(svg.find("<polyline"), std::string::npos) << path;
    EXPECT_EQ(svg.find("no data"), std::string::npos) << path;
    all += svg;
  }
  for (const auto& l : labels) EXPECT_NE(all.find(l), std::string::npos) << l;
}

constexpr const char* kJob =
    "--name=j --filename=ram:16M --rw=randrw --bs=4k --ioengine=io_uring --iodepth=8 "
    "--time_based --runtime=500ms --rate_iops=4000";

TEST(Plot, RunWritesTheFourCharts) {
  const std::string dir = temp_dir() + "/charts";
  const Result r = run(std::string("run --output=/dev/null --plot=") + dir + " " + kJob);
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_charts(dir, {"j read", "j write", "completion latency (us, log scale)", "time (s)",
                      "bandwidth (MiB/s)", "IOPS", "in flight (device)", "percentile (%)"});
}

TEST(Plot, JsonKeepsTheSamplesAndPlotComparesRuns) {
  const std::string dir = temp_dir();
  for (const char* s : {"none", "kyber"}) {
    const Result r = run(std::string("run --output-format=json --output=") + dir + "/" + s +
                         ".json --ioscheduler=" + s + " " + kJob);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  const auto j = nlohmann::json::parse(slurp(dir + "/none.json"));
  const auto& smp = j["jobs"][0]["iostack_samples"];
  EXPECT_EQ(smp["interval_ms"], 100);
  EXPECT_GE(smp["t_ms"].size(), 2u);
  EXPECT_EQ(smp["read_iops"].size(), smp["t_ms"].size());
  EXPECT_EQ(j["jobs"][0]["iostack_clat_cdf"]["read"].size(), 104u);
  EXPECT_TRUE(j["disk_util"][0].contains("iostack_samples"));

  const Result r = run("plot " + dir + "/none.json " + dir + "/kyber.json --out=" + dir + "/cmp");
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_charts(dir + "/cmp", {"none: j read", "kyber: j read", "none: j write"});
}

// fio's own JSON report has no samples over time, but its percentiles
// still make a CDF next to iostack's.
TEST(Plot, ComparesWithFiosOwnJsonReport) {
  if (!have("fio")) GTEST_SKIP() << "fio not installed";
  const std::string dir = temp_dir();
  const std::string job = " --name=f --size=1M --rw=randread --bs=4k --ioengine=psync";
  ASSERT_EQ(std::system(("fio --output-format=json --output=" + dir +
                         "/fio.json --filename=" + dir + "/data" + job + " >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_EQ(
      run("run --output-format=json --output=" + dir + "/iostack.json --filename=ram:1M" + job).rc,
      0);
  const Result r = run("plot " + dir + "/fio.json " + dir + "/iostack.json --out=" + dir + "/c");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string cdf = slurp(dir + "/c/clat_cdf.svg");
  EXPECT_TRUE(tags_balanced(cdf));
  EXPECT_NE(cdf.find("fio: f read"), std::string::npos);
  EXPECT_NE(cdf.find("iostack: f read"), std::string::npos);
  std::remove((dir + "/data").c_str());
}

TEST(Plot, ReplayPlotsToo) {
  const auto f = write_file("plot-v2.log",
                            "fio version 2 iolog\n/dev/x add\n/dev/x read 0 4096\n"
                            "/dev/x write 8192 4096\n/dev/x read 65536 4096\n");
  const std::string dir = temp_dir() + "/replay";
  const Result r = run("replay " + f + " --filename=ram:4M --afap --eta=never --plot=" + dir +
                       " --output=/dev/null");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string cdf = slurp(dir + "/clat_cdf.svg");
  EXPECT_TRUE(tags_balanced(cdf));
  EXPECT_EQ(xml_error(dir + "/clat_cdf.svg"), "");
  EXPECT_NE(cdf.find("plot-v2.log read"), std::string::npos) << cdf;
}

TEST(Plot, BadInputIsOneLine) {
  for (const char* args :
       {"plot /nonexistent.json --out=/tmp", "plot --out=/tmp", "plot /dev/null --out=/tmp",
        "plot x.json", "run --plot=/nonexistent-dir/p --name=j --filename=ram:1M"}) {
    const Result r = run(args);
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
  }
}

// How many distinct byte values a PNG's pixel data holds (python3 and zlib
// decode it); -1 when it cannot be read. A blank picture has one or two.
int png_distinct_bytes(const std::string& png) {
  const std::string py =
      "python3 -c 'import sys,zlib,struct\n"
      "d=open(sys.argv[1],\"rb\").read();i=8;z=b\"\"\n"
      "while i<len(d):\n"
      " n=struct.unpack(\">I\",d[i:i+4])[0];t=d[i+4:i+8]\n"
      " if t==b\"IDAT\": z+=d[i+8:i+8+n]\n"
      " i+=12+n\n"
      "print(len(set(zlib.decompress(z))))' " +
      png + " 2>/dev/null";
  FILE* p = popen(py.c_str(), "r");
  if (!p) return -1;
  char buf[64] = {};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  return got ? std::atoi(buf) : -1;
}

// Every chart, drawn by `render` (a command with IN and OUT), is not blank.
void expect_rendered(const std::string& render) {
  const std::string dir = temp_dir() + "/shot";
  ASSERT_EQ(run(std::string("run --output=/dev/null --plot=") + dir + " " + kJob).rc, 0);
  for (const char* c : kCharts) {
    const std::string svg = dir + "/" + c, png = svg + ".png";
    std::string cmd = render;
    cmd.replace(cmd.find("IN"), 2, svg);
    cmd.replace(cmd.find("OUT"), 3, png);
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0 || slurp(png).empty())
      GTEST_SKIP() << "the renderer could not draw here: " << cmd;
    EXPECT_GT(png_distinct_bytes(png), 8) << png << " looks blank";
  }
}

// Chromium's headless screenshot of each chart (Chromium is optional).
TEST(Plot, BrowserRendersNotBlank) {
  std::string browser;
  for (const char* b : {"chromium", "chromium-browser", "google-chrome"})
    if (have(b)) browser = b;
  if (browser.empty()) GTEST_SKIP() << "no headless Chromium installed (optional)";
  if (!have("python3")) GTEST_SKIP() << "python3 needed to read the screenshot";
  // A profile of its own (after IN and OUT, which are replaced first): nothing
  // is left in $HOME and no other run's profile lock is in the way.
  const std::string profile = temp_dir();
  expect_rendered(browser +
                  " --headless --no-sandbox --disable-gpu --window-size=1000,540 "
                  "--screenshot=OUT file://IN --user-data-dir=" +
                  profile);
  std::system(("rm -rf '" + profile + "'").c_str());
}

// librsvg's rsvg-convert (Debian librsvg2-bin, optional) draws each chart.
TEST(Plot, RsvgRendersNotBlank) {
  if (!have("rsvg-convert")) GTEST_SKIP() << "rsvg-convert (librsvg2-bin) not installed";
  if (!have("python3")) GTEST_SKIP() << "python3 needed to read the picture";
  expect_rendered("rsvg-convert IN -o OUT");
}

}  // namespace
}  // namespace iostack::tool::test
