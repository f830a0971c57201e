// Files for tests: a fresh folder under the temporary directory, and whole-file reads and writes.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace dmx::test {

// <tmp>/<prefix>_<pid>, made if missing: each test process gets its own.
inline std::filesystem::path process_folder(const std::string& prefix) {
  const auto folder = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  return folder;
}

// <tmp>/<prefix>_<pid>/<name>, emptied.
inline std::string fresh_folder(const std::string& prefix, const std::string& name) {
  const auto folder = process_folder(prefix) / name;
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder.string();
}

// Writes `text` as the whole file, making its folder first.
inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The file's bytes ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The file's non-empty lines (none when it cannot be read).
inline std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace dmx::test
