#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "canvas.hpp"

namespace dmx::classifier {
namespace {

constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kGrid{225, 225, 225};

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// The y-axis range in percent: from a round number below the lowest value to one above the highest.
std::pair<double, double> percent_range(double low, double high) {
  low = std::floor(std::max(0.0, low * 100.0 - 5.0) / 5.0) * 5.0;
  high = std::ceil(std::min(100.0, high * 100.0 + 5.0) / 5.0) * 5.0;
  if (high <= low) high = low + 5.0;
  return {low, high};
}

struct Plot {
  int left, top, right, bottom;
  double low, high;  // percent
  int y(double fraction) const {
    const double t = (fraction * 100.0 - low) / (high - low);
    return bottom - static_cast<int>(std::lround(t * (bottom - top)));
  }
};

void draw_y_axis(Canvas& canvas, const Plot& plot, const std::string& title) {
  for (double v = plot.low; v <= plot.high + 1e-9; v += 5.0) {
    const int y = plot.y(v / 100.0);
    canvas.line(plot.left, y, plot.right, y, kGrid);
    const std::string label = fixed(v, 0);
    canvas.text(plot.left - 6 - Canvas::text_width(label), y - 3, label, kInk);
  }
  canvas.line(plot.left, plot.top, plot.left, plot.bottom, kInk);
  canvas.line(plot.left, plot.bottom, plot.right, plot.bottom, kInk);
  canvas.text(plot.left, 8, title, kInk, 2);
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

}  // namespace

at::Tensor render_accuracy_bars(const std::vector<SetupSummary>& summaries) {
  const int bar = 60, gap = 40;
  const int width = std::max(360, 70 + static_cast<int>(summaries.size()) * (bar + gap) + gap);
  Canvas canvas(width, 320);
  double low = 1.0, high = 0.0;
  for (const auto& s : summaries) {
    low = std::min(low, s.mean - s.stddev);
    high = std::max(high, s.mean + s.stddev);
  }
  const auto [low_percent, high_percent] = percent_range(low, high);
  const Plot plot{60, 50, width - 20, 270, low_percent, high_percent};
  draw_y_axis(canvas, plot, "TEST TOP-1 %");
  for (size_t i = 0; i < summaries.size(); ++i) {
    const auto& s = summaries[i];
    const int x0 = plot.left + gap + static_cast<int>(i) * (bar + gap);
    const int x1 = x0 + bar - 1;
    canvas.fill_rect(x0, plot.y(s.mean), x1, plot.bottom - 1, series_color(i));
    const int centre = (x0 + x1) / 2;
    if (s.stddev > 0) {
      canvas.line(centre, plot.y(s.mean + s.stddev), centre, plot.y(s.mean - s.stddev), kInk, 2);
      canvas.line(centre - 8, plot.y(s.mean + s.stddev), centre + 8, plot.y(s.mean + s.stddev), kInk, 2);
      canvas.line(centre - 8, plot.y(s.mean - s.stddev), centre + 8, plot.y(s.mean - s.stddev), kInk, 2);
    }
    const std::string value = fixed(s.mean * 100.0, 1);
    canvas.text(centre - Canvas::text_width(value) / 2, plot.y(s.mean + s.stddev) - 12, value, kInk);
    canvas.text(centre - Canvas::text_width(s.name) / 2, plot.bottom + 10, s.name, kInk);
  }
  return canvas.image();
}

at::Tensor render_accuracy_curves(const std::vector<SetupSummary>& summaries) {
  Canvas canvas(560, 340);
  double low = 1.0, high = 0.0;
  int64_t last_epoch = 1;
  for (const auto& s : summaries) {
    for (double v : s.mean_curve) low = std::min(low, v), high = std::max(high, v);
    if (!s.curve_epochs.empty()) last_epoch = std::max(last_epoch, s.curve_epochs.back());
  }
  if (low > high) low = 0.0, high = 1.0;
  const auto [low_percent, high_percent] = percent_range(low, high);
  const Plot plot{60, 50, 400, 300, low_percent, high_percent};
  draw_y_axis(canvas, plot, "TEST TOP-1 % BY EPOCH");
  auto x_of = [&](int64_t epoch) {
    return last_epoch <= 1 ? (plot.left + plot.right) / 2
                           : plot.left + static_cast<int>((epoch - 1) * (plot.right - plot.left) / (last_epoch - 1));
  };
  canvas.text(plot.left, plot.bottom + 10, "1", kInk);
  canvas.text(plot.right - Canvas::text_width(std::to_string(last_epoch)), plot.bottom + 10,
              std::to_string(last_epoch), kInk);
  canvas.text((plot.left + plot.right) / 2 - Canvas::text_width("EPOCH") / 2, plot.bottom + 22, "EPOCH", kInk);
  for (size_t i = 0; i < summaries.size(); ++i) {
    const auto& s = summaries[i];
    for (size_t p = 0; p < s.mean_curve.size(); ++p) {
      const int x = x_of(s.curve_epochs[p]), y = plot.y(s.mean_curve[p]);
      canvas.fill_rect(x - 2, y - 2, x + 2, y + 2, series_color(i));
      if (p > 0) canvas.line(x_of(s.curve_epochs[p - 1]), plot.y(s.mean_curve[p - 1]), x, y, series_color(i), 2);
    }
    const int legend_y = plot.top + static_cast<int>(i) * 16;
    canvas.fill_rect(plot.right + 20, legend_y, plot.right + 30, legend_y + 7, series_color(i));
    canvas.text(plot.right + 36, legend_y, s.name, kInk);
  }
  return canvas.image();
}

std::string compare_report_html(const std::vector<SetupSummary>& summaries,
                                const std::vector<std::vector<TrainResult>>& runs,
                                const std::vector<SampleGrid>& sample_grids) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>diffmix compare</title>\n"
       << "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
       << "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}"
       << "</style></head><body>\n<h1>Augmenter comparison</h1>\n";
  html << "<table><tr><th>set-up</th><th>top-1 % (mean ± std)</th><th>Δ vs first [95 % CI]</th><th>runs</th></tr>\n";
  for (size_t i = 0; i < summaries.size(); ++i) {
    const auto& s = summaries[i];
    const std::string delta = difference_text(s, i == 0);
    html << "<tr><td>" << escape_html(s.name) << "</td><td>" << fixed(s.mean * 100, 2) << " ± "
         << fixed(s.stddev * 100, 2) << "</td><td>" << delta << "</td><td>" << s.top1.size() << "</td></tr>\n";
  }
  html << "</table>\n";
  if (const std::string note = difference_note(summaries); !note.empty())
    html << "<p>" << escape_html(note) << "</p>\n";
  html << "<p><img src=\"accuracy.png\" alt=\"mean top-1 per set-up\"> "
       << "<img src=\"curves.png\" alt=\"top-1 per epoch\"></p>\n";

