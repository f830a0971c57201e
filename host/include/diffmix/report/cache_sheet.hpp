// A synthetic cache as a contact sheet: one row per target class, the first samples of each, every tile captioned
// "source>target s=strength". `diffmix grid --cache` and the comparison report draw caches this way.
//
//   auto cache = dmx::data::SyntheticCache::open_any("cache/diff_mix", dataset->class_names());
//   auto sheet = dmx::report::cache_sheet(*cache, dataset->class_names(), {}, 8);
//   dmx::io::write_image("grid.png", dmx::report::compose_grid(sheet));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/report/image_grid.hpp"

namespace dmx::report {

// 0.7 → "0.7", 0.25 → "0.25": a strength without trailing zeros, as captions show it.
std::string strength_text(double strength);

// The row of target class `target`: its label is "<index> <name> (<n> samples)" (the name when `class_names` has
// it), its tiles the first `per_class` samples of that class in cache order.
GridRow cache_row(const data::SyntheticCache& cache, int64_t target, const std::vector<std::string>& class_names,
                  int64_t per_class);

// The title "<folder name>: <n> samples" and one row per class of `classes` (empty: every target class that has
// samples, in index order).
ContactSheet cache_sheet(const data::SyntheticCache& cache, const std::vector<std::string>& class_names,
                         const std::vector<int64_t>& classes, int64_t per_class);

}  // namespace dmx::report
