// The first line where a recorded text and a wanted one differ, for errors that say what changed between the
// settings something was made with and the settings asked for now (a synthetic cache's made_by.toml, a fine-tuned
// folder's manifest).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx {

struct LineDifference {
  size_t line = 0;                  // 1-based, among the lines compared
  std::optional<std::string> there;  // the recorded line; nullopt when the recorded text has fewer lines
  std::optional<std::string> here;   // the wanted line; nullopt when the wanted text has fewer lines
};

// nullopt when both texts have the same lines (a final newline or its absence does not count). Lines for which
// `ignored` returns true are left out of both before comparing.
inline std::optional<LineDifference> first_line_difference(
    const std::string& recorded, const std::string& wanted,
    const std::function<bool(const std::string&)>& ignored = nullptr) {
  const auto lines_of = [&](const std::string& text) {
    std::vector<std::string> lines;
    for (size_t begin = 0; begin < text.size();) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(begin, end - begin);
      if (!ignored || !ignored(line)) lines.push_back(std::move(line));
      begin = end + 1;
    }
    return lines;
  };
  const auto there = lines_of(recorded);
  const auto here = lines_of(wanted);
  size_t n = 0;
  while (n < there.size() && n < here.size() && there[n] == here[n]) ++n;
  if (n == there.size() && n == here.size()) return std::nullopt;
  LineDifference difference;
  difference.line = n + 1;
  if (n < there.size()) difference.there = there[n];
  if (n < here.size()) difference.here = here[n];
  return difference;
}

}  // namespace dmx
