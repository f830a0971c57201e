// StreamingDataset: the torch::data face of a stream. Synchronous epochs see a fixed set of samples (two datasets on
// two caches give identical examples), copies share the epoch and the stream, and the source's error reaches get().
#include <gtest/gtest.h>

#include "counting_source.hpp"
#include "data/memory_dataset.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/streaming_dataset.hpp"
#include "sources/sources_test_files.hpp"

namespace {

using dmx::test::CountingOptions;
using dmx::test::CountingSource;

std::string dataset_dir(const std::string& name) { return dmx::test::fresh_dir("streaming-dataset-test", name); }

dmx::StreamingOptions synchronous_options(const std::string& cache) {
  dmx::StreamingOptions options;
  options.cache = cache;
  options.probability = 0.5;
  options.total = 8;
  options.synchronous = true;
  options.per_epoch = 4;
  options.seed = 3;
  return options;
}

dmx::data::Transforms to_float() { return dmx::data::Transforms().normalize({0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}); }

auto real_set() { return std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{20, 20}); }

TEST(StreamingDataset, SynchronousEpochsGiveTheSameExamplesInEveryRun) {
  const auto real = real_set();
  dmx::StreamingDataset first(real, std::make_shared<CountingSource>(), to_float(), synchronous_options(dataset_dir("a")));
  dmx::StreamingDataset second(real, std::make_shared<CountingSource>(), to_float(), synchronous_options(dataset_dir("b")));
  ASSERT_EQ(first.size(), 40u);
  int64_t synthetic = 0;
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    first.set_epoch(epoch);
    second.set_epoch(epoch);
    for (size_t i = 0; i < 40; ++i) {
      const auto a = first.get(i), b = second.get(i);
      ASSERT_TRUE(at::equal(a.data, b.data)) << "epoch " << epoch << " sample " << i;
      ASSERT_TRUE(at::equal(a.target, b.target)) << "epoch " << epoch << " sample " << i;
      const auto choice = first.mixer().choose(static_cast<int64_t>(i), epoch);
      if (epoch == 0) EXPECT_FALSE(choice.synthetic);  // epoch 0 uses min(8, 0·4) = 0 samples
      if (choice.synthetic) {
        ++synthetic;
        EXPECT_LT(choice.index, std::min<int64_t>(8, 4 * static_cast<int64_t>(epoch)));
      }
    }
  }
  EXPECT_GT(synthetic, 10);
  EXPECT_EQ(first.stream().resumed_from(), 0);
}

TEST(StreamingDataset, CopiesShareTheEpochAndTheStream) {
  dmx::StreamingDataset dataset(real_set(), std::make_shared<CountingSource>(), to_float(),
                                synchronous_options(dataset_dir("copies")));
  const dmx::StreamingDataset copy = dataset;
  dataset.set_epoch(2);
  EXPECT_EQ(copy.epoch(), 2u);
  EXPECT_EQ(&copy.stream(), &dataset.stream());
  dataset.stop();
  EXPECT_TRUE(copy.stream().ended());
}

TEST(StreamingDataset, TheSourcesErrorReachesGet) {
  CountingOptions counting;
  counting.fail_at = 0;
  auto options = synchronous_options(dataset_dir("error"));
  dmx::StreamingDataset dataset(real_set(), std::make_shared<CountingSource>(counting), to_float(), options);
  dataset.set_epoch(1);
  try {
    dataset.get(0);
    FAIL() << "no error";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Format);
    EXPECT_STREQ(error.what(), "counting: sample 0 is broken");
  }
  EXPECT_THROW(dataset.rethrow_if_failed(), dmx::Error);
}

TEST(StreamingDataset, ASynchronousStreamNeedsPerEpoch) {
  auto options = synchronous_options(dataset_dir("per-epoch"));
  options.per_epoch = 0;
  EXPECT_THROW(dmx::StreamingDataset(real_set(), std::make_shared<CountingSource>(), to_float(), options), dmx::Error);
}

}  // namespace