  html << "<h2>Runs</h2>\n<table><tr><th>set-up</th><th>seed</th><th>top-1 %</th><th>mean per-class %</th>"
       << "<th>output</th></tr>\n";
  for (size_t s = 0; s < summaries.size() && s < runs.size(); ++s)
    for (size_t r = 0; r < runs[s].size(); ++r)
      html << "<tr><td>" << escape_html(summaries[s].name) << "</td><td>" << summaries[s].seeds[r] << "</td><td>"
           << fixed(runs[s][r].top1 * 100, 2) << "</td><td>" << fixed(runs[s][r].mean_per_class * 100, 2)
           << "</td><td>" << escape_html(runs[s][r].output_dir) << "</td></tr>\n";
  html << "</table>\n";

  if (!runs.empty() && !runs.front().empty()) {
    const auto& classes = runs.front().front().class_names;
    html << "<h2>Per-class top-1 % (mean over seeds)</h2>\n<table><tr><th>class</th>";
    for (const auto& s : summaries) html << "<th>" << escape_html(s.name) << "</th>";
    html << "</tr>\n";
    for (size_t k = 0; k < classes.size(); ++k) {
      html << "<tr><td>" << escape_html(classes[k]) << "</td>";
      for (size_t s = 0; s < summaries.size() && s < runs.size(); ++s) {
        double sum = 0;
        int count = 0;
        for (const auto& run : runs[s])
          if (k < run.per_class.size() && !std::isnan(run.per_class[k])) sum += run.per_class[k], ++count;
        html << "<td>" << (count ? fixed(sum / count * 100, 1) : "–") << "</td>";
      }
      html << "</tr>\n";
    }
    html << "</table>\n";
  }
  if (!sample_grids.empty()) {
    html << "<h2>Synthetic samples</h2>\n<p>One row per target class; each tile is captioned source&gt;target "
         << "class and the strength s.</p>\n";
    for (const auto& grid : sample_grids)
      html << "<h3>" << escape_html(grid.setup) << "</h3>\n<p>" << grid.samples << " samples in "
           << escape_html(grid.cache) << "</p>\n<p><img src=\"" << escape_html(grid.file) << "\" alt=\"synthetic "
           << "samples of " << escape_html(grid.setup) << "\"></p>\n";
  }
  html << "</body></html>\n";
  return html.str();
}

}  // namespace dmx::classifier
