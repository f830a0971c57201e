// What a path names on disk, for the engine's model-folder checks: false, never an exception, when the path is
// missing or cannot be read.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

namespace dmx::sd {

inline bool is_regular_file(const std::string& path) {
  std::error_code unreadable;
  return std::filesystem::is_regular_file(path, unreadable);
}

inline bool is_directory(const std::string& path) {
  std::error_code unreadable;
  return std::filesystem::is_directory(path, unreadable);
}

}  // namespace dmx::sd
