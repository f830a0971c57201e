// The manifest.jsonl line format shared by SyntheticCache (reader) and SyntheticCacheWriter.
#pragma once

#include <string>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"

namespace dmx::data {

struct ManifestText {
  std::vector<std::string> lines;  // complete lines, without their '\n'
  size_t complete_bytes = 0;       // length of the prefix made of complete lines
  bool truncated_tail = false;     // bytes after the last '\n': a line a killed writer did not finish
};

// A line is complete only when its '\n' was written: the writer appends "json\n" in one piece.
ManifestText split_manifest(const std::string& content);

// Parses one JSON line; errors start with `where` ("cache/manifest.jsonl:12").
SyntheticRecord parse_manifest_line(const std::string& line, const std::string& where);
// One JSON object, no newline.
std::string format_manifest_line(const SyntheticRecord& record);

// Classes in [0, num_classes), strength in [0, 1], a relative path, and a soft label (when given) of K finite
// non-negative values. Errors start with `where`.
void check_record(const SyntheticRecord& record, int64_t num_classes, const std::string& where);

}  // namespace dmx::data
