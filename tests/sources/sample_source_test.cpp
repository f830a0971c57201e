// A sample source through the plugin ABI: the registry creates it with the training set behind a dmx_dataset_view,
// and prepare / synthesize / next, errors and cancellation cross the boundary as the host expects.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <ATen/ATen.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../common/test_env.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"
#include "sources_test_files.hpp"

namespace {

namespace fs = std::filesystem;

// Image i is 6×5×3, every byte equal to i, so an image that crossed the ABI says which one it was. Label i % 3.
// After `cancel_after_loads` decoded images (0: never) it raises the host's stop flag, as Ctrl-C would.
class NumberedImages : public dmx::data::Dataset {
 public:
  explicit NumberedImages(int64_t size, int64_t cancel_after_loads = 0)
      : size_(size), cancel_after_(cancel_after_loads) {}
  int64_t size() const override { return size_; }
  int64_t label(int64_t index) const override { return index % 3; }
  at::Tensor load_image(int64_t index, const dmx::data::ImageRequest&) const override {
    check_index(index);
    if (cancel_after_ > 0 && ++loads_ == cancel_after_) dmx::request_cancel();
    return at::full({6, 5, 3}, index, at::kByte);
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "numbered image " + std::to_string(index); }

 private:
  int64_t size_;
  int64_t cancel_after_;
  mutable std::atomic<int64_t> loads_{0};
  std::vector<std::string> names_{"heron", "kestrel", "wren"};
  std::string metaclass_ = "bird";
  std::string name_ = "numbered images";
};

std::string fresh_dir(const std::string& name) { return dmx::test::fresh_dir("sources-test", name); }
using dmx::test::read_text;

dmx::PluginRegistry test_registry() {
  dmx::RegistryOptions options;
  options.search_paths = {dmx::test::test_plugin_dir(), dmx::test::plugin_dir()};
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

dmx::SampleSourceContext context_for(dmx::data::DatasetPtr dataset, uint64_t seed = 11) {
  dmx::SampleSourceContext context;
  context.num_classes = dataset->num_classes();
  context.seed = seed;
  context.dataset = std::move(dataset);
  return context;
}

std::shared_ptr<dmx::SampleSource> create(dmx::PluginRegistry& registry, const std::string& toml,
                                          dmx::data::DatasetPtr dataset, uint64_t seed = 11) {
  const auto doc = dmx::config::Document::parse_string(toml, "sources.toml");
  return registry.create_sample_source("blend_source", doc.root(), context_for(std::move(dataset), seed));
}

dmx::ErrorCategory category_of_failure(const std::function<void()>& body, std::string& message) {
  try {
    body();
  } catch (const dmx::Error& e) {
    message = e.what();
    return e.category();
  }
  ADD_FAILURE() << "expected a dmx::Error";
  return dmx::ErrorCategory::Internal;
}

TEST(SampleSource, StreamsBlendedSamplesUntilExhausted) {
  auto registry = test_registry();
  auto dataset = std::make_shared<NumberedImages>(9);
  auto source = create(registry, "augmenter = \"blend_source\"\nstream_count = 4\n", dataset);
  EXPECT_EQ(source->name(), "blend_source");
  source->prepare();
  source->prepare();  // idempotent
  for (int k = 0; k < 4; ++k) {
    const auto sample = source->next();
    ASSERT_TRUE(sample.has_value()) << "sample " << k;
    EXPECT_EQ(sample->image.sizes(), (at::IntArrayRef{6, 5, 3}));
    EXPECT_EQ(sample->image.scalar_type(), at::kByte);
    ASSERT_EQ(sample->soft_label.sizes(), (at::IntArrayRef{3}));
    EXPECT_NEAR(sample->soft_label.sum().item<float>(), 1.0f, 1e-5f);
    const auto expected = dmx::data::diffmix_soft_label(sample->source_class, sample->target_class,
                                                        sample->strength, 3);
    EXPECT_TRUE(at::allclose(sample->soft_label, expected));
    EXPECT_TRUE(sample->strength == 0.25f || sample->strength == 0.5f || sample->strength == 0.75f);
  }
  EXPECT_FALSE(source->next().has_value());
  EXPECT_FALSE(source->next().has_value());
}

TEST(SampleSource, CopyModeReturnsTheDatasetImageAndLabelUnchanged) {
  auto registry = test_registry();
  auto dataset = std::make_shared<NumberedImages>(7);
  auto source = create(registry, "augmenter = \"blend_source\"\nmode = \"copy\"\n", dataset);
  source->prepare();
  int64_t seen = 0;
  while (const auto sample = source->next()) {
    const int64_t index = sample->image[0][0][0].item<int64_t>();
    ASSERT_LT(index, dataset->size());
    EXPECT_TRUE(at::equal(sample->image, dataset->load_image(index, {})));
    EXPECT_EQ(sample->source_class, dataset->label(index));
    EXPECT_EQ(sample->target_class, dataset->label(index));
    ++seen;
  }
  EXPECT_EQ(seen, dataset->size());  // stream_count 0: one sample per dataset image
}

// What the plugins log, captured from the start: the host keeps one logger per plugin source, made with the sinks
// that exist when that source first logs.
std::ostringstream& plugin_log() {
  static std::ostringstream log;
  return log;
}

class CapturePluginLog : public ::testing::Environment {
 public:
  void SetUp() override {
    spdlog::default_logger()->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(plugin_log()));
    spdlog::set_level(spdlog::level::debug);
  }
};
const auto* const capture_plugin_log = ::testing::AddGlobalTestEnvironment(new CapturePluginLog);

TEST(SampleSource, TheViewGivesTheClassNamesAndMetaclass) {
  // The plugin logs what it read through the view in prepare().
  auto registry = test_registry();
  auto source = create(registry, "augmenter = \"blend_source\"\n", std::make_shared<NumberedImages>(3));
  plugin_log().str("");
  source->prepare();
  EXPECT_NE(plugin_log().str().find("prepared on metaclass 'bird' with classes heron, kestrel, wren"),
            std::string::npos)
      << plugin_log().str();
}

TEST(SampleSource, AMisspeltKeyIsAConfigErrorWithItsPosition) {
  auto registry = test_registry();
  std::string message;
  const auto category = category_of_failure(
      [&] { create(registry, "augmenter = \"blend_source\"\nmdoe = \"copy\"\n", std::make_shared<NumberedImages>(3)); },
      message);
  EXPECT_EQ(category, dmx::ErrorCategory::Config);
  EXPECT_NE(message.find("sources.toml:2:1: unknown key 'mdoe'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'mode'?"), std::string::npos) << message;
  const auto bad_choice = category_of_failure(
      [&] { create(registry, "augmenter = \"blend_source\"\nmode = \"paste\"\n", std::make_shared<NumberedImages>(3)); },
      message);
  EXPECT_EQ(bad_choice, dmx::ErrorCategory::Config);
  EXPECT_NE(message.find("sources.toml:2:8"), std::string::npos) << message;
}

TEST(SampleSource, ARoleMismatchNamesBothRoles) {
  auto registry = test_registry();
  ASSERT_TRUE(registry.has_augmenter("cutmix"));
  std::string message;
  const auto doc = dmx::config::Document::parse_string("augmenter = \"cutmix\"\n", "run.toml");
  auto as_source = category_of_failure(
      [&] { registry.create_sample_source("cutmix", doc.root(), context_for(std::make_shared<NumberedImages>(3))); },
      message);
  EXPECT_EQ(as_source, dmx::ErrorCategory::Config);
  EXPECT_NE(message.find("'cutmix'"), std::string::npos) << message;
  EXPECT_NE(message.find("is a batch augmenter, but a sample source is needed"), std::string::npos) << message;

  const auto source_doc = dmx::config::Document::parse_string("augmenter = \"blend_source\"\n", "run.toml");
  auto as_batch = category_of_failure(
      [&] { registry.create_batch_augmenter("blend_source", source_doc.root(), {3, 0}); }, message);
  EXPECT_EQ(as_batch, dmx::ErrorCategory::Config);
  EXPECT_NE(message.find("is a sample source, but a batch augmenter is needed"), std::string::npos) << message;
}

TEST(SampleSource, MakingSamplesBeforePrepareIsRefusedWithTheReason) {
  auto registry = test_registry();
  auto source = create(registry, "augmenter = \"blend_source\"\n", std::make_shared<NumberedImages>(3));
  std::string message;
  EXPECT_EQ(category_of_failure([&] { source->next(); }, message), dmx::ErrorCategory::InvalidArgument);
  EXPECT_NE(message.find("blend_source"), std::string::npos) << message;
  EXPECT_NE(message.find("call prepare()"), std::string::npos) << message;
}

TEST(SampleSource, ACorruptDatasetImageIsAnErrorNamingTheFile) {
  const auto dir = fresh_dir("corrupt");
  for (const char* name : {"heron", "wren"}) {
    fs::create_directories(dir + "/train/" + name);
    std::ofstream(dir + "/train/" + name + "/broken.png") << "not a png at all";
  }
  auto dataset = dmx::data::open_image_folder(dir, "train");
  auto registry = test_registry();
  auto source = create(registry, "augmenter = \"blend_source\"\n", dataset);
  source->prepare();
  std::string message;
  const auto category = category_of_failure([&] { source->synthesize(dir + "/cache", 3); }, message);
  EXPECT_EQ(category, dmx::ErrorCategory::Format);
  EXPECT_NE(message.find("broken.png"), std::string::npos) << message;
  EXPECT_NE(message.find("sample source 'blend_source'"), std::string::npos) << message;
}

TEST(SampleSource, SynthesizeWritesACacheThatReadsBack) {
  const auto dir = fresh_dir("synthesize");
  auto registry = test_registry();
  auto dataset = std::make_shared<NumberedImages>(9);
  auto source = create(registry, "augmenter = \"blend_source\"\n", dataset);
  source->prepare();
  source->synthesize(dir + "/cache", 6);
  const auto cache = dmx::data::SyntheticCache::open(dir + "/cache", 3);
  ASSERT_EQ(cache->size(), 6);
  for (int64_t i = 0; i < cache->size(); ++i) {
    EXPECT_EQ(cache->load_image(i).sizes(), (at::IntArrayRef{6, 5, 3}));
    EXPECT_TRUE(at::allclose(cache->soft_label(i), dmx::data::diffmix_soft_label(
                                                       cache->record(i).source_class, cache->record(i).target_class,
                                                       cache->record(i).strength, 3)));
  }
  // A second call with the same count has nothing left to do; a larger one adds only the missing samples.
  const auto manifest = read_text(dir + "/cache/manifest.jsonl");
  source->synthesize(dir + "/cache", 6);
  EXPECT_EQ(read_text(dir + "/cache/manifest.jsonl"), manifest);
  source->synthesize(dir + "/cache", 8);
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir + "/cache", 3)->size(), 8);
}

