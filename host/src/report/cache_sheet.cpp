#include "diffmix/report/cache_sheet.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace dmx::report {

std::string strength_text(double strength) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", strength);
  return buffer;
}

GridRow cache_row(const data::SyntheticCache& cache, int64_t target, const std::vector<std::string>& class_names,
                  int64_t per_class) {
  const auto& samples = cache.indices_by_target()[static_cast<size_t>(target)];
  const bool named = static_cast<size_t>(target) < class_names.size();
  GridRow row;
  row.label = std::to_string(target) + (named ? " " + class_names[static_cast<size_t>(target)] : "") + " (" +
              std::to_string(samples.size()) + (samples.size() == 1 ? " sample)" : " samples)");
  const size_t shown = std::min(samples.size(), static_cast<size_t>(std::max<int64_t>(per_class, 0)));
  for (size_t k = 0; k < shown; ++k) {
    const data::SyntheticRecord& record = cache.record(samples[k]);
    row.tiles.push_back({cache.load_image(samples[k]), std::to_string(record.source_class) + ">" +
                                                           std::to_string(record.target_class) +
                                                           " s=" + strength_text(record.strength)});
  }
  return row;
}

ContactSheet cache_sheet(const data::SyntheticCache& cache, const std::vector<std::string>& class_names,
                         const std::vector<int64_t>& classes, int64_t per_class) {
  ContactSheet sheet;
  sheet.title = std::filesystem::path(cache.folder()).filename().string() + ": " + std::to_string(cache.size()) +
                " samples";
  std::vector<int64_t> rows = classes;
  if (rows.empty())
    for (int64_t c = 0; c < cache.num_classes(); ++c)
      if (!cache.indices_by_target()[static_cast<size_t>(c)].empty()) rows.push_back(c);
  for (const int64_t target : rows) sheet.rows.push_back(cache_row(cache, target, class_names, per_class));
  return sheet;
}

}  // namespace dmx::report
