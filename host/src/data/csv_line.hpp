// Splitting one line of a CSV file, shared by the readers of the authors' meta.csv and of Waterbirds' metadata.csv.
#pragma once

#include <string>
#include <vector>

namespace dmx::data {

// One CSV line split into fields; double quotes group (and "" escapes a quote), as pandas writes them.
inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace dmx::data
