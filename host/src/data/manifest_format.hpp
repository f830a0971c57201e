// The manifest.jsonl line format shared by SyntheticCache (reader) and SyntheticCacheWriter.
#pragma once

#include <string>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"

namespace dmx::data {

// Parses one JSON line; errors start with `where` ("cache/manifest.jsonl:12").
SyntheticRecord parse_manifest_line(const std::string& line, const std::string& where);
// One JSON object, no newline.
std::string format_manifest_line(const SyntheticRecord& record);

// Classes in [0, num_classes), strength in [0, 1], a relative path, and a soft label (when given) of K finite
// non-negative values. Errors start with `where`.
void check_record(const SyntheticRecord& record, int64_t num_classes, const std::string& where);

}  // namespace dmx::data
