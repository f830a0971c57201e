// The report's files compiled into the library (cmake/embed_files.cmake writes their definitions at build time).
#pragma once

#include <string_view>

namespace dmx::classifier::report_assets {

extern const std::string_view chart_js;          // Chart.js 3.x, UMD build
extern const std::string_view chart_js_license;  // its licence
extern const std::string_view index_html;        // trainers/classifier/report/index.html
extern const std::string_view report_js;         // trainers/classifier/report/report.js
extern const std::string_view report_css;        // trainers/classifier/report/report.css

}  // namespace dmx::classifier::report_assets
