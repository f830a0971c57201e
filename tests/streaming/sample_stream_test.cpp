// SampleStream: every streamed sample persisted in order, the total and the source's end respected, resume after a
// kill (nothing made twice), the synchronous schedule, errors (the plugin's own), and cancellation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/test_env.hpp"
#include "counting_source.hpp"
#include "data/memory_dataset.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/sample_stream.hpp"
#include "diffmix/registry.hpp"
#include "sources/sources_test_files.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::data::SampleStream;
using dmx::data::SampleStreamOptions;
using dmx::data::SyntheticCache;
using dmx::test::CountingOptions;
using dmx::test::CountingSource;

std::string stream_dir(const std::string& name) { return dmx::test::fresh_dir("stream-test", name); }

SampleStreamOptions options_for(const std::string& cache, int64_t total) {
  SampleStreamOptions options;
  options.cache = cache;
  options.total = total;
  options.queue = 2;  // small, so that the producer really waits on the writer
  return options;
}

// Runs a stream of `source` to its end and returns how many samples the cache holds.
int64_t run_to_end(std::shared_ptr<CountingSource> source, const SampleStreamOptions& options) {
  SampleStream stream(source, 2, options);
  const int64_t made = stream.wait_for(options.total);
  stream.stop();
  return made;
}

// The seeds in the cache's manifest, in order: CountingSource's sample k has seed k.
std::vector<uint64_t> seeds_in(const std::string& cache) {
  std::vector<uint64_t> seeds;
  const auto opened = SyntheticCache::open(cache, 2);  // kept alive: a range-for over a temporary's member dangles
  for (const auto& record : opened->records()) seeds.push_back(record.seed);
  return seeds;
}

std::vector<uint64_t> iota(uint64_t n) {
  std::vector<uint64_t> values(n);
  for (uint64_t i = 0; i < n; ++i) values[i] = i;
  return values;
}

class StreamTest : public ::testing::Test {
 protected:
  void TearDown() override { dmx::clear_cancel(); }
};

TEST_F(StreamTest, PersistsEverySampleInOrderUpToTheTotal) {
  const auto dir = stream_dir("basic");
  auto source = std::make_shared<CountingSource>();
  EXPECT_EQ(run_to_end(source, options_for(dir, 10)), 10);
  EXPECT_EQ(source->prepared, 1);
  EXPECT_TRUE(source->seeks.empty());
  EXPECT_EQ(seeds_in(dir), iota(10));
  const auto cache = SyntheticCache::open(dir, 2);
  for (int64_t i = 0; i < cache->size(); ++i) {
    EXPECT_EQ(cache->load_image(i).sizes(), (at::IntArrayRef{12, 10, 3}));
    EXPECT_EQ(cache->load_image(i)[0][0][0].item<int64_t>(), i);
    EXPECT_EQ(cache->record(i).target_class, i % 2);
  }
}

TEST_F(StreamTest, EndsWhenTheSourceRunsOut) {
  const auto dir = stream_dir("runs-out");
  CountingOptions counting;
  counting.limit = 3;
  EXPECT_EQ(run_to_end(std::make_shared<CountingSource>(counting), options_for(dir, 10)), 3);
  EXPECT_EQ(seeds_in(dir), iota(3));
}

TEST_F(StreamTest, ARerunReusesTheCacheAndSeeksToTheFirstMissingSample) {
  const auto dir = stream_dir("resume");
  ASSERT_EQ(run_to_end(std::make_shared<CountingSource>(), options_for(dir, 4)), 4);
  auto source = std::make_shared<CountingSource>();
  {
    SampleStream stream(source, 2, options_for(dir, 9));
    EXPECT_EQ(stream.resumed_from(), 4);
    EXPECT_EQ(stream.wait_for(9), 9);
  }
  EXPECT_EQ(source->seeks, (std::vector<int64_t>{4}));
  EXPECT_EQ(seeds_in(dir), iota(9));

  // A cache that already holds the total: the source is neither prepared nor asked for anything.
  auto idle = std::make_shared<CountingSource>();
  EXPECT_EQ(run_to_end(idle, options_for(dir, 9)), 9);
  EXPECT_EQ(idle->prepared, 0);
  EXPECT_EQ(seeds_in(dir), iota(9));
}

