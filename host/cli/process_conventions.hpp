// What a `diffmix` process tells its caller, and what it may use: the exit code of each error category (sysexits.h
// where one fits, so scripts can tell a bad config from a failed run) and the cores it may run on. The worker
// processes of `diffmix compare --jobs` are read back through the same table.
#pragma once

#include <sched.h>

#include <array>
#include <utility>

#include "diffmix/error.hpp"

namespace dmx::cli {

inline constexpr std::array<std::pair<ErrorCategory, int>, 7> kExitCodes{{
    {ErrorCategory::InvalidArgument, 64},  // EX_USAGE
    {ErrorCategory::Format, 65},           // EX_DATAERR
    {ErrorCategory::NotFound, 66},         // EX_NOINPUT
    {ErrorCategory::Io, 74},               // EX_IOERR
    {ErrorCategory::Busy, 75},             // EX_TEMPFAIL: another process holds a folder it needs
    {ErrorCategory::Config, 78},           // EX_CONFIG
    {ErrorCategory::Cancelled, 130},       // as if interrupted
}};
inline constexpr int kOtherErrorExit = 1;  // shape, plugin, unsupported and internal errors

inline int exit_code_for(ErrorCategory category) {
  for (const auto& [known, code] : kExitCodes)
    if (known == category) return code;
  return kOtherErrorExit;
}

inline ErrorCategory category_of_exit(int code) {
  for (const auto& [category, known] : kExitCodes)
    if (known == code) return category;
  return ErrorCategory::Internal;
}

// The cores this process may run on (its affinity mask), at least 1.
inline int available_cores() {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 0) return CPU_COUNT(&cpus);
  return 1;
}

}  // namespace dmx::cli
