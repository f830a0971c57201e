// The Loader: batches independent of worker count and timing, exact resume, clean shutdown, errors, augmenters.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "data_test_files.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/loader.hpp"
#include "diffmix/error.hpp"
#include "memory_dataset.hpp"

namespace {

using dmx::data::Loader;
using dmx::data::LoaderOptions;
using dmx::data::Transforms;

std::shared_ptr<dmx::data::Mixer> make_mixer(const dmx::test::TempDir& dir, std::set<int64_t> corrupt = {},
                                             double p = 0.3) {
  {
    dmx::data::SyntheticCacheWriter writer(dir / "cache");
    for (int i = writer.size(); i < 4; ++i) {
      dmx::data::SyntheticRecord r;
      r.source_class = i % 3;
      r.target_class = (i + 1) % 3;
      r.strength = 0.7;
      writer.add(dmx::test::test_picture(12, 10, i), r);
    }
  }
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{20, 20, 20}, std::move(corrupt));
  dmx::data::MixerOptions options;
  options.probability = p;
  options.seed = 9;
  return std::make_shared<dmx::data::Mixer>(real, dmx::data::SyntheticCache::open(dir / "cache", 3), options);
}

Transforms random_transforms() {
  Transforms t;
  t.random_crop(8, 8, 2).horizontal_flip(0.5).imagenet_normalize();
  return t;
}

std::vector<dmx::Batch> whole_epoch(Loader& loader, uint64_t epoch, int64_t start = 0) {
  std::vector<dmx::Batch> batches;
  loader.start_epoch(epoch, start);
  while (auto batch = loader.next()) batches.push_back(*batch);
  return batches;
}

void expect_same(const std::vector<dmx::Batch>& a, const std::vector<dmx::Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].images.equal(b[i].images)) << "batch " << i;
    EXPECT_TRUE(a[i].labels.equal(b[i].labels)) << "batch " << i;
  }
}

LoaderOptions options_with(int workers, int64_t batch_size = 7) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  options.prefetch_batches = 2;
  options.seed = 1;
  return options;
}

TEST(Loader, BatchesHaveTheRightShapesAndSoftLabels) {
  dmx::test::TempDir dir;
  Loader loader(make_mixer(dir), random_transforms(), options_with(2));
  EXPECT_EQ(loader.batches_per_epoch(), 9);  // 60 samples in batches of 7, the last one of 4
  const auto batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 9u);
  EXPECT_EQ(batches[0].images.sizes(), (std::vector<int64_t>{7, 3, 8, 8}));
  EXPECT_EQ(batches[8].images.size(0), 4);
  EXPECT_EQ(batches[0].labels.sizes(), (std::vector<int64_t>{7, 3}));
  for (const auto& batch : batches)
    EXPECT_TRUE(batch.labels.sum(1).allclose(at::ones_like(batch.labels.sum(1))));
  LoaderOptions drop = options_with(1);
  drop.drop_last = true;
  EXPECT_EQ(Loader(make_mixer(dir), random_transforms(), drop).batches_per_epoch(), 8);
}

TEST(Loader, SameSeedSameBatchesWhateverTheNumberOfWorkers) {
  dmx::test::TempDir dir;
  const auto mixer = make_mixer(dir);
  Loader serial(mixer, random_transforms(), options_with(0));
  Loader one(mixer, random_transforms(), options_with(1));
  Loader two(mixer, random_transforms(), options_with(2));
  const auto reference = whole_epoch(serial, 3);
  expect_same(reference, whole_epoch(one, 3));
  expect_same(reference, whole_epoch(two, 3));
  expect_same(reference, whole_epoch(two, 3));  // and again
  const auto other_epoch = whole_epoch(two, 4);
  EXPECT_FALSE(reference[0].images.equal(other_epoch[0].images));
  for (size_t b = 0; b < reference.size(); ++b) {
    const auto built = serial.make_batch(3, static_cast<int64_t>(b));
    EXPECT_TRUE(built.images.equal(reference[b].images));
  }
}

// Data-parallel ranks each load a contiguous share of every batch; together the shares are the batch of one process,
// the last partial batch (4 samples over 3 shares: 2, 1, 1) included.
TEST(Loader, ShardsOfABatchAreTheSingleProcessBatch) {
  dmx::test::TempDir dir;
  const auto mixer = make_mixer(dir);
  Loader single(mixer, random_transforms(), options_with(1));
  const auto reference = whole_epoch(single, 5);
  std::vector<std::vector<dmx::Batch>> shards;
  for (int shard = 0; shard < 3; ++shard) {
    LoaderOptions options = options_with(shard % 2);
    options.shard = shard;
    options.shards = 3;
    Loader loader(mixer, random_transforms(), options);
    EXPECT_EQ(loader.batches_per_epoch(), single.batches_per_epoch());
    EXPECT_EQ(loader.batch_length(8), 4);
    shards.push_back(whole_epoch(loader, 5));
  }
  EXPECT_EQ(shards[0][0].images.size(0), 3);
  EXPECT_EQ(shards[2][8].images.size(0), 1);
  for (size_t b = 0; b < reference.size(); ++b) {
    EXPECT_TRUE(at::cat({shards[0][b].images, shards[1][b].images, shards[2][b].images}).equal(reference[b].images))
        << "batch " << b;
    EXPECT_TRUE(at::cat({shards[0][b].labels, shards[1][b].labels, shards[2][b].labels}).equal(reference[b].labels));
  }
  // 60 samples in batches of 7 end with 4: five processes cannot share that batch.
  LoaderOptions too_many = options_with(0);
  too_many.shards = 5;
  EXPECT_THROW(Loader(mixer, random_transforms(), too_many), dmx::Error);
  too_many.shards = 2;
  too_many.shard = 2;
  EXPECT_THROW(Loader(mixer, random_transforms(), too_many), dmx::Error);
}

