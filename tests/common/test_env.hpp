// Where the test programs find what the build made. CTest sets these variables (see dmx_add_test); a program run by
// hand falls back on the trees it was configured in.
#pragma once

#include "diffmix_test_paths.hpp"

#include <cstdlib>
#include <string>

namespace dmx::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

inline std::string build_dir() { return env_or("DIFFMIX_BUILD_DIR", DMX_TEST_BUILD_DIR); }
inline std::string source_dir() { return env_or("DIFFMIX_SOURCE_DIR", DMX_TEST_SOURCE_DIR); }
inline std::string plugin_dir() { return env_or("DIFFMIX_PLUGIN_PATH", build_dir() + "/plugins"); }
inline std::string test_plugin_dir() { return env_or("DIFFMIX_TEST_PLUGIN_DIR", build_dir() + "/test-plugins"); }
inline std::string cli_path() { return build_dir() + "/bin/diffmix"; }

}  // namespace dmx::test
