// What a path names on disk, for the engine's model-folder checks: stat(2), no exceptions.
#pragma once

#include <sys/stat.h>

#include <string>

namespace dmx::sd {

inline bool is_regular_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

inline bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace dmx::sd
