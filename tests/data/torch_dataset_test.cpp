// TorchDataset through LibTorch's own data API: map(Stack<>()) and make_data_loader, as an existing trainer uses it.
#include <gtest/gtest.h>

#include <torch/data/dataloader.h>
#include <torch/data/samplers/sequential.h>
#include <torch/data/transforms/stack.h>

#include "data_test_files.hpp"
#include "diffmix/data/loader.hpp"
#include "diffmix/data/torch_dataset.hpp"
#include "memory_dataset.hpp"

namespace {

TEST(TorchDataset, WorksWithStackAndMakeDataLoader) {
  dmx::test::TempDir dir;
  {
    dmx::data::SyntheticCacheWriter writer(dir / "cache");
    dmx::data::SyntheticRecord r;
    r.source_class = 1;
    r.target_class = 0;
    r.strength = 0.9;
    writer.add(dmx::test::test_picture(12, 10, 3), r);
  }
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{6, 6, 6});
  dmx::data::MixerOptions mix;
  mix.probability = 0.5;
  auto mixer =
      std::make_shared<dmx::data::Mixer>(real, dmx::data::SyntheticCache::open(dir / "cache", 3), mix);
  dmx::data::Transforms transforms;
  transforms.random_crop(8, 8, 1).horizontal_flip().imagenet_normalize();

  dmx::data::TorchDataset base(mixer, transforms, /*seed=*/4);
  base.set_epoch(2);
  auto dataset = base.map(torch::data::transforms::Stack<>());
  auto loader = torch::data::make_data_loader<torch::data::samplers::SequentialSampler>(
      std::move(dataset), torch::data::DataLoaderOptions(5).workers(2));

  // Same (seed, epoch, index) → the same samples as dmx::data::Loader without shuffling.
  dmx::data::LoaderOptions options;
  options.batch_size = 5;
  options.shuffle = false;
  options.seed = 4;
  options.workers = 0;
  dmx::data::Loader reference(mixer, transforms, options);

  int64_t batches = 0, samples = 0;
  for (auto& batch : *loader) {
    ASSERT_EQ(batch.data.dim(), 4);
    EXPECT_EQ(batch.data.size(1), 3);
    EXPECT_EQ(batch.target.size(1), 3);
    EXPECT_TRUE(batch.target.sum(1).allclose(at::ones_like(batch.target.sum(1))));
    const dmx::Batch expected = reference.make_batch(2, batches);
    EXPECT_TRUE(batch.data.equal(expected.images)) << "batch " << batches;
    EXPECT_TRUE(batch.target.equal(expected.labels)) << "batch " << batches;
    samples += batch.data.size(0);
    ++batches;
  }
  EXPECT_EQ(samples, 18);
  EXPECT_EQ(batches, 4);
}

}  // namespace
