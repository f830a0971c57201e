// Files for the sample-source tests: fresh folders under the temp dir (and, from common/, whole-file reads).
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../common/test_files.hpp"  // read_text

namespace dmx::test {

// An empty folder "diffmix-<prefix>-<name>" under the system temp dir.
inline std::string fresh_dir(const std::string& prefix, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("diffmix-" + prefix + "-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

}  // namespace dmx::test