TEST_F(StreamTest, ASourceThatCannotSeekCannotResume) {
  const auto dir = stream_dir("no-seek");
  CountingOptions counting;
  counting.seekable = false;
  ASSERT_EQ(run_to_end(std::make_shared<CountingSource>(counting), options_for(dir, 3)), 3);  // a fresh cache works
  try {
    SampleStream stream(std::make_shared<CountingSource>(counting), 2, options_for(dir, 6));
    FAIL() << "resumed without seek";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Unsupported);
    EXPECT_NE(std::string(error.what()).find("'counting' cannot seek"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(dir), std::string::npos) << error.what();
  }
}

TEST_F(StreamTest, ASourceThatCannotStreamIsRefusedByName) {
  CountingOptions counting;
  counting.streams = false;
  try {
    SampleStream stream(std::make_shared<CountingSource>(counting), 2, options_for(stream_dir("no-stream"), 3));
    FAIL() << "streamed from a paper-mode source";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Unsupported);
    EXPECT_NE(std::string(error.what()).find("'counting' cannot stream"), std::string::npos) << error.what();
  }
}

TEST_F(StreamTest, TheSourcesErrorStopsTheStreamAndIsRethrownUnchanged) {
  const auto dir = stream_dir("error");
  CountingOptions counting;
  counting.fail_at = 5;
  SampleStream stream(std::make_shared<CountingSource>(counting), 2, options_for(dir, 10));
  for (const auto& call : std::vector<std::function<void()>>{[&] { stream.wait_for(10); },
                                                             [&] { stream.rethrow_if_failed(); },
                                                             [&] { stream.usable_size(0); }}) {
    try {
      call();
      FAIL() << "no error";
    } catch (const dmx::Error& error) {
      EXPECT_EQ(error.category(), dmx::ErrorCategory::Format);
      EXPECT_STREQ(error.what(), "counting: sample 5 is broken");
    }
  }
  stream.stop();
  EXPECT_EQ(seeds_in(dir), iota(5));  // what was made before the error is kept, and valid
}

TEST_F(StreamTest, ACancelRequestEndsTheStreamAndARerunContinuesIt) {
  const auto dir = stream_dir("cancel");
  CountingOptions counting;
  counting.cancel_at = 3;  // sample 3 is made, then the producer sees the request
  {
    SampleStream stream(std::make_shared<CountingSource>(counting), 2, options_for(dir, 10));
    EXPECT_EQ(stream.wait_for(10), 4);
    EXPECT_TRUE(stream.ended());
    EXPECT_NO_THROW(stream.rethrow_if_failed());
  }
  EXPECT_EQ(seeds_in(dir), iota(4));
  dmx::clear_cancel();
  auto source = std::make_shared<CountingSource>();
  EXPECT_EQ(run_to_end(source, options_for(dir, 10)), 10);
  EXPECT_EQ(source->seeks, (std::vector<int64_t>{4}));
  EXPECT_EQ(seeds_in(dir), iota(10));
}

TEST_F(StreamTest, SynchronousEpochsUseAFixedNumberOfSamplesAndWaitForThem) {
  auto options = options_for(stream_dir("sync"), 8);
  options.synchronous = true;
  options.per_epoch = 3;
  SampleStream stream(std::make_shared<CountingSource>(), 2, options);
  EXPECT_EQ(stream.usable_size(0), 0);
  EXPECT_EQ(stream.usable_size(2), 6);
  EXPECT_GE(stream.size(), 6);
  EXPECT_EQ(stream.usable_size(1), 3);
  EXPECT_EQ(stream.usable_size(3), 8);
  EXPECT_EQ(stream.usable_size(1000000), 8);

  // A source that runs out early gives the same smaller number in every run.
  CountingOptions counting;
  counting.limit = 5;
  options.cache = stream_dir("sync-short");
  SampleStream short_stream(std::make_shared<CountingSource>(counting), 2, options);
  EXPECT_EQ(short_stream.usable_size(2), 5);
}

