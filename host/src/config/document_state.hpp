// The parsed tree behind a config::Document, shared with the Tables that point into it.
#pragma once

#include <string>

#include "diffmix/config.hpp"

namespace dmx::config {

struct Document::State {
  std::string source;
  toml::table tree;
};

}  // namespace dmx::config
