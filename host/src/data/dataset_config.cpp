#include "diffmix/data/dataset_config.hpp"

namespace dmx::data {

DatasetSpec read_dataset_spec(const config::Table& table) {
  constexpr config::Range kNonNegative{0, 1e12};
  DatasetSpec spec;
  spec.kind = table.string("kind", spec.kind, dataset_kinds());
  spec.root = table.string("root", "");
  spec.split = table.string("split", "train");
  spec.metaclass = table.string("metaclass", "");
  spec.skip_bad_entries = table.boolean("skip_bad_entries", false);
  spec.shots = table.integer("shots", 0, kNonNegative);
  spec.imbalance = table.number("imbalance", 1.0, {1.0, 1e6});
  spec.seed = static_cast<uint64_t>(table.integer("seed", 0, kNonNegative));
  return spec;
}

}  // namespace dmx::data
