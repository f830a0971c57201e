// What every fuzz target shares.
//
// The rule a target checks: a parser given any bytes either succeeds or throws dmx::Error (whose message names the
// file). Any other exception escapes the target and libFuzzer reports it as a crash, as it does for memory errors
// (AddressSanitizer), undefined behaviour (UBSan), leaks, timeouts and out-of-memory.
//
// Parsers that read files get their input written into a scratch folder first. Targets that read several files take
// one input holding all of them, separated by a line "====" (see split_parts), so that seed files stay readable.
#pragma once
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "diffmix/error.hpp"

namespace dmx::fuzz {

// A folder private to this process, on tmpfs when the machine has one (each run writes its files anew).
inline const std::string& scratch_folder() {
  static const std::string folder = [] {
    std::error_code error;
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", error) ? "/dev/shm" : (tmp ? tmp : "/tmp");
    const auto path = base / ("diffmix-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path.string();
  }();
  return folder;
}

// Writes `bytes` to `<scratch>/<name>` (sub-folders created) and returns the path.
inline std::string write_scratch_file(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = std::filesystem::path(scratch_folder()) / name;
  std::filesystem::create_directories(path.parent_path());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) std::abort();
  std::fclose(file);
  return path.string();
}

// The input cut at each line "====" into exactly `count` parts (missing parts are empty, extra ones join the last).
inline std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t count) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view separator = "\n====\n";
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < count) {
    const size_t at = input.find(separator, start);
    if (at == std::string_view::npos) break;
    parts.emplace_back(input.substr(start, at - start));
    start = at + separator.size();
  }
  parts.emplace_back(input.substr(std::min(start, input.size())));
  parts.resize(count);
  return parts;
}

// Runs `parse`; a dmx::Error is the expected answer to bad input, anything else escapes.
template <typename Parse>
void expect_clean_failure(Parse&& parse) {
  try {
    parse();
  } catch (const dmx::Error&) {
  }
}

// Logging would dominate the run time (and the output): parsers warn about skipped lines. Every target includes this
// header, so it is switched off before the first input.
inline const bool kLoggingOff = (spdlog::set_level(spdlog::level::off), true);

}  // namespace dmx::fuzz
