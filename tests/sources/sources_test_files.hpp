// Files for the sample-source tests: fresh folders under the temp dir and whole-file reads for byte comparisons.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dmx::test {

// An empty folder "diffmix-<prefix>-<name>" under the system temp dir.
inline std::string fresh_dir(const std::string& prefix, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("diffmix-" + prefix + "-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

// The file's bytes ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dmx::test