TEST(SampleSource, ACancelledSynthesisResumesToTheSameCache) {
  const auto dir = fresh_dir("cancel");
  auto registry = test_registry();
  {
    auto straight = create(registry, "augmenter = \"blend_source\"\n", std::make_shared<NumberedImages>(9));
    straight->prepare();
    straight->synthesize(dir + "/straight", 10);
  }
  // Two images per sample: the stop request arrives while sample 4 is made; it is finished, then the source stops.
  auto interrupted = create(registry, "augmenter = \"blend_source\"\n", std::make_shared<NumberedImages>(9, 7));
  interrupted->prepare();
  std::string message;
  const auto category = category_of_failure([&] { interrupted->synthesize(dir + "/resumed", 10); }, message);
  EXPECT_TRUE(dmx::cancel_requested());
  dmx::clear_cancel();
  EXPECT_EQ(category, dmx::ErrorCategory::Cancelled);
  EXPECT_NE(message.find("4 of 10"), std::string::npos) << message;
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir + "/resumed", 3)->size(), 4);

  interrupted->synthesize(dir + "/resumed", 10);
  EXPECT_EQ(read_text(dir + "/resumed/manifest.jsonl"), read_text(dir + "/straight/manifest.jsonl"));
  for (int i = 0; i < 10; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/images/%06d.png", i);
    EXPECT_EQ(read_text(dir + "/resumed" + name), read_text(dir + "/straight" + name)) << name;
  }
}