TEST(Loader, ResumingAnEpochAtBatchBRepeatsTheOriginalBatches) {
  dmx::test::TempDir dir;
  Loader loader(make_mixer(dir), random_transforms(), options_with(2));
  const auto full = whole_epoch(loader, 2);
  const auto resumed = whole_epoch(loader, 2, 5);
  ASSERT_EQ(resumed.size(), full.size() - 5);
  expect_same(std::vector<dmx::Batch>(full.begin() + 5, full.end()), resumed);
  EXPECT_TRUE(whole_epoch(loader, 2, loader.batches_per_epoch()).empty());
  EXPECT_THROW(loader.start_epoch(2, loader.batches_per_epoch() + 1), dmx::Error);
}

TEST(Loader, EveryRealSampleAppearsOncePerEpochWithoutReplacement) {
  dmx::test::TempDir dir;
  Loader loader(make_mixer(dir, {}, 0.0), Transforms(), options_with(2));  // identity: blue channel = index / 255
  std::multiset<int64_t> seen;
  for (const auto& batch : whole_epoch(loader, 0))
    for (int64_t i = 0; i < batch.images.size(0); ++i)
      seen.insert(static_cast<int64_t>(std::lround(batch.images[i][2][0][0].item<float>() * 255.0f)));
  ASSERT_EQ(seen.size(), 60u);
  for (int64_t i = 0; i < 60; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
}

TEST(Loader, DestroyingMidEpochDoesNotHang) {
  dmx::test::TempDir dir;
  const auto mixer = make_mixer(dir);
  {
    Loader loader(mixer, random_transforms(), options_with(2, 2));
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
  }
  {
    Loader loader(mixer, random_transforms(), options_with(2, 2));
    loader.start_epoch(0);  // never consumed: workers block on the full prefetch queue
  }
  Loader restarted(mixer, random_transforms(), options_with(2, 2));
  restarted.start_epoch(0);
  restarted.start_epoch(1);  // abandoning an epoch in progress
  EXPECT_TRUE(restarted.next().has_value());
}

TEST(Loader, ACorruptImageIsAnErrorNamingItOrASkippedSample) {
  dmx::test::TempDir dir;
  const auto mixer = make_mixer(dir, {5}, 0.0);
  Loader strict(mixer, Transforms(), options_with(2));
  strict.start_epoch(0);
  try {
    while (strict.next()) {
    }
    ADD_FAILURE() << "expected the corrupt sample to fail";
  } catch (const dmx::Error& error) {
    EXPECT_NE(std::string(error.what()).find("memory/5.jpg"), std::string::npos) << error.what();
  }
  LoaderOptions lenient = options_with(2);
  lenient.skip_bad_images = true;
  Loader skipping(mixer, Transforms(), lenient);
  int64_t samples = 0;
  for (const auto& batch : whole_epoch(skipping, 0)) samples += batch.images.size(0);
  EXPECT_EQ(samples, 60);
}

// Records the steps it is called with and marks the batch, to check order and step numbering.
class StepRecorder : public dmx::BatchAugmenter {
 public:
  dmx::Batch apply(const dmx::Batch& batch, uint64_t step) override {
    steps.push_back(step);
    return {batch.images, batch.labels * 0.5};
  }
  const std::string& name() const override { return name_; }
  std::vector<uint64_t> steps;

 private:
  std::string name_ = "step-recorder";
};

TEST(Loader, BatchAugmentersRunAfterCollationWithGlobalSteps) {
  dmx::test::TempDir dir;
  auto recorder = std::make_shared<StepRecorder>();
  auto chain = std::make_shared<dmx::AugmentChain>(std::vector<std::shared_ptr<dmx::BatchAugmenter>>{recorder});
  Loader loader(make_mixer(dir), random_transforms(), options_with(2), chain);
  const auto batches = whole_epoch(loader, 2, 7);
  EXPECT_EQ(recorder->steps, (std::vector<uint64_t>{2 * 9 + 7, 2 * 9 + 8}));
  EXPECT_FLOAT_EQ(batches[0].labels.sum(1)[0].item<float>(), 0.5f);
}

TEST(Loader, RealFashionMnistFiveShotFlowsIntoBatches) {
  if (!std::filesystem::exists(std::string(dmx::data::kFashionMnistDefaultRoot) + "/train-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  dmx::data::DatasetSpec spec;
  spec.shots = 5;
  auto mixer = std::make_shared<dmx::data::Mixer>(dmx::data::open_dataset(spec), nullptr);
  LoaderOptions options = options_with(2, 16);
  options.channels = 0;  // keep the single gray channel
  Transforms transforms;
  transforms.resize(32).random_crop(32, 32, 4).horizontal_flip().normalize({0.286f}, {0.353f});
  Loader loader(mixer, transforms, options);
  const auto batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 4u);  // 50 images
  EXPECT_EQ(batches[0].images.sizes(), (std::vector<int64_t>{16, 1, 32, 32}));
  EXPECT_EQ(batches[3].labels.sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Loader, RejectsBadOptions) {
  dmx::test::TempDir dir;
  LoaderOptions bad = options_with(2);
  bad.batch_size = 0;
  EXPECT_THROW(Loader(make_mixer(dir), Transforms(), bad), dmx::Error);
  Loader loader(make_mixer(dir), Transforms(), options_with(1));
  EXPECT_THROW(loader.next(), dmx::Error);  // no epoch started
}

}  // namespace
