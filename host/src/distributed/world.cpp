// The world a launcher describes in the environment, and the backend names.
#include <cstdlib>
#include <string>

#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"

namespace dmx::dist {
namespace {

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int integer_variable(const char* name, int min, int max) {
  const auto text = variable(name);
  if (!text) throw config_error(std::string("distributed: WORLD_SIZE is set but ") + name + " is not");
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || value < min || value > max)
    throw config_error(std::string("distributed: ") + name + "=" + *text + " is not an integer in [" +
                       std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int>(value);
}

}  // namespace

std::optional<World> world_from_environment() {
  if (!variable("WORLD_SIZE")) return std::nullopt;
  World world;
  world.size = integer_variable("WORLD_SIZE", 1, 1 << 20);
  world.rank = integer_variable("RANK", 0, world.size - 1);
  // LOCAL_RANK is optional (some launchers leave it out on one process per host): then it is 0.
  world.local_rank = variable("LOCAL_RANK") ? integer_variable("LOCAL_RANK", 0, world.size - 1) : 0;
  const auto address = variable("MASTER_ADDR");
  if (!address) throw config_error("distributed: WORLD_SIZE is set but MASTER_ADDR is not");
  world.master_addr = *address;
  world.master_port = integer_variable("MASTER_PORT", 1, 65535);
  return world;
}

Backend default_backend(const std::string& device) {
  return device.rfind("cuda", 0) == 0 ? Backend::Nccl : Backend::Gloo;
}

Backend parse_backend(const std::string& name) {
  if (name == "gloo") return Backend::Gloo;
  if (name == "nccl") return Backend::Nccl;
  throw config_error("distributed backend '" + name + "' is not one of gloo, nccl");
}

const char* to_string(Backend backend) { return backend == Backend::Nccl ? "nccl" : "gloo"; }

Share share_of(int64_t count, int rank, int size) {
  // The first count % size ranks take one item more.
  const int64_t base = count / size, extra = count % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace dmx::dist
