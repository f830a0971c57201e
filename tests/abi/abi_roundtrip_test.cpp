// Tensors and labels cross the ABI intact, in both directions, through a plugin written in C.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "../common/test_env.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/registry.hpp"

namespace {

dmx::PluginRegistry make_registry() {
  dmx::RegistryOptions options;
  options.search_paths = {dmx::test::test_plugin_dir() + "/c_negate.so"};
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

TEST(AbiRoundTrip, ImagesAndLabelsComeBackTransformedExactly) {
  auto registry = make_registry();
  ASSERT_TRUE(registry.has_augmenter("c_negate")) << (registry.refused().empty() ? "" : registry.refused()[0].reason);
  const auto doc = dmx::config::Document::parse_string("augmenter = \"c_negate\"\n", "test.toml");
  auto augmenter = registry.create_batch_augmenter("c_negate", doc.root(), {4, 1});

  const at::Tensor images = at::randn({3, 2, 5, 7});
  const at::Tensor labels = at::softmax(at::randn({3, 4}), 1);
  const dmx::Batch out = augmenter->apply({images, labels}, 0);

  EXPECT_TRUE(at::equal(out.images, -images));
  EXPECT_TRUE(at::equal(out.labels, labels.flip(1)));
  // The input was lent, not given: it is unchanged and still usable.
  EXPECT_TRUE(at::equal(out.images, -images));
}

TEST(AbiRoundTrip, NonContiguousInputIsMadeContiguousForThePlugin) {
  auto registry = make_registry();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"c_negate\"\n", "test.toml");
  auto augmenter = registry.create_batch_augmenter("c_negate", doc.root(), {4, 1});
  const at::Tensor images = at::randn({2, 5, 7, 3}).permute({0, 3, 1, 2});  // channels-last view
  const at::Tensor labels = at::softmax(at::randn({2, 4}), 1);
  const dmx::Batch out = augmenter->apply({images, labels}, 0);
  EXPECT_TRUE(at::equal(out.images, -images));
}

TEST(AbiRoundTrip, PluginErrorsBecomeTypedErrorsNamingTheAugmenterAndFile) {
  auto registry = make_registry();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"c_negate\"\n", "test.toml");
  auto augmenter = registry.create_batch_augmenter("c_negate", doc.root(), {4, 1});
  try {
    augmenter->apply({at::zeros({2, 3, 4, 4}, at::kDouble), at::zeros({2, 4})}, 0);
    FAIL() << "a float64 batch should be refused by the plugin";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("c_negate.so"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected contiguous float32"), std::string::npos) << e.what();
  }
}

TEST(AbiRoundTrip, TheLibraryOutlivesTheRegistryWhileAnAugmenterLives) {
  std::shared_ptr<dmx::BatchAugmenter> augmenter;
  {
    auto registry = make_registry();
    const auto doc = dmx::config::Document::parse_string("augmenter = \"c_negate\"\n", "test.toml");
    augmenter = registry.create_batch_augmenter("c_negate", doc.root(), {4, 1});
  }
  // The registry is gone; the code of the augmenter must still be mapped.
  const dmx::Batch out = augmenter->apply({at::ones({2, 1, 2, 2}), at::full({2, 4}, 0.25)}, 0);
  EXPECT_TRUE(at::equal(out.images, -at::ones({2, 1, 2, 2})));
}

}  // namespace
