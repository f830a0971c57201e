// Sample sources across ABI versions, through real plugin files written in C: a 1.0 plugin (tables of the 1.0
// size, no `seek`), a 1.9 plugin (tables larger than this host's), a source without `next`, and sources without
// `prepare` or `synthesize`, which are refused at load. The plugins are described in c_sample_source.h.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../common/test_env.hpp"
#include "../common/three_images.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/error.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"

namespace {

namespace fs = std::filesystem;

using dmx::test::ThreeImages;

constexpr uint64_t kSeed = 100;

dmx::PluginRegistry registry_of(std::initializer_list<const char*> files) {
  dmx::RegistryOptions options;
  for (const char* file : files) options.search_paths.push_back(dmx::test::test_plugin_dir() + "/" + file);
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

std::string refusals_of(const dmx::PluginRegistry& registry) {
  std::string text;
  for (const auto& refused : registry.refused()) text += refused.path + ": " + refused.reason + "\n";
  return text;
}

std::shared_ptr<dmx::SampleSource> create(dmx::PluginRegistry& registry, const std::string& name) {
  const auto doc = dmx::config::Document::parse_string("augmenter = \"" + name + "\"\n", "sources.toml");
  dmx::SampleSourceContext context;
  context.num_classes = 3;
  context.seed = kSeed;
  context.dataset = std::make_shared<ThreeImages>();
  return registry.create_sample_source(name, doc.root(), context);
}

// Sample k of the C sources: every byte k, one-hot label of class k % 3, seed kSeed + k.
void expect_sample(const std::optional<dmx::Sample>& sample, int64_t k) {
  ASSERT_TRUE(sample.has_value()) << "sample " << k;
  EXPECT_TRUE(at::equal(sample->image, at::full({2, 3, 3}, k, at::kByte))) << "sample " << k;
  const at::Tensor one_hot = at::zeros({3}).index_fill_(0, at::tensor({k % 3}), 1.0);
  EXPECT_TRUE(at::equal(sample->soft_label, one_hot)) << "sample " << k << ": " << sample->soft_label;
  EXPECT_EQ(sample->target_class, k % 3);
  EXPECT_EQ(sample->source_class, -1);
  EXPECT_EQ(sample->seed, kSeed + static_cast<uint64_t>(k));
}

// What the C source wrote into made.txt after `make` filled the fresh folder it was given.
template <typename Make>
std::string made_text(const std::string& folder, Make&& make) {
  const auto dir = fs::path(dmx::test::build_dir()) / "test-output" / "sample-source-abi" / folder;
  fs::remove_all(dir);
  fs::create_directories(dir);
  make(dir.string());
  std::ifstream in(dir / "made.txt");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string synthesize_and_read(dmx::SampleSource& source, const std::string& folder, int64_t count) {
  return made_text(folder, [&](const std::string& dir) { source.synthesize(dir, count); });
}

// Runs `body`, which must throw a dmx::Error; returns it.
template <typename Body>
dmx::Error error_of(Body&& body) {
  try {
    body();
  } catch (const dmx::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no dmx::Error was thrown";
  return dmx::internal_error("none");
}

// ---- a plugin of ABI 1.0 on this host ---------------------------------------------------------------------------

TEST(SampleSourceAbi, APluginOfAbi1_0LoadsAndSaysSo) {
  const auto registry = registry_of({"abi_1_0_source.so"});
  ASSERT_TRUE(registry.has_augmenter("abi_1_0_source")) << refusals_of(registry);
  ASSERT_EQ(registry.plugins().size(), 1u);
  EXPECT_EQ(registry.plugins()[0].abi_major, 1u);
  EXPECT_EQ(registry.plugins()[0].abi_minor, 0u);
}

TEST(SampleSourceAbi, ASourceOfAbi1_0StreamsAndSynthesizes) {
  auto registry = registry_of({"abi_1_0_source.so"});
  auto source = create(registry, "abi_1_0_source");
  source->prepare();
  EXPECT_TRUE(source->can_stream());
  for (int64_t k = 0; k < 4; ++k) expect_sample(source->next(), k);
  EXPECT_FALSE(source->next().has_value());
  EXPECT_EQ(synthesize_and_read(*source, "abi_1_0", 7), "7");
}

// Its table ends before `seek`, and what follows it in memory is a function that aborts: a host reading past
// struct_size would take it for `seek`.
TEST(SampleSourceAbi, ASourceOfAbi1_0CannotSeekAndSaysWhy) {
  auto registry = registry_of({"abi_1_0_source.so"});
  auto source = create(registry, "abi_1_0_source");
  source->prepare();
  EXPECT_FALSE(source->can_seek());
  const dmx::Error error = error_of([&] { source->seek(2); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Unsupported);
  const std::string message = error.what();
  EXPECT_NE(message.find("'abi_1_0_source'"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot seek"), std::string::npos) << message;
  expect_sample(source->next(), 0);  // the failed seek moved nothing
}

// Nor does it hold `synthesize_part` (1.3): it synthesizes in one process only, and the host says so.
TEST(SampleSourceAbi, ASourceOfAbi1_0CannotMakeAShardAndSaysWhy) {
  auto registry = registry_of({"abi_1_0_source.so"});
  auto source = create(registry, "abi_1_0_source");
  source->prepare();
  EXPECT_FALSE(source->can_synthesize_part());
  const dmx::Error error = error_of([&] { source->synthesize_part("unused", 6, 0, 3); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Unsupported);
  const std::string message = error.what();
  EXPECT_NE(message.find("'abi_1_0_source'"), std::string::npos) << message;
  EXPECT_NE(message.find("added in ABI 1.3"), std::string::npos) << message;
}

// ---- a plugin of a later minor version, whose tables are larger than this host's ------------------------------

TEST(SampleSourceAbi, APluginWithLargerTablesLoadsAndSaysItsVersion) {
  const auto registry = registry_of({"abi_1_9_source.so"});
  ASSERT_TRUE(registry.has_augmenter("abi_1_9_source")) << refusals_of(registry);
  ASSERT_EQ(registry.plugins().size(), 1u);
  EXPECT_EQ(registry.plugins()[0].abi_minor, 9u);
  EXPECT_EQ(registry.plugins()[0].version, "1.9.0");
}

TEST(SampleSourceAbi, ASourceWithLargerTablesStreamsSeeksAndSynthesizes) {
  auto registry = registry_of({"abi_1_9_source.so"});
  auto source = create(registry, "abi_1_9_source");
  source->prepare();
  ASSERT_TRUE(source->can_seek());
  expect_sample(source->next(), 0);
  source->seek(3);
  expect_sample(source->next(), 3);
  EXPECT_FALSE(source->next().has_value());
  source->seek(1);
  expect_sample(source->next(), 1);
  EXPECT_EQ(synthesize_and_read(*source, "abi_1_9", 5), "5");
  ASSERT_TRUE(source->can_synthesize_part());
  EXPECT_EQ(made_text("abi_1_9_part", [&](const std::string& dir) { source->synthesize_part(dir, 5, 2, 4); }),
            "5 2 4");
  const dmx::Error error = error_of([&] { source->synthesize_part("unused", 5, 4, 6); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::InvalidArgument);
  EXPECT_NE(std::string(error.what()).find("samples [4, 6) are not a part of a run of 5"), std::string::npos)
      << error.what();
}

// ---- which functions a sample source must offer ----------------------------------------------------------------

TEST(SampleSourceAbi, ASourceWithoutNextOffersPaperModeOnly) {
  auto registry = registry_of({"abi_1_0_source.so"});
  auto source = create(registry, "paper_only_source");
  source->prepare();
  EXPECT_FALSE(source->can_stream());
  const dmx::Error error = error_of([&] { source->next(); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Unsupported);
  const std::string message = error.what();
  EXPECT_NE(message.find("'paper_only_source'"), std::string::npos) << message;
  EXPECT_NE(message.find("paper mode (synthesize) only"), std::string::npos) << message;
  EXPECT_EQ(synthesize_and_read(*source, "paper_only", 2), "2");
}

TEST(SampleSourceAbi, ASourceWithoutPrepareOrSynthesizeIsRefusedNamingTheFunction) {
  const auto registry = registry_of({"missing_prepare.so", "missing_synthesize.so"});
  EXPECT_FALSE(registry.has_augmenter("no_prepare_source"));
  EXPECT_FALSE(registry.has_augmenter("no_synthesize_source"));
  ASSERT_EQ(registry.refused().size(), 2u) << refusals_of(registry);
  const auto& no_prepare = registry.refused()[0];
  EXPECT_EQ(fs::path(no_prepare.path).filename(), "missing_prepare.so");
  EXPECT_NE(no_prepare.reason.find("augmenter 'no_prepare_source' is a sample source without `prepare`"),
            std::string::npos)
      << no_prepare.reason;
  const auto& no_synthesize = registry.refused()[1];
  EXPECT_EQ(fs::path(no_synthesize.path).filename(), "missing_synthesize.so");
  EXPECT_NE(no_synthesize.reason.find("augmenter 'no_synthesize_source' is a sample source without `synthesize`"),
            std::string::npos)
      << no_synthesize.reason;
}

}  // namespace
