// The registry refuses every broken plugin with the file and the reason, and still loads the good ones.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "../common/test_env.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/plugin_api.h"
#include "diffmix/registry.hpp"

namespace {

using dmx::test::plugin_dir;
using dmx::test::test_plugin_dir;

dmx::PluginRegistry registry_with_broken_plugins() {
  dmx::RegistryOptions options;
  options.search_paths = {test_plugin_dir(), plugin_dir()};
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

std::string reason_for(const dmx::PluginRegistry& registry, const std::string& file) {
  for (const auto& refused : registry.refused())
    if (refused.path.size() >= file.size() && refused.path.compare(refused.path.size() - file.size(), file.size(), file) == 0)
      return refused.reason;
  return "";
}

TEST(Registry, GoodPluginsLoadBesideBrokenOnes) {
  const auto registry = registry_with_broken_plugins();
  EXPECT_TRUE(registry.has_augmenter("cutmix"));
  EXPECT_TRUE(registry.has_augmenter("mixup"));
  EXPECT_TRUE(registry.has_augmenter("c_negate"));
  EXPECT_TRUE(registry.has_augmenter("identity"));
}

TEST(Registry, WrongAbiVersionIsRefusedNamingBothVersions) {
  const auto reason = reason_for(registry_with_broken_plugins(), "/wrong_abi.so");
  EXPECT_NE(reason.find("built for ABI 99.0"), std::string::npos) << reason;
  EXPECT_NE(reason.find("host speaks ABI 1."), std::string::npos) << reason;
}

TEST(Registry, MissingEntrySymbolIsRefused) {
  const auto reason = reason_for(registry_with_broken_plugins(), "/missing_entry.so");
  EXPECT_NE(reason.find("no 'dmx_plugin_entry' symbol"), std::string::npos) << reason;
}

TEST(Registry, AFileThatIsNotALibraryIsRefused) {
  const auto reason = reason_for(registry_with_broken_plugins(), "/not_a_library.so");
  EXPECT_NE(reason.find("not a loadable library"), std::string::npos) << reason;
}

TEST(Registry, AnEntryThatRefusesIsRefusedWithItsMessage) {
  const auto reason = reason_for(registry_with_broken_plugins(), "/refusing_entry.so");
  EXPECT_NE(reason.find("needs a GPU and none is present"), std::string::npos) << reason;
}

TEST(Registry, ACreateThatThrowsGivesItsMessageFileAndCategory) {
  auto registry = registry_with_broken_plugins();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"always_throws\"\n", "run.toml");
  try {
    registry.create_batch_augmenter("always_throws", doc.root(), {10, 0});
    FAIL() << "create should have failed";
  } catch (const dmx::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(message.find("throwing_create.so"), std::string::npos) << message;
    EXPECT_NE(message.find("missing.safetensors"), std::string::npos) << message;
  }
  // The same plugin's other augmenter is unaffected.
  const auto ok = dmx::config::Document::parse_string("augmenter = \"identity\"\nscale = 2.0\n", "run.toml");
  auto identity = registry.create_batch_augmenter("identity", ok.root(), {10, 0});
  const auto out = identity->apply({at::ones({2, 1, 2, 2}), at::full({2, 10}, 0.1)}, 0);
  EXPECT_TRUE(at::allclose(out.images, at::full({2, 1, 2, 2}, 2.0)));
}

TEST(Registry, PluginKeysAreCheckedAgainstTheSchemaWithPositions) {
  auto registry = registry_with_broken_plugins();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"identity\"\nscael = 2.0\n", "run.toml");
  try {
    registry.create_batch_augmenter("identity", doc.root(), {10, 0});
    FAIL() << "a misspelt key should be refused";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config);
    EXPECT_NE(std::string(e.what()).find("run.toml:2:1: unknown key 'scael'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'scale'?"), std::string::npos) << e.what();
  }
  const auto out_of_range = dmx::config::Document::parse_string("augmenter = \"identity\"\nscale = 20.0\n", "run.toml");
  EXPECT_THROW(registry.create_batch_augmenter("identity", out_of_range.root(), {10, 0}), dmx::Error);
}

TEST(Registry, AnUnknownAugmenterSuggestsTheNearestName) {
  auto registry = registry_with_broken_plugins();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"cutmx\"\n", "run.toml");
  try {
    registry.create_batch_augmenter("cutmx", doc.root(), {10, 0});
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'cutmix'?"), std::string::npos) << e.what();
  }
}

std::string plugins_command_output() {
  const std::string command = dmx::test::cli_path() + " plugins --plugin-path " + test_plugin_dir() +
                              " --plugin-path " + plugin_dir() + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string output;
  std::array<char, 512> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe.get())) output += buffer.data();
  return output;
}

// The user's path: `diffmix plugins` lists the good plugins and explains every refused file.
TEST(Registry, PluginsCommandListsAugmentersAndExplainsRefusals) {
  const std::string output = plugins_command_output();
  // In-tree plugins are built against this tree's headers, so they speak its ABI.
  const std::string abi = "(ABI " + std::to_string(DMX_ABI_VERSION_MAJOR) + "." +
                          std::to_string(DMX_ABI_VERSION_MINOR) + ")";
  const std::vector<std::string> expected_parts = {"cutmix 1.0.0 " + abi,          "mixup 1.0.0 " + abi,
                                                   "refused:",                      "built for ABI 99.0",
                                                   "no 'dmx_plugin_entry' symbol", "not a loadable library",
                                                   "needs a GPU"};
  for (const auto& expected : expected_parts)
    EXPECT_NE(output.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << output;
}

// A sample source without `synthesize` is refused on one line that names the file, the augmenter and the function.
TEST(Registry, PluginsCommandListsASampleSourceWithoutSynthesizeAsRefused) {
  const std::string output = plugins_command_output();
  const auto refused = output.find("refused:");
  ASSERT_NE(refused, std::string::npos) << output;
  std::istringstream lines(output.substr(refused));
  std::string line, found;
  while (std::getline(lines, line))
    if (line.find("/missing_synthesize.so: ") != std::string::npos) found = line;
  EXPECT_NE(found.find("augmenter 'no_synthesize_source' is a sample source without `synthesize`"), std::string::npos)
      << output;
}

}  // namespace
