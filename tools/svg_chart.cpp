// SVG line charts for iostack plot.
#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace iostack::tool {
namespace {

// The plot area is fixed; the legend to its right is as wide as its longest label.
constexpr double kPlotW = 640, kH = 540;
constexpr double kLeft = 90, kTop = 50, kBottom = 70;
constexpr double kCharW = 7.5;  // a 13px sans-serif character, generously
// Colours that stay apart for the usual handful of lines (Tableau 10).
constexpr const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// A tick label: short, without trailing zeros (1.5k for 1500).
std::string tick_label(double v) {
  const double a = std::fabs(v);
  char b[32];
  if (a >= 1e9)
    std::snprintf(b, sizeof b, "%gG", v / 1e9);
  else if (a >= 1e6)
    std::snprintf(b, sizeof b, "%gM", v / 1e6);
  else if (a >= 1e4)
    std::snprintf(b, sizeof b, "%gk", v / 1e3);
  else
    std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// 1, 2 or 5 times a power of ten, giving about `n` steps over `span`.
double nice_step(double span, int n) {
  if (span <= 0) return 1;
  const double raw = span / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

}  // namespace

std::string render_svg(const Chart& c) {
  double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest();
  double y1 = 0;
  for (const auto& s : c.series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (c.log_x && s.x[i] <= 0) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y1 = std::max(y1, s.y[i]);
    }
  const bool empty = x0 > x1;
  if (empty) x0 = 0, x1 = 1;
  if (c.log_x) {
    x0 = std::pow(10.0, std::floor(std::log10(x0)));
    x1 = std::pow(10.0, std::ceil(std::log10(x1)));
    if (x1 <= x0) x1 = x0 * 10;
  } else {
    if (x0 > 0 && x0 < (x1 - x0)) x0 = 0;  // time axes start at 0
    if (x1 <= x0) x1 = x0 + 1;
  }
  if (c.y_max > 0) y1 = c.y_max;
  const double ystep = nice_step(y1 > 0 ? y1 : 1, 5);
  // Room above the highest point, so that a flat maximum stays off the frame.
  if (c.y_max <= 0) y1 = std::max(ystep, (std::floor((y1 > 0 ? y1 : 1) / ystep) + 1) * ystep);
  std::size_t longest = 0;
  for (const auto& s : c.series) longest = std::max(longest, s.label.size());
  const double pw = kPlotW, ph = kH - kTop - kBottom;
  const double kW = kLeft + pw + std::max(120.0, 60 + kCharW * static_cast<double>(longest));
  auto px = [&](double x) {
    const double f = c.log_x ? (std::log10(x) - std::log10(x0)) / (std::log10(x1) - std::log10(x0))
                             : (x - x0) / (x1 - x0);
    return kLeft + f * pw;
  };
  auto py = [&](double y) { return kTop + ph - y / y1 * ph; };

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" + num(kH) +
       "\" viewBox=\"0 0 " + num(kW) + " " + num(kH) +
       "\" font-family=\"sans-serif\" font-size=\"13\">\n";
  o += "<title>" + esc(c.title) + "</title>\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(kW / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" " +
       "font-weight=\"bold\">" + esc(c.title) + "</text>\n";

  // Grid, ticks and tick labels.
  o += "<g class=\"axes\" stroke=\"#ddd\">\n";
  std::string labels;
  for (double y = 0; y <= y1 * 1.0001; y += ystep) {
    o += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(kLeft + pw) +
         "\" y2=\"" + num(py(y)) + "\"/>\n";
    labels += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(y) + 4) +
              "\" text-anchor=\"end\">" + tick_label(y) + "</text>\n";
  }
  std::vector<double> xt;
  if (c.log_x) {
    for (double x = x0; x <= x1 * 1.0001; x *= 10) xt.push_back(x);
  } else {
    const double xs = nice_step(x1 - x0, 8);
    for (double x = std::ceil(x0 / xs) * xs; x <= x1 * 1.0001 + 1e-12; x += xs) xt.push_back(x);
  }
  for (double x : xt) {
    o += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(px(x)) +
         "\" y2=\"" + num(kTop + ph) + "\"/>\n";
    labels += "<text x=\"" + num(px(x)) + "\" y=\"" + num(kTop + ph + 18) +
              "\" text-anchor=\"middle\">" + tick_label(x) + "</text>\n";
  }
  o += "</g>\n<g class=\"ticks\" fill=\"#333\">\n" + labels + "</g>\n";
  o += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(pw) +
       "\" height=\"" + num(ph) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  o += "<text class=\"xlabel\" x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kH - 22) +
       "\" text-anchor=\"middle\">" + esc(c.x_label) + "</text>\n";
  o += "<text class=\"ylabel\" x=\"22\" y=\"" + num(kTop + ph / 2) +
       "\" text-anchor=\"middle\" transform=\"rotate(-90 22 " + num(kTop + ph / 2) + ")\">" +
       esc(c.y_label) + "</text>\n";
  if (empty)
    o += "<text x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kTop + ph / 2) +
         "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";

  // One polyline per series, then the legend beside the plot.
  o += "<g class=\"series\" fill=\"none\" stroke-width=\"2\">\n";
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const auto& s = c.series[k];
    std::string pts;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (c.log_x && s.x[i] <= 0) continue;
      pts += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
    }
    if (!pts.empty()) pts.pop_back();
    o += "<polyline stroke=\"" + std::string(kColours[k % 10]) + "\"" +
         (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + pts + "\"><title>" +
         esc(s.label) + "</title></polyline>\n";
  }
  o += "</g>\n<g class=\"legend\">\n";
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const double y = kTop + 10 + 20.0 * static_cast<double>(k);
    const double lx = kLeft + pw + 16;
    o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(y) + "\" x2=\"" + num(lx + 24) + "\" y2=\"" +
         num(y) + "\" stroke=\"" + kColours[k % 10] + "\" stroke-width=\"3\"" +
         (c.series[k].dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    o += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(y + 4) + "\">" + esc(c.series[k].label) +
         "</text>\n";
  }
  o += "</g>\n</svg>\n";
  return o;
}

}  // namespace iostack::tool
