#include "diffmix/augmenter.hpp"
#include "diffmix/config.hpp"
#include "diffmix/registry.hpp"

namespace dmx {

AugmentChain::AugmentChain(std::vector<std::shared_ptr<BatchAugmenter>> augmenters)
    : augmenters_(std::move(augmenters)) {}

AugmentChain AugmentChain::from_config(PluginRegistry& registry, const std::vector<config::Table>& tables,
                                       const AugmenterContext& context) {
  std::vector<std::shared_ptr<BatchAugmenter>> augmenters;
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string name = tables[i].required_string("augmenter");
    AugmenterContext own = context;
    // Each augmenter of a chain draws from its own stream, so adding one does not change another's draws.
    own.seed = context.seed + 0x9E3779B97F4A7C15ull * (i + 1);
    augmenters.push_back(registry.create_batch_augmenter(name, tables[i], own));
  }
  return AugmentChain(std::move(augmenters));
}

Batch AugmentChain::apply(Batch batch, uint64_t step) const {
  for (const auto& augmenter : augmenters_) batch = augmenter->apply(batch, step);
  return batch;
}

std::vector<std::string> AugmentChain::names() const {
  std::vector<std::string> names;
  for (const auto& augmenter : augmenters_) names.push_back(augmenter->name());
  return names;
}

}  // namespace dmx
