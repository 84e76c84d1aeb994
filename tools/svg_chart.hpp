// A small self-contained SVG line chart: title, labelled axes with round
// ticks (linear, or decades for a log axis), one polyline per series and a
// legend. No scripts, fonts or external references, so any browser or
// image viewer shows it as is.
#pragma once

#include <string>
#include <vector>

namespace iostack::tool {

struct ChartSeries {
  std::string label;
  std::vector<double> x, y;
  bool dashed = false;
};

struct Chart {
  std::string title;
  std::string x_label, y_label;  // with units, e.g. "time (s)"
  bool log_x = false;
  std::vector<ChartSeries> series;
  double y_max = 0;  // the y axis' top; 0: from the data
};

std::string render_svg(const Chart& c);

}  // namespace iostack::tool