TEST(SampleSource, OutlivesTheRegistryThatMadeIt) {
  std::shared_ptr<dmx::SampleSource> source;
  {
    auto registry = test_registry();
    source = create(registry, "augmenter = \"blend_source\"\nstream_count = 2\n", std::make_shared<NumberedImages>(3));
  }
  // The plugin library and the dataset view are still there: its code runs and reads the dataset.
  source->prepare();
  EXPECT_TRUE(source->next().has_value());
  EXPECT_TRUE(source->next().has_value());
  EXPECT_FALSE(source->next().has_value());
}

TEST(SampleSource, TheContextMustCarryAMatchingDataset) {
  auto registry = test_registry();
  const auto doc = dmx::config::Document::parse_string("augmenter = \"blend_source\"\n", "run.toml");
  dmx::SampleSourceContext context;
  context.num_classes = 3;
  std::string message;
  EXPECT_EQ(category_of_failure([&] { registry.create_sample_source("blend_source", doc.root(), context); }, message),
            dmx::ErrorCategory::InvalidArgument);
  EXPECT_NE(message.find("needs a dataset"), std::string::npos) << message;
  context.dataset = std::make_shared<NumberedImages>(3);
  context.num_classes = 5;
  EXPECT_EQ(category_of_failure([&] { registry.create_sample_source("blend_source", doc.root(), context); }, message),
            dmx::ErrorCategory::InvalidArgument);
  EXPECT_NE(message.find("5 classes"), std::string::npos) << message;
}

}  // namespace
