// Peak resident memory of a benchmark (Linux): reset the high-water mark before it, read it after.
#pragma once

#include <fstream>
#include <string>

namespace dmx::bench {

inline void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }

inline double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0.0;
}

}  // namespace dmx::bench
