// Plugins that break the ABI's promises at run time (hostile_plugin.c) or lie in their descriptor: every bad result
// is refused with an error that names the plugin file and the mistake, and the host goes on working with the same
// registry, the same source and other augmenters.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "../common/test_env.hpp"
#include "../common/three_images.hpp"
#include "diffmix/augmenter.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/plugin_api.h"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"

namespace {

constexpr int64_t kClasses = 3;

dmx::PluginRegistry hostile_registry(const char* file = "hostile.so") {
  dmx::RegistryOptions options;
  options.search_paths.push_back(dmx::test::test_plugin_dir() + "/" + file);
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

dmx::config::Document named(const std::string& name) {
  return dmx::config::Document::parse_string("augmenter = \"" + name + "\"\n", "hostile.toml");
}

// The error `next` of source `name` throws: it must name the source and the plugin file.
dmx::Error next_error(dmx::PluginRegistry& registry, const std::string& name) {
  dmx::SampleSourceContext context;
  context.num_classes = kClasses;
  context.dataset = std::make_shared<dmx::test::ThreeImages>();
  const auto doc = named(name);
  auto source = registry.create_sample_source(name, doc.root(), context);
  source->prepare();
  try {
    source->next();
  } catch (const dmx::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + name + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("hostile.so"), std::string::npos) << message;
    // The host goes on: the same source is asked again and answers the same way, without crashing.
    EXPECT_THROW(source->next(), dmx::Error);
    return e;
  }
  ADD_FAILURE() << name << ": next() was not refused";
  return dmx::internal_error("none");
}

struct Refusal {
  const char* source;
  dmx::ErrorCategory category;
  const char* reason;
};

TEST(HostilePlugin, EveryBadSampleIsRefusedNamingThePluginAndTheMistake) {
  auto registry = hostile_registry();
  ASSERT_TRUE(registry.refused().empty());
  for (const Refusal& expected : {
           Refusal{"wrong_dtype_source", dmx::ErrorCategory::Shape, "image must be uint8"},
           Refusal{"wrong_shape_source", dmx::ErrorCategory::Shape, "image must be uint8 H×W×C, got Byte [2, 3]"},
           Refusal{"wrong_device_source", dmx::ErrorCategory::Shape, "image must be on the CPU"},
           Refusal{"no_deleter_source", dmx::ErrorCategory::Plugin, "no deleter"},
           Refusal{"null_shape_source", dmx::ErrorCategory::Plugin, "3 dimensions but no shape"},
           Refusal{"bad_label_source", dmx::ErrorCategory::InvalidArgument, "sum to 1, got sum 0.5"},
           Refusal{"unterminated_source", dmx::ErrorCategory::Plugin, "next: xxxxxxxx"},  // a plugin's own bug
       }) {
    SCOPED_TRACE(expected.source);
    const auto error = next_error(registry, expected.source);
    EXPECT_EQ(error.category(), expected.category) << error.what();
    EXPECT_NE(std::string(error.what()).find(expected.reason), std::string::npos) << error.what();
  }
}

TEST(HostilePlugin, AMessageWithoutNulIsCutAtTheBuffersEnd) {
  auto registry = hostile_registry();
  const std::string message = next_error(registry, "unterminated_source").what();
  // The plugin filled every byte with 'x': the host keeps all but the last, where it puts the NUL.
  const auto xs = message.size() - 1 - message.find_last_not_of('x');
  EXPECT_EQ(xs, sizeof(::dmx_error{}.message) - 1) << message;
}

// The error apply() of batch augmenter `name` throws on a 2-image batch.
dmx::Error apply_error(dmx::PluginRegistry& registry, const std::string& name) {
  dmx::AugmenterContext context;
  context.num_classes = kClasses;
  const auto doc = named(name);
  auto augmenter = registry.create_batch_augmenter(name, doc.root(), context);
  const dmx::Batch batch{at::zeros({2, 3, 4, 4}), at::full({2, kClasses}, 1.0 / kClasses)};
  try {
    augmenter->apply(batch, 0);
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("hostile.so"), std::string::npos) << e.what();
    return e;
  }
  ADD_FAILURE() << name << ": apply() was not refused";
  return dmx::internal_error("none");
}

TEST(HostilePlugin, BadBatchResultsAreRefused) {
  auto registry = hostile_registry();
  const auto shape = apply_error(registry, "wrong_shape_augmenter");
  EXPECT_EQ(shape.category(), dmx::ErrorCategory::Shape);
  EXPECT_NE(std::string(shape.what()).find("images must keep the input's Float [2, 3, 4, 4] on cpu, got Float "
                                           "[2, 3, 4, 5]"),
            std::string::npos)
      << shape.what();
  const auto label = apply_error(registry, "bad_label_augmenter");
  EXPECT_EQ(label.category(), dmx::ErrorCategory::InvalidArgument);
  EXPECT_NE(std::string(label.what()).find("sum to 1; a row is off by 1"), std::string::npos) << label.what();
}

TEST(HostilePlugin, ADescriptorWhoseCountLiesIsRefusedAtLoad) {
  const auto registry = hostile_registry("lying_count.so");
  ASSERT_EQ(registry.refused().size(), 1u);
  EXPECT_NE(registry.refused()[0].path.find("lying_count.so"), std::string::npos);
  EXPECT_NE(registry.refused()[0].reason.find("claims 100000 augmenters"), std::string::npos)
      << registry.refused()[0].reason;
}

}  // namespace