TEST_F(StreamTest, ASynchronousWaitEndsOnACancelRequest) {
  auto options = options_for(stream_dir("sync-cancel"), 10);
  options.synchronous = true;
  options.per_epoch = 5;
  CountingOptions counting;
  counting.cancel_at = 1;
  SampleStream stream(std::make_shared<CountingSource>(counting), 2, options);
  try {
    stream.usable_size(1);
    FAIL() << "the wait did not end";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Cancelled);
  }
}

// The blend_source test plugin, through the ABI.
dmx::PluginRegistry test_registry() {
  dmx::RegistryOptions options;
  options.search_paths = {dmx::test::test_plugin_dir()};
  options.use_environment = false;
  options.use_install_dir = false;
  return dmx::PluginRegistry(options);
}

std::shared_ptr<dmx::SampleSource> blend_source(dmx::PluginRegistry& registry, dmx::data::DatasetPtr dataset) {
  const auto doc = dmx::config::Document::parse_string("augmenter = \"blend_source\"\nstream_count = 100\n", "t.toml");
  dmx::SampleSourceContext context;
  context.num_classes = dataset->num_classes();
  context.seed = 7;
  context.dataset = std::move(dataset);
  return registry.create_sample_source("blend_source", doc.root(), context);
}

TEST_F(StreamTest, APluginStreamKilledMidSampleResumesToTheSameCache) {
  auto registry = test_registry();
  auto dataset = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{4, 4, 4});
  const auto straight = stream_dir("plugin-straight"), killed = stream_dir("plugin-killed");
  for (const auto& dir : {straight, killed}) {
    SampleStream stream(blend_source(registry, dataset), 3, options_for(dir, 8));
    ASSERT_EQ(stream.wait_for(8), 8);
  }
  // What a kill while persisting sample 5 leaves: five complete lines and half of the sixth.
  const std::string manifest = dmx::test::read_text(straight + "/manifest.jsonl");
  size_t cut = 0;
  for (int line = 0; line < 5; ++line) cut = manifest.find('\n', cut) + 1;
  std::ofstream(killed + "/manifest.jsonl", std::ios::binary | std::ios::trunc)
      << manifest.substr(0, cut + (manifest.find('\n', cut) - cut) / 2);
  fs::remove(killed + "/images/000006.png");
  fs::remove(killed + "/images/000007.png");

  SampleStream stream(blend_source(registry, dataset), 3, options_for(killed, 8));
  EXPECT_EQ(stream.resumed_from(), 5);
  ASSERT_EQ(stream.wait_for(8), 8);
  stream.stop();
  EXPECT_EQ(dmx::test::read_text(killed + "/manifest.jsonl"), manifest);
  for (const char* image : {"/images/000005.png", "/images/000006.png", "/images/000007.png"})
    EXPECT_EQ(dmx::test::read_text(killed + image), dmx::test::read_text(straight + image)) << image;
}

TEST_F(StreamTest, APluginsErrorKeepsItsCategoryAndMessage) {
  auto registry = test_registry();
  // Every image fails to decode, so blend_source's first next() fails reading its reference image.
  auto dataset = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{2, 2},
                                                            std::set<int64_t>{0, 1, 2, 3});
  SampleStream stream(blend_source(registry, dataset), 2, options_for(stream_dir("plugin-error"), 4));
  try {
    stream.wait_for(4);
    FAIL() << "no error";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Format);
    EXPECT_NE(std::string(error.what()).find("blend_source"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("corrupt JPEG data (test)"), std::string::npos) << error.what();
  }
}

}  // namespace
